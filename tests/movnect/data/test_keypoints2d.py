"""2D-only datasets: COCO (on the synthetic COCO-format set) and MPII (a generated JSON)."""
import json
import shutil

import numpy as np
import pytest
import torch
from torch.utils.data import ConcatDataset, DataLoader

from movnect.codec import Codec, CodecConfig
from movnect.data.dataset import H36MDataset
from movnect.data.keypoints2d import CocoKeypoints, MpiiKeypoints, load_coco, load_mpii
from movnect.data.transforms import AugmentConfig

ANN = "annotations/person_keypoints.json"
# COCO keypoint -> MPII joint index, for the MPII joints COCO has.
COCO_TO_MPII = {16: 0, 14: 1, 12: 2, 11: 3, 13: 4, 15: 5, 10: 10, 8: 11, 6: 12, 5: 13, 7: 14, 9: 15}


def coco_doc(root):
    return json.loads((root / ANN).read_text())


def mpii_from_coco(doc):
    """The same people in MPII's common JSON form: 1-based pixels, centre 15 * scale px above the
    box centre (the loader undoes both); pelvis, thorax derived; neck and head top unlabelled."""
    files = {im["id"]: im["file_name"] for im in doc["images"]}
    out = []
    for a in doc["annotations"]:
        kp = np.array(a["keypoints"]).reshape(17, 3)
        joints, vis = np.full((16, 2), -1.0), np.zeros(16)
        for c, m in COCO_TO_MPII.items():
            if kp[c, 2] > 0:
                joints[m], vis[m] = kp[c, :2] + 1, 1
        for m, (a_, b_) in ((6, (11, 12)), (7, (5, 6))):
            if kp[a_, 2] > 0 and kp[b_, 2] > 0:
                joints[m], vis[m] = (kp[a_, :2] + kp[b_, :2]) / 2 + 1, 1
        x, y, w, h = a["bbox"]
        scale = max(w, h) / 200.0
        out.append({"image": files[a["image_id"]], "joints": joints.tolist(), "joints_vis": vis.tolist(),
                    "center": [x + w / 2 + 1, y + h / 2 + 1 - 15 * scale], "scale": scale})
    return out


def test_coco_people_are_mapped_onto_the_17_joints(tiny_coco):
    doc = coco_doc(tiny_coco)
    people, skipped = load_coco(tiny_coco / ANN)
    assert len(people) == len(doc["annotations"]) == 6 and skipped == {"crowd": 0, "few_joints": 0, "bad_box": 0}
    for p, a in zip(people, doc["annotations"]):
        kp = np.array(a["keypoints"]).reshape(17, 3)
        np.testing.assert_allclose(p.joints[13], kp[9, :2], atol=1e-4)   # left wrist
        np.testing.assert_allclose(p.joints[3], kp[16, :2], atol=1e-4)   # right foot = right ankle
        np.testing.assert_allclose(p.joints[0], (kp[11, :2] + kp[12, :2]) / 2, atol=1e-4)  # pelvis
        np.testing.assert_array_equal(np.flatnonzero(p.mask == 0), [7, 9, 10])  # spine, neck, head
        assert p.size == max(a["bbox"][2:])


def test_crowd_few_joints_and_bad_boxes_are_skipped(tiny_coco, tmp_path):
    doc = coco_doc(tiny_coco)
    extra = json.loads(json.dumps(doc["annotations"][:3]))
    extra[0]["iscrowd"] = 1
    kp = np.array(extra[1]["keypoints"]).reshape(17, 3)
    kp[[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], 2] = 0  # knees and ankles left: 4 joints
    extra[1]["keypoints"] = kp.reshape(-1).tolist()
    extra[2]["bbox"] = [10, 10, 0, 50]
    doc["annotations"] += extra
    path = tmp_path / "k.json"
    path.write_text(json.dumps(doc))
    people, skipped = load_coco(path)
    assert len(people) == 7 and skipped == {"crowd": 1, "few_joints": 0, "bad_box": 1}
    people, skipped = load_coco(path, min_joints=5)
    assert len(people) == 6 and skipped["few_joints"] == 1


