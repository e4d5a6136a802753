"""`movnect crops`: person crops from footage with the BlazePose detector, no labels; the
UnlabelledCrops samples carry no label term; resume; one-line errors on bad input."""
import shutil
from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest
import torch

from movnect.cli import main
from movnect.codec import Codec, CodecConfig
from movnect.data.unlabelled import FORMAT, CropOptions, UnlabelledCrops, crop_inputs, write_crops
from movnect.data.transforms import AugmentConfig
from movnect.train.losses import PoseLoss
from movnect.train.config import LossConfig
from movnect.models import PoseOutput
from tests.movnect.data.test_pseudo_label import _clip

CODEC = Codec(CodecConfig(input_size=64))


def _folder(path: Path, clip: Path, n: int = 3) -> Path:
    path.mkdir()
    cap = cv2.VideoCapture(str(clip))
    for i in range(n):
        ok, bgr = cap.read()
        assert ok
        cv2.imwrite(str(path / f"{i:03d}.png"), bgr)
    cap.release()
    return path


def test_crops_of_a_clip_and_an_image_folder(tmp_path: Path) -> None:
    clip = _clip(tmp_path / "lab.mp4", frames=6)
    folder = _folder(tmp_path / "stills", clip)
    out = tmp_path / "crops.h5"
    s = crop_inputs([clip, folder], out, CropOptions(crop_size=96, max_people=2))
    assert [r.status for r in s.results] == ["cropped", "cropped"]
    assert [r.frames for r in s.results] == [6, 3]
    with h5py.File(out, "r") as f:
        assert f.attrs["format"] == FORMAT and f.attrs["complete"] and int(f.attrs["crop_size"]) == 96
        n = int(f.attrs["rows"])
        assert n == s.rows and 9 <= n <= 18   # Demo_MultiPerson: two people in most frames
        seq, frame, box = f["sequence"][...], f["frame"][...], f["crop_box"][...]
        assert set(seq.tolist()) == {0, 1} and frame.max() <= 5
        assert [x.decode() if isinstance(x, bytes) else x for x in f["names/sequences"][...]] == ["lab.mp4", "stills"]
        # boxes lie on the 272 x 480 frames and are person-sized (a lab person is ~1/2 the height)
        assert (box[:, 2] > 60).all() and (box[:, 2] < 480).all()
        centre = box[:, :2] + box[:, 2:3] / 2
        assert (centre[:, 0] > 0).all() and (centre[:, 0] < 272).all() and (centre[:, 1] < 480).all()
        img = cv2.imdecode(f["images"][0], cv2.IMREAD_COLOR)
        assert img.shape == (96, 96, 3)
    ds = UnlabelledCrops(out, CODEC, AugmentConfig(enabled=True), seed=0)
    item = ds[0]
    assert item["image"].shape == (3, 64, 64)
    assert item["mask2d"].shape == (17,) and float(item["mask2d"].abs().sum()) == 0.0
    assert float(item["has3d"]) == 0.0 and int(item["index"]) == -1
    assert float(item["heatmaps"].abs().sum()) == 0.0 and float(item["locmaps"].abs().sum()) == 0.0


def test_supervised_terms_vanish_on_unlabelled_rows(tmp_path: Path) -> None:
    crops = np.random.default_rng(0).integers(0, 255, (4, 64, 64, 3), dtype=np.uint8)
    ds = UnlabelledCrops(write_crops(tmp_path / "c.h5", crops), CODEC)
    batch = {k: torch.stack([ds[i][k] for i in range(4)]) for k in ds[0]}
    maps = torch.randn(4, 4 * 17, 8, 8, requires_grad=True)
    bones = torch.randn(4, 3 * 17, 8, 8, requires_grad=True)
    terms = PoseLoss(CODEC, LossConfig(heatmap=1.0, location=1.0, bones=1.0), use_3d=True)(PoseOutput(maps, bones, torch.zeros(4, 8, 4, 4)), batch)
    assert set(terms.parts) == {"heatmap", "location", "bones", "total"}
    terms.total.backward()
    assert float(terms.total.detach()) == 0.0 and float(maps.grad.abs().sum()) == 0.0 and float(bones.grad.abs().sum()) == 0.0


def test_resume_reuses_finished_inputs(tmp_path: Path) -> None:
    a, b = _clip(tmp_path / "a.mp4", frames=3), _clip(tmp_path / "b.mp4", frames=3)
    out = tmp_path / "crops.h5"

    def stop_after_first(result, done, total):
        if done == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        crop_inputs([a, b], out, CropOptions(crop_size=64), stop_after_first)
    assert not out.exists() and len(list((tmp_path / "crops.h5.parts").glob("*.h5"))) == 1
    with pytest.raises(ValueError, match="other options"):
        crop_inputs([a, b], out, CropOptions(crop_size=96))
    s = crop_inputs([a, b], out, CropOptions(crop_size=64))
    assert [r.status for r in s.results] == ["reused", "cropped"] and s.rows >= 4
    assert not (tmp_path / "crops.h5.parts").exists()


def test_bad_inputs_are_one_line_errors(tmp_path: Path, capsys) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "000.jpg").write_bytes(b"not a jpeg")
    video = tmp_path / "video.mp4"
    video.write_bytes(b"\x00" * 64)
    black = _clip(tmp_path / "black.mp4", frames=3, black=True)
    cases = [([empty], "no images"), ([broken], "unreadable image"), ([video], "unreadable video"),
             ([black], "no person found"), ([tmp_path / "missing"], "input not found")]
    for inputs, message in cases:
        code = main(["crops", "--input", *map(str, inputs), "--out", str(tmp_path / "x.h5"), "--no-progress"])
        err = capsys.readouterr().err
        assert code == 2 and message in err and err.count("\n") == 1, err
        shutil.rmtree(tmp_path / "x.h5.parts", ignore_errors=True)
    with pytest.raises(ValueError, match="not a complete `movnect crops` file"):
        UnlabelledCrops(_h5(tmp_path / "other.h5"), CODEC)
    with pytest.raises(ValueError, match="max_people"):
        CropOptions(max_people=0)


def _h5(path: Path) -> Path:
    with h5py.File(path, "w") as f:
        f["x"] = np.zeros(1)
    return path


def test_cli_writes_the_file(tmp_path: Path, capsys) -> None:
    clip = _clip(tmp_path / "lab.mp4", frames=2)
    assert main(["crops", "--input", str(clip), "--out", str(tmp_path / "c.h5"), "--crop-size", "64",
                 "--no-progress"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith(f"wrote {tmp_path / 'c.h5'}: ") and "from 2 frames of 1 inputs" in line
