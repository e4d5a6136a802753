import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from movnect import skeleton
from movnect.codec import Codec, CodecConfig
from movnect.data.dataset import H36MDataset, select_rows
from movnect.data.transforms import AugmentConfig


def test_contract_keys_shapes_and_dtypes(tiny_h5):
    ds = H36MDataset(tiny_h5, Codec())
    assert len(ds) == 32
    s = ds[0]
    expect = {"image": (3, 256, 256), "heatmaps": (17, 32, 32), "locmaps": (51, 32, 32), "joints2d": (17, 2),
              "joints3d": (17, 3), "mask2d": (17,), "has3d": (), "index": (), "action": (), "subject": (), "camera": ()}
    assert {k: tuple(v.shape) for k, v in s.items()} == expect
    assert s["image"].dtype == torch.float32 and s["index"].dtype == torch.int64
    assert float(s["joints3d"][0].abs().sum()) == 0.0  # root-relative


def test_decoding_targets_gives_back_the_joints(tiny_h5):
    codec = Codec()
    ds = H36MDataset(tiny_h5, codec)
    for i in (0, 7, 31):
        s = ds[i]
        maps = torch.cat([s["heatmaps"], s["locmaps"]])[None]
        d = codec.decode(maps)
        inside = ((s["joints2d"] >= 0) & (s["joints2d"] <= 255)).all(-1)
        assert (d.joints2d[0][inside] - s["joints2d"][inside]).abs().max() < 0.5
        assert (d.joints3d[0] - s["joints3d"]).norm(dim=-1).max() < 1.0


def test_codec_input_size_differs_from_stored_crops(tiny_h5):
    ds = H36MDataset(tiny_h5, Codec(CodecConfig(input_size=128)))
    big = H36MDataset(tiny_h5, Codec())
    s, b = ds[3], big[3]
    assert s["image"].shape == (3, 128, 128) and s["heatmaps"].shape == (17, 16, 16)
    torch.testing.assert_close(s["joints2d"], b["joints2d"] * 0.5)


def test_subject_and_frame_step_selection(tiny_h5):
    assert len(select_rows(tiny_h5, ("S9",))) == 16
    assert len(select_rows(tiny_h5, ("S1",), frame_step=10)) == 8
    with pytest.raises(ValueError, match="cannot give every 64th"):
        select_rows(tiny_h5, None, frame_step=64)
    with pytest.raises(ValueError, match="no subject\\(s\\) S11"):
        select_rows(tiny_h5, ("S11",))


def test_augmentation_is_reproducible_per_epoch_and_row(tiny_h5):
    aug = AugmentConfig()
    a = H36MDataset(tiny_h5, Codec(), augment=aug, seed=1)
    b = H36MDataset(tiny_h5, Codec(), augment=aug, seed=1)
    torch.testing.assert_close(a[5]["joints2d"], b[5]["joints2d"])
    a.set_epoch(1)
    assert not torch.allclose(a[5]["joints2d"], b[5]["joints2d"])


def test_augmented_targets_still_decode_to_the_augmented_joints(tiny_h5):
    codec = Codec()
    ds = H36MDataset(tiny_h5, codec, augment=AugmentConfig(rotation_prob=1.0, occlusion_prob=0.0), seed=2)
    for i in range(4):
        s = ds[i]
        d = codec.decode(torch.cat([s["heatmaps"], s["locmaps"]])[None])
        inside = ((s["joints2d"] >= 1) & (s["joints2d"] <= 254)).all(-1)
        assert inside.sum() > 10
        assert (d.joints2d[0][inside] - s["joints2d"][inside]).abs().max() < 0.5
        # bone lengths survive rotation and flips
        raw = ds.raw(i)
        np.testing.assert_allclose(skeleton.bone_lengths(s["joints3d"].double().numpy()),
                                   skeleton.bone_lengths(raw["joints3d_camera"]), rtol=1e-4)


def test_two_workers_match_in_process_loading(tiny_h5):
    ds = H36MDataset(tiny_h5, Codec(), augment=AugmentConfig(), seed=4)
    direct = torch.stack([ds[i]["joints2d"] for i in range(8)])
    loader = DataLoader(ds, batch_size=4, num_workers=2, shuffle=False)
    via = torch.cat([b["joints2d"] for _, b in zip(range(2), loader)])
    torch.testing.assert_close(via, direct)


def test_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="HDF5 dataset not found"):
        H36MDataset(tmp_path / "none.h5", Codec())
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a readable HDF5 file"):
        H36MDataset(junk, Codec())