def test_sample_contract_has3d_zero_and_minus_one_metadata(tiny_coco):
    ds = CocoKeypoints(tiny_coco / ANN, tiny_coco / "images", Codec())
    s = ds[0]
    expect = {"image": (3, 256, 256), "heatmaps": (17, 32, 32), "locmaps": (51, 32, 32), "joints2d": (17, 2),
              "joints3d": (17, 3), "mask2d": (17,), "has3d": (), "index": (), "action": (), "subject": (), "camera": ()}
    assert {k: tuple(v.shape) for k, v in s.items()} == expect
    assert s["image"].dtype == torch.float32 and s["index"].dtype == torch.int64
    assert float(s["has3d"]) == 0.0 and int(s["index"]) == int(s["action"]) == int(s["subject"]) == int(s["camera"]) == -1
    assert float(s["locmaps"].abs().sum()) == 0.0 and float(s["joints3d"].abs().sum()) == 0.0
    assert float(s["heatmaps"][[7, 9, 10]].abs().sum()) == 0.0 and float(s["heatmaps"][13].max()) > 0.5


def test_crop_geometry_and_decoding_gives_back_the_joints(tiny_coco):
    codec = Codec(CodecConfig(input_size=128))
    ds = CocoKeypoints(tiny_coco / ANN, tiny_coco / "images", codec, margin=0.25)
    doc = coco_doc(tiny_coco)
    for i in range(len(ds)):
        s, p = ds[i], ds.people[i]
        x, y, w, h = doc["annotations"][i]["bbox"]
        side = 1.5 * max(w, h)
        x0, y0 = x + w / 2 - side / 2, y + h / 2 - side / 2
        m = p.mask > 0
        np.testing.assert_allclose(s["joints2d"].numpy()[m], (p.joints[m] - [x0, y0]) * 128 / side, atol=1e-3)
        d = codec.decode(torch.cat([s["heatmaps"], s["locmaps"]])[None])
        assert (d.joints2d[0][m] - s["joints2d"][m]).abs().max() < 0.5
        assert torch.all(s["joints2d"][~m] == 0)
    raw = ds.raw(0)
    assert raw["image"].shape == (128, 128, 3) and raw["image"].dtype == np.uint8


def test_mpii_gives_the_same_crops_and_joints_as_coco_for_the_same_people(tiny_coco, tmp_path):
    path = tmp_path / "mpii.json"
    path.write_text(json.dumps(mpii_from_coco(coco_doc(tiny_coco))))
    coco = CocoKeypoints(tiny_coco / ANN, tiny_coco / "images", Codec(CodecConfig(input_size=64)))
    mpii = MpiiKeypoints(path, tiny_coco / "images", Codec(CodecConfig(input_size=64)))
    assert len(mpii) == len(coco) == 6 and mpii.skipped == {"few_joints": 0, "bad_box": 0}
    for i in range(len(mpii)):
        a, b = coco[i], mpii[i]
        torch.testing.assert_close(a["image"], b["image"])
        both = (a["mask2d"] > 0) & (b["mask2d"] > 0)
        assert both.sum() >= 13  # 12 limbs + pelvis (+ thorax in MPII)
        torch.testing.assert_close(a["joints2d"][both], b["joints2d"][both], atol=2e-3, rtol=0)
        np.testing.assert_array_equal(np.flatnonzero(b["mask2d"].numpy() == 0), [7, 9, 10])  # head top/neck unset


def test_mpii_hand_made_entry_and_min_joints(tmp_path):
    joints = np.arange(32, dtype=float).reshape(16, 2) + 100
    vis = np.ones(16)
    vis[[9, 10]] = 0  # head top and right wrist unlabelled
    entry = {"image": "a.jpg", "joints": joints.tolist(), "joints_vis": vis.tolist(), "center": [120, 110], "scale": 0.5}
    few = dict(entry, joints_vis=[1, 1, 1] + [0] * 13)
    path = tmp_path / "m.json"
    path.write_text(json.dumps([entry, few, dict(entry, scale=0)]))
    people, skipped = load_mpii(path)
    assert len(people) == 1 and skipped == {"few_joints": 1, "bad_box": 1}
    p = people[0]
    np.testing.assert_allclose(p.joints[10], [0, 0])              # head <- head top: unlabelled
    np.testing.assert_allclose(p.joints[9], joints[8] - 1)        # neck base <- upper neck, 0-based
    np.testing.assert_allclose(p.joints[16], [0, 0])
    np.testing.assert_allclose(p.joints[13], joints[15] - 1)
    assert p.mask[16] == 0 and p.mask[13] == 1 and p.size == 100.0 and p.center == (119.0, 109.0 + 7.5)
    zero_based, _ = load_mpii(path, one_based=False)
    np.testing.assert_allclose(zero_based[0].joints[13], joints[15])
    assert zero_based[0].center == (120.0, 110.0 + 7.5)


