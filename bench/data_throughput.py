"""Data-loading throughput next to the student's training step rate, on this machine.

    python bench/data_throughput.py [--cache DIR] [--batches 6] [--repeats 3] [--device cpu|cuda]

Builds once (and reuses, under --cache) a small synthetic release (movnect.data.synthetic: 4
subjects x 3 actions x 1 take x 4 cameras x 60 frames, 500 px videos), its prepare-h36m HDF5
(every 2nd frame, 256 px crops) and a 24-image synthetic COCO-format set. Then measures, with
augmentation on (scale, rotation, flip, colour jitter, occlusion) and codec targets at 256 x 256:
  * H36MDataset samples/s through a DataLoader (batch 32) with 0 worker processes (main process
    at 1 torch thread and at the default) and with 2 worker processes,
  * CocoKeypoints samples/s with 0 workers (2D-only data: JPEG decode + crop from the full image;
    the 24 images repeat, so they come from the OS file cache),
  * the MoVNect student's training rate: forward + VNect-style map loss + backward + AdamW step
    at batch 32, 256 x 256 (samples/s),
each as the median of --repeats timed runs of --batches batches after one warm-up batch, and the
ratio loader / training rate (> 1: loading keeps up with training at that worker count).
Figures are for synthetic data on this machine; they say nothing about accuracy. Prints ONE JSON
object.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any


import torch
from torch.utils.data import DataLoader, RandomSampler

from movnect.codec import Codec
from movnect.data.dataset import H36MDataset
from movnect.data.h36m import PrepareOptions, open_h36m, prepare_h36m
from movnect.data.keypoints2d import CocoKeypoints
from movnect.data.synthetic import SynthConfig, write_release
from movnect.data.synthetic.coco import ANNOTATION_FILE, CocoSynthConfig, write_coco
from movnect.data.transforms import AugmentConfig
from movnect.models import ModelConfig, build_model

BATCH = 32
RELEASE = SynthConfig(subjects=("S1", "S5", "S9", "S11"), actions=("Walking", "Eating", "Greeting"), subactions=1,
                      frames=60, image_size=500, seed=2026)
COCO = CocoSynthConfig(images=24, image_size=480, seed=2026)


def machine(device: str) -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    facts = {"cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
             "python": platform.python_version(), "torch": torch.__version__, "device": device}
    if device == "cuda":
        facts["gpu"] = torch.cuda.get_device_name(0)
    try:
        facts["load_average_1min"] = round(os.getloadavg()[0], 2)  # other work sharing the CPU
    except OSError:
        pass
    return facts


def ensure_data(cache: Path) -> tuple[Path, Path, dict[str, Any]]:
    """(HDF5 file, COCO folder, build seconds) under cache, generating what is missing."""
    cache.mkdir(parents=True, exist_ok=True)
    h5, coco, built = cache / "synth.h5", cache / "coco", {}
    try:
        open_h36m(h5).close()
    except (FileNotFoundError, ValueError):
        t0 = time.perf_counter()
        if not (cache / "release.done").is_file():
            write_release(cache / "release", RELEASE)
            (cache / "release.done").write_text("ok")
        prepare_h36m(cache / "release", h5, PrepareOptions(frame_step=2, workers=2), overwrite=True)
        built["release_and_h5_s"] = round(time.perf_counter() - t0, 1)
    if not (coco / ANNOTATION_FILE).is_file():
        t0 = time.perf_counter()
        write_coco(coco, COCO)
        built["coco_s"] = round(time.perf_counter() - t0, 1)
    return h5, coco, built


def loader_rate(dataset, workers: int, batches: int, repeats: int, threads: int | None = None) -> dict[str, Any]:
    """Samples/s of a DataLoader (batch 32, random rows with replacement): median over repeats.

    threads: torch threads of this process while loading (DataLoader workers always use 1);
    None keeps the current setting.
    """
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    rates = []
    for r in range(repeats):
        g = torch.Generator().manual_seed(r)
        sampler = RandomSampler(dataset, replacement=True, num_samples=(batches + 1) * BATCH, generator=g)
        loader = DataLoader(dataset, batch_size=BATCH, sampler=sampler, num_workers=workers, drop_last=True)
        it = iter(loader)
        next(it)  # warm-up: worker start-up, file opening
        t0 = time.perf_counter()
        n = 0
        for _ in range(batches):
            n += len(next(it)["image"])
        rates.append(n / (time.perf_counter() - t0))
        del it
    used = torch.get_num_threads()
    torch.set_num_threads(previous)
    return {"workers": workers, "main_process_torch_threads": used,
            "samples_per_s": round(statistics.median(rates), 1), "runs": [round(x, 1) for x in rates]}


def training_rate(sample: dict[str, torch.Tensor], device: str, batches: int, repeats: int) -> dict[str, Any]:
    """Student forward + map loss + backward + AdamW step at batch 32, 256 x 256: samples/s."""
    torch.manual_seed(0)
    model = build_model(ModelConfig(name="movnect")).to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    batch = {k: v.to(device) for k, v in sample.items()}
    target = torch.cat([batch["heatmaps"], batch["locmaps"]], dim=1)
    weight = torch.cat([torch.ones_like(batch["heatmaps"])] + [batch["heatmaps"]] * 3, dim=1)  # VNect: loc maps under H

    def step() -> None:
        out = model(batch["image"])
        loss = ((out.maps - target) ** 2 * weight).mean() + 0.0 * out.bones.mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    step()  # warm-up
    sync()
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(batches):
            step()
        sync()
        rates.append(batches * BATCH / (time.perf_counter() - t0))
    return {"batch": BATCH, "input": 256, "samples_per_s": round(statistics.median(rates), 1),
            "steps_per_s": round(statistics.median(rates) / BATCH, 3), "runs": [round(x, 1) for x in rates]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "movnect_bench_data"),
                    help="folder for the generated release, HDF5 and COCO set (reused when present)")
    ap.add_argument("--batches", type=int, default=6, help="timed batches per run")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs (the median is reported)")
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="device of the training step")
    args = ap.parse_args()
    h5, coco, built = ensure_data(Path(args.cache))
    codec, aug = Codec(), AugmentConfig()
    ds = H36MDataset(h5, codec, augment=aug, seed=0)
    coco_ds = CocoKeypoints(coco / ANNOTATION_FILE, coco / "images", codec, augment=aug, seed=0)
    result: dict[str, Any] = {"bench": "data_throughput", "data": "synthetic (not Human3.6M, not COCO)",
                              "h5_rows": len(ds), "coco_people": len(coco_ds), "built": built,
                              "augmentation": "on (default AugmentConfig)"}
    # In-process loading runs small torch ops (targets, normalisation); with 2 threads on a busy
    # 2-core machine their synchronisation costs more than the work, so both settings are shown.
    loaders = [loader_rate(ds, 0, args.batches, args.repeats, threads=t) for t in (1, torch.get_num_threads())]
    loaders.append(loader_rate(ds, 2, args.batches, args.repeats))
    coco_rate = loader_rate(coco_ds, 0, args.batches, args.repeats, threads=1)
    sample = next(iter(DataLoader(ds, batch_size=BATCH, shuffle=False)))
    train = training_rate(sample, args.device, max(2, args.batches // 2), args.repeats)
    result.update({
        "h36m_dataset": loaders,
        "coco_dataset": coco_rate,
        "student_training": train,
        "ratio_loader_to_training": {f"workers_{x['workers']}_threads_{x['main_process_torch_threads']}":
                                     round(x["samples_per_s"] / train["samples_per_s"], 2) for x in loaders},
        "machine": machine(args.device),
    })
    print(json.dumps(result))


if __name__ == "__main__":
    main()
