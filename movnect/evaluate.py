"""Human3.6M evaluation: protocol row selection, model predictions, scores, reports.

Protocol (docs/training.md, Evaluation): test subjects S9 and S11, every 64th video
frame (rows whose `frame` is a multiple of `frame_step`), all cameras, the 17 joints of
movnect.skeleton; metrics from movnect.metrics on root-relative poses:
  MPJPE (root subtracted), PA-MPJPE (similarity Procrustes, no reflection), N-MPJPE (optimal
  uniform scale), 3DPCK @ 150 mm and AUC over 0..150 mm (all 17 joints).
`overall` averages over all frames; `action_mean` averages the 15 per-action means (the
"Avg" column of most papers' tables). Both are reported, named.

Two sources of predictions: a model run on the file's stored crops, or an .npz made elsewhere
with `index` (N,) HDF5 row numbers and `joints3d` (N, 17, 3) mm camera frame, which must cover
exactly the protocol's rows, be finite and within MAX_ABS_MM. A model is any PoseEstimator
(movnect.estimator: a .pt checkpoint, an exported .onnx / .tflite once mobile_export.runtime is
imported, "default"), run through the one inference path: raw uint8 crops in, decoded joints
out; the flip test is the estimator path's (movnect.estimator.flip_test), identical for every
model form that gives maps. Model runs on the stored crops are also scored in 2D (`joints2d_px`:
mean joint distance in pixels of the model's S x S input crop, all 17 joints).

`max_rows` caps the protocol's rows at that many, evenly spread over them (a quick, deterministic
subset; the report says so and `papers.comparable` is then false).

Crops (movnect.eval_crops): the stored ground-truth crops by default, or boxes from a file or a
detector cut from the release's videos; the report's protocol names the source.

Known damaged takes (movnect.data.h36m_release.damaged_takes: S9 Greeting, SittingDown 1,
Waiting 1; S11 Directions camera 54138969) are left out of the protocol's rows unless
`keep_damaged`; the report's protocol names the variant and how many rows it concerned.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import json

import numpy as np

from movnect import atomic, metrics, skeleton
from movnect.codec import Codec
from movnect.estimator import PoseEstimator, Prediction, load_estimator, flip_test as with_flip_test


MAX_ABS_MM = 1e5  # |coordinate| sanity limit for predictions: 100 m from the camera


@dataclass(frozen=True)
class Protocol:
    subjects: tuple[str, ...] = ("S9", "S11")
    frame_step: int = 64
    flip_test: bool = False
    keep_damaged: bool = False    # score the known damaged takes too (left out by default)
    max_rows: int | None = None   # at most this many rows, evenly spread (None: all)

    def __post_init__(self) -> None:
        if self.frame_step < 1 or not self.subjects:
            raise ValueError(f"protocol needs subjects and frame_step >= 1, got {self}")
        if self.max_rows is not None and self.max_rows < 1:
            raise ValueError(f"max_rows must be >= 1 (or None for all rows), got {self.max_rows}")


@dataclass
class GroundTruth:
    rows: np.ndarray        # (N,) HDF5 row numbers, increasing
    joints3d: np.ndarray    # (N, 17, 3) mm camera frame
    action: np.ndarray      # (N,) index into action_names
    action_names: list[str]
    cameras: list[str]
    file_frame_step: int
    damaged: dict[str, Any] | None = None   # the damaged-take variant (see damaged_description)
    joints2d: np.ndarray | None = None      # (N, 17, 2) stored-crop px (None: the file has no 2D)
    crop_size: int = 0                      # side of the stored crops, px
    selected: int = 0                       # rows the protocol selected before max_rows


def _names(f: Any, key: str) -> list[str]:
    return [x.decode() if isinstance(x, bytes) else str(x) for x in f[f"names/{key}"][...]]


def load_ground_truth(path: str | Path, protocol: Protocol) -> GroundTruth:
    """Rows of a prepare-h36m file selected by the protocol (movnect.data.dataset.select_rows:
    the subjects' rows whose video frame is a multiple of frame_step), with their 3D joints."""
    from movnect.data.dataset import select_rows
    from movnect.data.h36m import open_h36m

    with open_h36m(path) as f:
        if "joints3d" not in f:
            raise ValueError(f"{path} has no 3D labels (no 'joints3d' dataset): eval needs a file with 3D joints")
    rows = select_rows(path, tuple(protocol.subjects), protocol.frame_step)
    with open_h36m(path) as f:
        bad = damaged_mask(f, rows)
        damaged = {"variant": "kept" if protocol.keep_damaged else "excluded",
                   "rows": int(bad.sum()) if bad is not None else None,
                   "file": json.loads(f.attrs["damaged"])["variant"] if "damaged" in f.attrs else "unknown"}
    if bad is not None and not protocol.keep_damaged:
        rows = rows[~bad]
    if len(rows) == 0:
        raise ValueError(f"{path}: no rows of {','.join(protocol.subjects)} with frame % {protocol.frame_step} == 0"
                         + (" outside the known damaged takes (--keep-damaged keeps them)" if damaged["rows"] else ""))
    selected = len(rows)
    if protocol.max_rows is not None and len(rows) > protocol.max_rows:
        rows = rows[np.unique(np.linspace(0, len(rows) - 1, protocol.max_rows).round().astype(np.int64))]
    with open_h36m(path) as f:
        joints = f["joints3d"][...][rows].astype(np.float64)
        if not np.isfinite(joints).all():
            raise ValueError(f"{path}: 3D labels of the selected rows are not all finite (no 3D ground truth?)")
        cams = sorted(set(f["camera"][...][rows].tolist()))
        camera_names = _names(f, "cameras")
        crop_size = int(f.attrs.get("crop_size", 0))
        j2 = None
        if "joints2d" in f and "crop_box" in f and crop_size:
            box = f["crop_box"][...][rows].astype(np.float64)  # x0, y0, side (image px)
            # image px -> stored-crop px, as movnect.camera.image_to_crop row by row
            j2 = (f["joints2d"][...][rows] - box[:, None, :2]) * (crop_size / box[:, None, 2:3])
        return GroundTruth(rows, joints, f["action"][...][rows].astype(np.int64), _names(f, "actions"),
                           [camera_names[c] for c in cams], int(f.attrs.get("frame_step", 1)), damaged,
                           j2, crop_size, selected)


def damaged_mask(f: Any, rows: np.ndarray) -> np.ndarray | None:
    """(len(rows),) bool: rows of known damaged takes (by names/sequences and camera); None for a
    file without the sequence columns (then nothing can be said)."""
    from movnect.data.h36m_release import damaged_take

    if "sequence" not in f or "names/sequences" not in f or "camera" not in f:
        return None
    seqs, cams = _names(f, "sequences"), _names(f, "cameras")
    seq, cam = f["sequence"][...][rows], f["camera"][...][rows]
    bad = np.zeros(len(rows), dtype=bool)
    for q, c in {(int(a), int(b)) for a, b in zip(seq, cam)}:
        subject, _, stem = seqs[q].partition("/")
        if damaged_take(subject, stem, cams[c]) is not None:
            bad |= (seq == q) & (cam == c)
    return bad


def damaged_description(d: dict[str, Any] | None) -> str:
    """One line naming the damaged-take variant of a score."""
    from movnect.data.h36m_release import damaged_takes

    names = "; ".join(t.label for t in damaged_takes())
    if d is None:
        return f"damaged takes ({names}): unknown"
    if d["rows"] is None:
        return f"damaged takes ({names}): not identifiable in this file (no sequence names)"
    if d["variant"] == "kept":
        return f"damaged takes ({names}): kept (--keep-damaged), {d['rows']} of the scored rows"
    where = ("the file was prepared without them" if d["file"] == "excluded" else f"{d['rows']} rows left out here")
    return f"damaged takes ({names}): excluded ({where})"


class StoredCrops:
    """The stored crops of `rows` as (S, S, 3) uint8 RGB at the model's input side S
    (movnect.data.dataset.fit_crop: what the training Dataset feeds the same model); a
    torch Dataset (DataLoader workers read in parallel)."""

    def __init__(self, path: str | Path, rows: np.ndarray, codec: Codec) -> None:
        from movnect.data.dataset import H36MDataset

        self.data = H36MDataset(path, codec, rows=rows)  # raw(): the JPEG decoded as for training
        self.size = codec.config.input_size

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> np.ndarray:
        from movnect.data.dataset import fit_crop

        return np.ascontiguousarray(fit_crop(self.data.raw(i)["image"], self.size))

    def close(self) -> None:
        self.data.close()


def predict_rows(estimator: PoseEstimator, path: str | Path, rows: np.ndarray, batch_size: int = 32,
                 workers: int = 0, progress: Callable[[int], None] | None = None) -> Prediction:
    """Predictions of `estimator` on the stored crops of `rows`, in row order: joints2d (N, J, 2)
    px of the model's S x S input crop, confidence (N, J), joints3d (N, J, 3) root-relative mm.

    The crops are resized to the estimator's input side as the training Dataset does
    (`StoredCrops`); the flip test, if wanted, is part of `estimator` (movnect.estimator.flip_test).
    `progress(n)` is called after each batch with the number of rows it did.
    """
    from torch.utils.data import DataLoader

    crops = StoredCrops(path, rows, estimator.codec)
    loader = DataLoader(crops, batch_size=batch_size, shuffle=False, num_workers=workers)  # type: ignore[arg-type]
    out: list[Prediction] = []
    try:
        for batch in loader:
            out.append(estimator(batch.numpy()))
            if progress is not None:
                progress(len(batch))
    finally:
        crops.close()
    if not out:
        j = estimator.codec.num_joints
        return Prediction(np.zeros((0, j, 2), np.float32), np.zeros((0, j), np.float32), np.zeros((0, j, 3), np.float32))
    return Prediction(*(np.concatenate([getattr(p, k) for p in out]) for k in ("joints2d", "confidence", "joints3d")))


def joints2d_error(pred: np.ndarray, gt: GroundTruth, input_size: int) -> float | None:
    """Mean 2D joint distance in px of the model's input crop; pred (N, J, 2) px of that crop.
    None when the file has no 2D labels. The ground truth (stored-crop px) is scaled by
    input_size / crop_size, as the training Dataset scales its 2D targets."""
    if gt.joints2d is None:
        return None
    ref = gt.joints2d * (input_size / gt.crop_size)
    return float(np.linalg.norm(pred.astype(np.float64) - ref, axis=-1).mean())


def read_predictions(path: str | Path, gt: GroundTruth) -> np.ndarray:
    """Predictions (N, 17, 3) from an .npz, ordered like gt.rows; one-line errors otherwise."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"predictions not found: {p}")
    try:
        data = np.load(p)
        keys = set(data.files)
    except Exception as exc:  # not an npz at all
        raise ValueError(f"{p} is not a readable .npz ({type(exc).__name__}: {exc})") from None
    missing_keys = [k for k in ("index", "joints3d") if k not in keys]
    if missing_keys:
        raise ValueError(f"{p}: missing key(s) {', '.join(missing_keys)} (has {', '.join(sorted(keys)) or 'none'}; "
                         "expected index (N,) and joints3d (N, 17, 3))")
    index, joints = np.asarray(data["index"]), np.asarray(data["joints3d"], dtype=np.float64)
    j = skeleton.NUM_JOINTS
    if joints.ndim != 3 or joints.shape[1:] != (j, 3):
        raise ValueError(f"{p}: joints3d must have shape (N, {j}, 3), got {joints.shape}")
    if index.ndim != 1 or len(index) != len(joints):
        raise ValueError(f"{p}: index has shape {index.shape} but joints3d has {len(joints)} rows")
    if len(np.unique(index)) != len(index):
        raise ValueError(f"{p}: index holds repeated rows")
    if len(index) != len(gt.rows) or not np.array_equal(np.sort(index), gt.rows):
        missing = np.setdiff1d(gt.rows, index)
        extra = np.setdiff1d(index, gt.rows)
        detail = (f"missing e.g. row {missing[0]}" if len(missing) else f"row {extra[0]} is not in the protocol")
        raise ValueError(f"{p}: predictions cover {len(index)} rows but the protocol selects {len(gt.rows)} ({detail})")
    if not np.isfinite(joints).all():
        raise ValueError(f"{p}: joints3d contains NaN or infinite values")
    absurd = np.abs(joints) > MAX_ABS_MM
    if absurd.any():  # finite but no pose in millimetres: the metrics would overflow to inf
        i, j, _ = np.argwhere(absurd)[0]
        raise ValueError(f"{p}: joints3d row {i} (dataset row {index[i]}) joint {skeleton.JOINT_NAMES[j]} is "
                         f"{joints[i, j].tolist()} mm, beyond the sanity limit of {MAX_ABS_MM:g} mm "
                         f"({int(absurd.any(axis=(1, 2)).sum())} row(s) affected): wrong units?")
    return joints[np.argsort(index)]


def _figures(pred: np.ndarray, gt: np.ndarray) -> dict[str, np.ndarray]:
    return {"mpjpe": metrics.mpjpe_errors(pred, gt), "pa_mpjpe": metrics.pa_mpjpe_errors(pred, gt),
            "n_mpjpe": metrics.n_mpjpe_errors(pred, gt)}


def score(pred: np.ndarray, gt: GroundTruth) -> dict[str, Any]:
    """Overall, action-mean, per-action and per-joint figures (mm; PCK/AUC in percent)."""
    err = _figures(pred, gt.joints3d)
    overall = {k: float(v.mean()) for k, v in err.items()}
    overall["pck150"] = metrics.pck(err["mpjpe"])
    overall["auc"] = metrics.auc(err["mpjpe"])
    overall["facing_agree"], overall["facing_poses"] = metrics.facing_agreement(pred, gt.joints3d)
    per_action: dict[str, dict[str, float]] = {}
    for a in np.unique(gt.action):
        sel = gt.action == a
        row: dict[str, float] = {"frames": int(sel.sum())}
        row.update({k: float(v[sel].mean()) for k, v in err.items()})
        row["pck150"] = metrics.pck(err["mpjpe"][sel])
        per_action[gt.action_names[int(a)]] = row
    action_mean = {k: float(np.mean([r[k] for r in per_action.values()]))
                   for k in ("mpjpe", "pa_mpjpe", "n_mpjpe", "pck150")}
    per_joint = {name: {k: float(v[:, j].mean()) for k, v in err.items()}
                 for j, name in enumerate(skeleton.JOINT_NAMES)}
    return {"frames": int(len(pred)), "overall": overall, "action_mean": action_mean,
            "per_action": per_action, "per_joint": per_joint}


def paper_protocols(result: dict[str, Any]) -> dict[str, Any]:
    """The figures as papers name them: Protocol #1 = MPJPE, Protocol #2 = PA-MPJPE, on the
    test subjects, averaged over the per-action means (the tables' "Avg" column), with the frame
    sampling the numbers are comparable with: every 64th frame (image-based papers: 3DMPPE,
    integral regression) or every frame (sequence-based: VideoPose3D). Papers disagree on
    which protocol is 1 or 2, so the metric names travel with the numbers."""
    p = result["protocol"]
    step = int(p["frame_step"])
    sampling = {64: "every 64th frame, as image-based papers (3DMPPE, integral regression)",
                1: "every frame, as sequence-based papers (VideoPose3D)"}.get(
        step, f"every {step}th frame: matches neither the image-based (64) nor the sequence-based (1) papers")
    m = result["action_mean"]
    return {"protocol_1_mpjpe_mm": m["mpjpe"], "protocol_2_pa_mpjpe_mm": m["pa_mpjpe"],
            "average": "mean of the per-action means", "subjects": list(p["subjects"]), "sampling": sampling,
            "comparable": step in (64, 1) and list(p["subjects"]) == ["S9", "S11"] and p.get("max_rows") is None,
            "line": (f"Protocol #1 (MPJPE) {m['mpjpe']:.1f} mm, Protocol #2 (PA-MPJPE) {m['pa_mpjpe']:.1f} mm; "
                     f"{', '.join(p['subjects'])}, {sampling}; mean over actions; crops: {p['crops']['source']}")}


def evaluate(data: str | Path, protocol: Protocol, *, checkpoint: str | Path | None = None,
             estimator: PoseEstimator | None = None, predictions: str | Path | None = None, device: str = "cpu",
             batch_size: int = 32, workers: int = 0, progress: Callable[[int], None] | None = None,
             on_rows: Callable[[int], None] | None = None, crops: Any = None) -> dict[str, Any]:
    """Score a model or a predictions .npz; returns the report dict (figures + protocol).

    The model is `checkpoint`, any model spec movnect.estimator.load_estimator takes (.pt,
    "default", an exported .onnx / .tflite whose runtime is registered), or `estimator`, one
    already loaded; it runs on the file's crops, or on `crops` (a movnect.eval_crops.CropSource),
    with the flip test when the protocol asks for it. `device`: torch device of a checkpoint.
    `on_rows(n)` is told the number of rows before predicting.
    """
    from movnect.eval_crops import CropSource, describe_protocol_crops, predict_video_crops

    crops = crops or CropSource()
    if sum(x is not None for x in (checkpoint, estimator, predictions)) != 1:
        raise ValueError("evaluate: give exactly one of a model (checkpoint or estimator) and a predictions file")
    if predictions is not None and protocol.flip_test:
        raise ValueError("the flip test needs a model (it runs the model on mirrored crops)")
    if predictions is not None and crops.kind != "gt":
        raise ValueError("--crops applies to --checkpoint: predictions made elsewhere bring their own crops")
    gt = load_ground_truth(data, protocol)
    joints2d_px = None
    if predictions is None:
        model = estimator if estimator is not None else load_estimator(checkpoint, device=device)  # type: ignore[arg-type]
        if model.codec.num_joints != skeleton.NUM_JOINTS:
            raise ValueError(f"{model.name} predicts {model.codec.num_joints} joints; eval needs {skeleton.NUM_JOINTS}")
        source: dict[str, Any] = {"checkpoint": str(checkpoint if checkpoint is not None else model.name),
                                  "model": model.name}
        note = getattr(model, "note", None)  # exported models say their format and precision
        if note:
            source["model_note"] = str(note)
        if protocol.flip_test:
            model = with_flip_test(model)
        if on_rows is not None:
            on_rows(len(gt.rows))
        if crops.kind == "gt":
            out = predict_rows(model, data, gt.rows, batch_size, workers, progress)
            pred = out.joints3d.astype(np.float64)
            joints2d_px = joints2d_error(out.joints2d, gt, model.codec.config.input_size)
        else:
            pred = predict_video_crops(model, data, gt.rows, crops, batch_size, progress)
        crop_info = describe_protocol_crops(crops, len(gt.rows))
    else:
        pred = read_predictions(predictions, gt)
        source = {"predictions": str(predictions)}
        crop_info = {"source": "unknown", "description": "predictions made elsewhere: their crops are not known here",
                     "detector_misses": None}
    result = score(pred, gt)
    if joints2d_px is not None:
        result["overall"]["joints2d_px"] = joints2d_px
    capped = f"; capped at {len(gt.rows)} of {gt.selected} rows, evenly spread" if len(gt.rows) < gt.selected else ""
    result["protocol"] = {
        **asdict(protocol), "subjects": list(protocol.subjects), "data": str(data), **source,
        "rows": "frame % frame_step == 0 of the subjects, all cameras: " + ", ".join(gt.cameras) + capped,
        "file_frame_step": gt.file_frame_step,
        "joints": f"Human3.6M {skeleton.NUM_JOINTS} joints (movnect.skeleton order), root = pelvis",
        "alignment": {
            "mpjpe": "root (pelvis) subtracted from prediction and ground truth",
            "pa_mpjpe": "similarity Procrustes per frame: rotation (no reflection), uniform scale, translation",
            "n_mpjpe": "root subtracted, prediction scaled by s = sum<p,g> / sum<p,p>",
            "pck150_auc": "root-relative, all joints, error < threshold; AUC over 0..150 mm step 5",
            "joints2d_px": "mean 2D distance over all joints, px of the model's input crop (stored crops only)",
        },
        "averages": "overall = mean over frames; action_mean = mean of per-action means",
        "damaged_takes": damaged_description(gt.damaged),
        "crops": crop_info,
    }
    result["papers"] = paper_protocols(result)
    return result


# ---- reports ---------------------------------------------------------------------------------

def markdown_report(result: dict[str, Any]) -> str:
    """Markdown: the protocol, overall figures, per-action and per-joint tables."""
    p = result["protocol"]
    o, m = result["overall"], result["action_mean"]
    src = p.get("checkpoint") or p.get("predictions")
    bullets = [
        f"- source: `{src}`; data: `{p['data']}`",
        f"- subjects: {', '.join(p['subjects'])}; frames: every {p['frame_step']}th video frame "
        f"({result['frames']} frames; {p['rows']})",
        f"- joints: {p['joints']}; flip test: {'yes' if p['flip_test'] else 'no'}",
        f"- model: {p['model']}{' (' + p['model_note'] + ')' if p.get('model_note') else ''}" if p.get("model") else "",
        f"- 2D: {o['joints2d_px']:.2f} px mean joint error ({p['alignment']['joints2d_px']})"
        if o.get("joints2d_px") is not None else "",
        f"- crops: {p['crops']['description']}",
        f"- front/back agreement: {o['facing_agree']:.1f} % of {o['facing_poses']} clearly frontal or from-behind "
        f"poses (left side on the right side of the image, or not, as in the ground truth)"
        if o.get("facing_agree") is not None else "",
        f"- as papers name it: {result['papers']['line']}" if "papers" in result else "",
        f"- {p['damaged_takes']}",
        f"- MPJPE: {p['alignment']['mpjpe']}; PA-MPJPE: {p['alignment']['pa_mpjpe']}; "
        f"N-MPJPE: {p['alignment']['n_mpjpe']}; 3DPCK/AUC: {p['alignment']['pck150_auc']}",
    ]
    lines = ["# Human3.6M evaluation", ""] + [b for b in bullets if b]
    lines += [
        "",
        "| average | MPJPE mm | PA-MPJPE mm | N-MPJPE mm | 3DPCK@150 % | AUC % |",
        "|---|---|---|---|---|---|",
        f"| over frames | {o['mpjpe']:.1f} | {o['pa_mpjpe']:.1f} | {o['n_mpjpe']:.1f} | {o['pck150']:.1f} | {o['auc']:.1f} |",
        f"| over actions | {m['mpjpe']:.1f} | {m['pa_mpjpe']:.1f} | {m['n_mpjpe']:.1f} | {m['pck150']:.1f} | - |",
        "",
        "| action | frames | MPJPE mm | PA-MPJPE mm | N-MPJPE mm | 3DPCK@150 % |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in result["per_action"].items():
        lines.append(f"| {name} | {r['frames']} | {r['mpjpe']:.1f} | {r['pa_mpjpe']:.1f} | {r['n_mpjpe']:.1f} | {r['pck150']:.1f} |")
    lines += ["", "| joint | MPJPE mm | PA-MPJPE mm | N-MPJPE mm |", "|---|---|---|---|"]
    for name, r in result["per_joint"].items():
        lines.append(f"| {name} | {r['mpjpe']:.1f} | {r['pa_mpjpe']:.1f} | {r['n_mpjpe']:.1f} |")
    return "\n".join(lines) + "\n"


def action_chart(result: dict[str, Any], path: str | Path) -> None:
    """Per-action bar chart (MPJPE and PA-MPJPE) as a PNG (written atomically)."""
    from matplotlib.figure import Figure

    names = list(result["per_action"])
    x = np.arange(len(names))
    fig = Figure(figsize=(max(6.0, 0.6 * len(names) + 2), 4))
    ax = fig.add_subplot()
    ax.bar(x - 0.2, [result["per_action"][n]["mpjpe"] for n in names], 0.4, label="MPJPE")
    ax.bar(x + 0.2, [result["per_action"][n]["pa_mpjpe"] for n in names], 0.4, label="PA-MPJPE")
    ax.set_xticks(x, names, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("mm")
    p = result["protocol"]
    ax.set_title(f"{', '.join(p['subjects'])}, every {p['frame_step']}th frame, {result['frames']} frames"
                 f"{', flip test' if p['flip_test'] else ''}", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic.atomic_open(path, "wb") as f:
        fig.savefig(f, format="png", dpi=100)


def write_report(result: dict[str, Any], out_dir: str | Path) -> dict[str, Path]:
    """Write eval.json, eval.md and eval_actions.png into `out_dir` (each atomically); returns their paths."""
    out = atomic.check_output_dir(out_dir, "--out")
    paths = {"json": out / "eval.json", "markdown": out / "eval.md", "chart": out / "eval_actions.png"}
    atomic.write_json(paths["json"], result, indent=2)
    atomic.write_text(paths["markdown"], markdown_report(result))
    action_chart(result, paths["chart"])
    return paths
