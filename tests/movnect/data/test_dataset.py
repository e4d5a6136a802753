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