def test_flip_swaps_masks_and_augmentation_is_reproducible(tiny_coco, tmp_path):
    entries = mpii_from_coco(coco_doc(tiny_coco))
    entries[0]["joints_vis"][10] = 0  # right wrist unlabelled
    path = tmp_path / "mpii.json"
    path.write_text(json.dumps(entries))
    flip_only = AugmentConfig(scale=0.0, translate=0.0, rotation_prob=0.0, flip_prob=1.0, color_jitter=0.0,
                              occlusion_prob=0.0)
    plain = MpiiKeypoints(path, tiny_coco / "images", Codec())
    flipped = MpiiKeypoints(path, tiny_coco / "images", Codec(), augment=flip_only)
    a, b = plain[0], flipped[0]
    assert a["mask2d"][16] == 0 and b["mask2d"][13] == 0 and b["mask2d"][16] == 1 and float(b["heatmaps"][13].sum()) == 0
    np.testing.assert_allclose(b["joints2d"][13 + 3].numpy(), [255 - a["joints2d"][13][0], a["joints2d"][13][1]], atol=1e-4)
    aug = MpiiKeypoints(path, tiny_coco / "images", Codec(), augment=AugmentConfig(), seed=3)
    first = aug[2]["joints2d"]
    torch.testing.assert_close(aug[2]["joints2d"], first)
    aug.set_epoch(1)
    assert not torch.allclose(aug[2]["joints2d"], first)


def test_mixes_with_h36m_samples_in_one_batch(tiny_coco, tiny_h5):
    codec = Codec()
    mixed = ConcatDataset([H36MDataset(tiny_h5, codec), CocoKeypoints(tiny_coco / ANN, tiny_coco / "images", codec)])
    batch = next(iter(DataLoader(mixed, batch_size=4, sampler=[0, 33, 1, 34])))
    assert batch["has3d"].tolist() == [1.0, 0.0, 1.0, 0.0] and batch["index"].tolist()[1::2] == [-1, -1]
    assert batch["image"].shape == (4, 3, 256, 256) and batch["locmaps"].shape == (4, 51, 32, 32)


def test_errors_name_the_file(tiny_coco, tmp_path):
    with pytest.raises(FileNotFoundError, match="COCO annotation file not found: .*none.json"):
        CocoKeypoints(tmp_path / "none.json", tiny_coco / "images", Codec())
    bad = tmp_path / "bad.json"
    bad.write_text('{"images": [')
    with pytest.raises(ValueError, match="COCO annotation file .*bad.json is not valid JSON") as exc:
        load_coco(bad)
    assert "\n" not in str(exc.value)
    bad.write_text("[1, 2]")
    with pytest.raises(ValueError, match="bad.json is not a COCO keypoint file"):
        load_coco(bad)
    with pytest.raises(ValueError, match="dict.json is not an MPII JSON file"):
        load_mpii(_write(tmp_path / "dict.json", {"a": 1}))
    with pytest.raises(ValueError, match="entry 0 needs 'image'"):
        load_mpii(_write(tmp_path / "m.json", [{"image": "a.jpg", "joints": [[1, 2]]}]))
    doc = coco_doc(tiny_coco)
    doc["annotations"][0]["keypoints"] = [1, 2, 3]
    with pytest.raises(ValueError, match="annotation 1 needs"):
        load_coco(_write(tmp_path / "short.json", doc))
    with pytest.raises(FileNotFoundError, match="COCO image folder not found"):
        CocoKeypoints(tiny_coco / ANN, tmp_path / "noimages", Codec())
    images = tmp_path / "images"
    shutil.copytree(tiny_coco / "images", images)
    (images / "000000000001.jpg").unlink()
    (images / "000000000002.jpg").write_bytes(b"not a jpeg")
    ds = CocoKeypoints(tiny_coco / ANN, images, Codec())
    with pytest.raises(FileNotFoundError, match="COCO image file not found: .*000000000001.jpg"):
        ds[0]
    with pytest.raises(ValueError, match="COCO image file .*000000000002.jpg cannot be decoded"):
        ds[2]


def _write(path, obj):
    path.write_text(json.dumps(obj))
    return path

