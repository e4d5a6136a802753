"""Mobile export of MoVNect models (docs/export.md).

  wrapper    the exported module: fixed input, normalisation baked in, optional in-graph decoding
  export     one export: checkpoint -> format file + embedded metadata + sidecar JSON (`movnect export`)
  tflite     litert-torch conversion, ai-edge-quantizer fp16 / int8, TFLite metadata, runner
  onnx       torch.onnx (dynamo, opset 18) conversion, metadata_props, ONNX Runtime runner
  coreml     coremltools mlprogram conversion, int8 weight compression, spec reading
  mil_check  executes a saved CoreML program on Linux for numeric checks
  metadata   the self-description written into and beside every export
  verify     parity against PyTorch with per-precision thresholds
  runtime    load_exported: exported files as PoseEstimators (movnect predict / demo)
  frames     sample crops for verification and calibration
  toolchain  imports of the optional export packages with install hints
"""
