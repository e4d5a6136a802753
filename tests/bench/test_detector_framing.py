"""bench/detector_framing.py on a few rendered people: the ratio it reports is the detector's
raw box over the training box of the true joints, and narrow-margin files are refused."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import detector_framing as df  # noqa: E402

ALL = ("S1", "S5", "S6", "S7", "S8", "S9", "S11")


def _render(path: Path, margin: float) -> Path:
    pytest.importorskip("anny")
    pytest.importorskip("moderngl")
    from movnect.data.anny import RendererUnavailable
    from movnect.data.anny.writer import SynthOptions, synthesize

    try:
        synthesize(path, SynthOptions(rows=16, seed=11, crop_size=256, frames=4, margin=margin))
    except RendererUnavailable as exc:
        pytest.skip(str(exc))
    return path


def test_ratio_is_the_raw_detection_over_the_training_box(tmp_path: Path) -> None:
    out = df.measure(_render(tmp_path / "wide.h5", 0.5), ALL, rows=16, seed=0)
    assert out["measured"] >= 4 and out["measured"] + out["missed"] + out["partial_people"] == 16
    r = out["side_ratio"]
    assert r["p10"] <= r["p25"] <= r["median"] <= r["p75"] <= r["p90"]
    assert 0.7 < r["median"] < 1.5  # MediaPipe's region is about the training framing, not 2x off
    assert out["scale_to_training_framing"] == pytest.approx(1.0 / r["median"], abs=2e-3)


def test_a_file_at_the_training_margin_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="crop-margin 0.5"):
        df.measure(_render(tmp_path / "tight.h5", 0.2), ALL, rows=4, seed=0)