def test_out_of_frame_joints_keep_3d_but_lose_the_heatmap_term(tiny_h5, tmp_path):
    """`in_frame` 0 (a joint outside the camera image, e.g. in a crop's black border) drops
    the joint's heatmap term and keeps its location-map (3D) term; a teacher confidence < 0.5
    drops both. Checked on the loss itself."""
    import shutil

    import h5py

    from movnect.models import PoseOutput
    from movnect.train.config import LossConfig
    from movnect.train.losses import PoseLoss

    path = tmp_path / "f.h5"
    shutil.copy(tiny_h5, path)
    with h5py.File(path, "r+") as f:
        n = int(f.attrs["rows"])
        in_frame = np.ones((n, 17), np.uint8)
        in_frame[0, [3, 13]] = 0
        conf = np.ones((n, 17), np.float32)
        conf[0, 6] = 0.2
        f["in_frame"], f["confidence"] = in_frame, conf
    codec = Codec(CodecConfig(input_size=64))
    s = H36MDataset(path, codec)[0]
    assert s["mask2d"][[3, 13, 6]].tolist() == [0.0, 0.0, 0.0] and s["mask2d"].sum() == 14
    assert float(s["heatmaps"][3].sum()) > 0.5 and float(s["heatmaps"][13].sum()) > 0.5  # still drawn
    assert float(s["heatmaps"][6].sum()) == 0.0                                           # unlabelled
    batch = {k: v[None] for k, v in s.items()}
    loss = PoseLoss(codec, LossConfig(heatmap=1.0, location=1.0), use_3d=True)
    heat, loc = batch["heatmaps"].clone(), batch["locmaps"].clone()

    def parts(h, l):
        out = loss(PoseOutput(torch.cat([h, l], 1), torch.zeros(1, 51, 8, 8), torch.zeros(1)), batch).parts
        return float(out["heatmap"]), float(out["location"])

    assert parts(heat, loc) == (0.0, 0.0)
    for j, hm_acts, loc_acts in ((3, False, True), (13, False, True), (6, False, False), (0, True, True)):
        h, l = heat.clone(), loc.clone()
        h[0, j] += 0.5                        # a wrong heatmap for joint j
        l[0, [j, 17 + j, 34 + j]] += 1.0      # and wrong X, Y, Z location maps
        hm, lc = parts(h, l)
        assert (hm > 0) == hm_acts and (lc > 0) == loc_acts, (j, hm, lc)


def _widened_copy(src, dst, margin: float):
    """A copy of a prepared file whose crops hold the same people with a wider margin: each
    stored crop shrunk into the centre of a green surround, its box grown to match."""
    import shutil

    import cv2
    import h5py

    from movnect.camera import CropBox
    from movnect.data.transforms import framing_zoom

    shutil.copy(src, dst)
    z = framing_zoom(margin)
    with h5py.File(dst, "r+") as f:
        s = int(f.attrs["crop_size"])
        inner = int(round(s / z))
        lo = (s - inner) // 2
        for row in range(int(f.attrs["rows"])):
            bgr = cv2.imdecode(np.asarray(f["images"][row], np.uint8), cv2.IMREAD_COLOR)
            wide = np.zeros_like(bgr)
            wide[...] = (0, 255, 0)
            wide[lo:lo + inner, lo:lo + inner] = cv2.resize(bgr, (inner, inner), interpolation=cv2.INTER_AREA)
            f["images"][row] = np.frombuffer(cv2.imencode(".jpg", wide, [cv2.IMWRITE_JPEG_QUALITY, 95])[1], np.uint8)
            box = CropBox(*f["crop_box"][row])
            f["crop_box"][row] = CropBox.around(box.center, box.side * s / inner).as_array()
        f.attrs["margin"] = margin
    return z


def test_a_file_stored_with_wider_context_is_reframed_to_the_training_framing(tiny_h5, tmp_path):
    """Crops stored with margin 0.5 give the same samples as the 0.2 crops of the same people:
    raw() zooms in (box and joints as the tight file's), items carry the same 2D, and the images
    agree up to resampling; a zoom-out augmentation shows the stored surround, not black."""
    wide_path = tmp_path / "wide.h5"
    z = _widened_copy(tiny_h5, wide_path, 0.5)
    codec = Codec(CodecConfig(input_size=64))
    tight, wide = H36MDataset(tiny_h5, codec), H36MDataset(wide_path, codec)
    assert tight.zoom == 1.0 and wide.zoom == pytest.approx(z)
    for i in (0, 5):
        rt, rw = tight.raw(i), wide.raw(i)
        np.testing.assert_allclose(rw["box"], rt["box"], rtol=0.02)
        np.testing.assert_allclose(rw["joints2d"], rt["joints2d"], atol=0.02 * rt["image"].shape[0])
        assert np.abs(rw["image"].astype(int) - rt["image"].astype(int)).mean() < 12
        st, sw = tight[i], wide[i]
        np.testing.assert_allclose(sw["joints2d"], st["joints2d"], atol=0.02 * 64)
        assert (sw["image"] - st["image"]).abs().mean() < 0.25   # normalised units
        assert wide.raw(i, context=True)["image"][0, 0].tolist() == pytest.approx([0, 255, 0], abs=8)
    zoom_out = AugmentConfig(scale=0.25,  # never beyond the stored 1.43x context
                             rotation_prob=0.0, translate=0.0, flip_prob=0.0, color_jitter=0.0,
                             occlusion_prob=0.0)
    wa, ta = H36MDataset(wide_path, codec, augment=zoom_out), H36MDataset(tiny_h5, codec, augment=zoom_out)
    corners = [(wa[i]["image"][:, 0, 0], ta[i]["image"][:, 0, 0]) for i in range(len(wa))]
    black = codec.normalize(torch.zeros(1, 3, 1, 1, dtype=torch.uint8))[0, :, 0, 0]
    green = codec.normalize(torch.tensor([0, 255, 0], dtype=torch.uint8).view(1, 3, 1, 1))[0, :, 0, 0]
    out = [(w, t) for w, t in corners if torch.allclose(t, black, atol=1e-4)]   # tight file zoomed out
    assert out and all(torch.allclose(w, green, atol=0.2) for w, _ in out)
