"""The one model-spec resolver: what "default" means with and without `fast`, runtimes registered
by other packages, one-line errors, and no import of mobile_export from the core."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import movnect.estimator as est
from movnect.codec import Codec, CodecConfig


class _Fake:
    def __init__(self, path: Path) -> None:
        self.path, self.name, self.codec = path, path.name, Codec(CodecConfig())

    def __call__(self, crops: np.ndarray) -> est.Prediction:
        raise AssertionError("not run in these tests")


@pytest.fixture
def embedded(tmp_path, monkeypatch):
    """A fake embedded default model (checkpoint + .tflite sibling) and a clean runtime table."""
    pt = tmp_path / "default_student.pt"
    pt.write_bytes(b"x")
    monkeypatch.setattr(est, "DEFAULT_MODEL_FILE", pt)
    monkeypatch.setattr(est, "_RUNTIMES", {})
    return pt


def test_default_is_the_checkpoint_unless_fast_and_a_tflite_runtime_is_usable(embedded):
    tflite = embedded.with_suffix(".tflite")
    assert est.resolve_model_spec("default") == embedded
    assert est.resolve_model_spec("default", fast=True) == embedded  # no runtime registered
    est.register_runtime(".tflite", est.Runtime("fake", _Fake, lambda: False))
    assert est.resolve_model_spec("default", fast=True) == embedded  # registered, interpreter absent
    est.register_runtime(".tflite", est.Runtime("fake", _Fake, lambda: True))
    assert est.resolve_model_spec("default", fast=True) == embedded  # no .tflite embedded
    tflite.write_bytes(b"x")
    assert est.resolve_model_spec("default", fast=True) == tflite
    assert est.resolve_model_spec("default") == embedded  # accuracy commands keep the checkpoint
    loaded = est.load_estimator("default", fast=True)
    assert isinstance(loaded, _Fake) and loaded.path == tflite
    assert est.resolve_model_spec(tflite) == tflite  # a path is itself


def test_missing_default_and_unregistered_suffix_are_one_line_errors(embedded, tmp_path, monkeypatch):
    with pytest.raises(ValueError, match=r"m\.onnx: no runtime for \.onnx models is registered"):
        est.load_estimator(tmp_path / "m.onnx")
    monkeypatch.setattr(est, "DEFAULT_MODEL_FILE", tmp_path / "absent.pt")
    with pytest.raises(FileNotFoundError, match="no default model is embedded") as info:
        est.resolve_model_spec("default", fast=True)
    assert "\n" not in str(info.value)


def test_register_runtime_checks_the_suffix(embedded):
    runtime = est.Runtime("fake", _Fake, lambda: True)
    for bad in ("onnx", ".ONNX"):
        with pytest.raises(ValueError, match="lower case and start with '.'"):
            est.register_runtime(bad, runtime)
    with pytest.raises(ValueError, match="PyTorch checkpoints"):
        est.register_runtime(".pt", runtime)
    est.register_runtime(".onnx", runtime)
    assert est.registered_runtimes() == {".onnx": runtime}


def test_mobile_export_registers_its_runtimes_and_the_core_does_not_import_it():
    code = ("import sys, movnect.estimator as e; assert 'mobile_export' not in sys.modules, 'core imported mobile_export';"
            "assert e.registered_runtimes() == {};"
            "import mobile_export.runtime; print(sorted(e.registered_runtimes()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['.onnx', '.tflite']"


def test_check_crops_names_the_shape():
    with pytest.raises(ValueError, match=r"expected crops \(B, 8, 8, 3\) RGB, got \(8, 8, 3\)"):
        est.check_crops(np.zeros((8, 8, 3), np.uint8), 8)


class _MapsOf:
    """A MapsEstimator whose maps are a fixed random function of the crop (no network): the flip
    test's algebra is checked against it without any model."""

    has_maps = True

    def __init__(self, codec: Codec) -> None:
        import torch

        self.codec, self.name = codec, "maps-of"
        g = torch.Generator().manual_seed(0)
        s, h = codec.config.input_size, codec.config.input_size // codec.config.stride
        self.weights = torch.randn(4 * codec.num_joints, 3 * s * s, generator=g) / s
        self.h = h
        self.calls: list[int] = []

    def maps(self, crops: np.ndarray):
        import torch

        self.calls.append(len(crops))
        x = torch.from_numpy(np.ascontiguousarray(crops, dtype=np.float32)).reshape(len(crops), -1)
        return (x @ self.weights.T)[:, :, None, None].expand(-1, -1, self.h, self.h) * torch.linspace(0.5, 1.5, self.h)

    def __call__(self, crops: np.ndarray) -> est.Prediction:
        return est.decode_maps(self.codec, self.maps(crops))


def test_flip_test_is_the_mean_of_the_maps_and_their_mirror_image_mapped_back():
    codec = Codec(CodecConfig(input_size=32))
    inner = _MapsOf(codec)
    crops = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    flipped = est.flip_test(inner)
    got = flipped.maps(crops)
    assert inner.calls == [6]  # crops and mirrors in one batch
    want = 0.5 * (inner.maps(crops) + codec.flip_maps(inner.maps(crops[:, :, ::-1].copy())))
    # float32 round-off only: one batch of 6 and two of 3 sum in other orders (maps ~20-80)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-4, atol=1e-3)
    # flip-test maps of the mirror image are the mirrored flip-test maps (flip_maps is an involution)
    # (float32 sums of the mirrored input run in another order: ~1e-5 relative)
    np.testing.assert_allclose(flipped.maps(crops[:, :, ::-1]).numpy(), codec.flip_maps(got).numpy(), rtol=1e-4, atol=1e-3)
    pred = flipped(crops)
    ref = codec.decode(want)
    np.testing.assert_allclose(pred.joints3d, ref.joints3d.numpy(), rtol=1e-4, atol=1e-2)  # the fake gives ~1e4 mm
    assert flipped.name == "maps-of (flip test)" and flipped.codec is codec


def test_flip_test_refuses_estimators_without_maps():
    fake = _Fake(Path("m.tflite"))
    with pytest.raises(ValueError, match=r"m\.tflite: the flip test averages the network's maps") as info:
        est.flip_test(fake)
    assert "\n" not in str(info.value)
