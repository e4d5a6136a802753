"""JSON lines: one valid JSON object per line, flushed per line, NaN as null, the frame schema."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest

from movnect.camera import CropBox
from postprocess.jsonl import JsonlWriter, frame_record, to_jsonable
from postprocess.skeleton_fit import SkeletonFitter
from tests.postprocess.synthetic import CAMERA, SKELETON, make_sequence


def test_lines_are_flushed_valid_json_with_nan_as_null(tmp_path):
    path = tmp_path / "out.jsonl"
    w = JsonlWriter(path, decimals=2)
    w.write({"a": np.array([1.234567, np.nan]), "b": np.float32(np.inf), "c": np.int64(3), "d": np.bool_(True)})
    lines = path.read_text().splitlines()                 # visible before close
    assert json.loads(lines[0]) == {"a": [1.23, None], "b": None, "c": 3, "d": True}
    w.write({"frame": 1})
    w.close()
    assert len(path.read_text().splitlines()) == 2 and w.lines == 2
    with pytest.raises(ValueError, match="closed"):
        w.write({"x": 1})


def test_frame_record_schema():
    seq = make_sequence(2, seed=13)
    res = SkeletonFitter(SKELETON, CAMERA).fit(seq["k"][0], seq["x"][0], None, 0.0)
    buf = io.StringIO()
    with JsonlWriter(buf) as w:
        w.write(frame_record(0, 0.0, res, seq["k"][0], np.ones(17), CropBox(1.0, 2.0, 300.0)))
        w.write(frame_record(1, 0.04, None))
    first, second = (json.loads(line) for line in buf.getvalue().splitlines())
    assert np.array(first["joints3d_mm"]).shape == (17, 3) and np.array(first["local_quaternions_wxyz"]).shape == (17, 4)
    assert first["box"] == [1.0, 2.0, 300.0] and first["held"] is False and len(first["root_mm"]) == 3
    np.testing.assert_allclose(first["joints3d_mm"], res.joints, atol=1e-3)
    assert second == {"frame": 1, "t": 0.04, "held": True, "joints3d_mm": None}


def test_errors():
    with pytest.raises(ValueError, match="path or a text stream"):
        JsonlWriter(42)
    with pytest.raises(ValueError, match="dict"):
        JsonlWriter(io.StringIO()).write([1, 2])
    with pytest.raises(ValueError, match="object"):
        to_jsonable(object())
