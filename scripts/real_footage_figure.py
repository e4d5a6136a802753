"""The README's real-footage picture: one frame of Sports2D's outdoor demo clip (BSD-3-Clause,
D. Pagnon, Sports2D), each model run through the live pipeline from the first frame, side by
side: BlazePose full with its own tracking, and `--model` (default: the embedded default model)
with BlazePose's person detector. Labels say which is which.

    python scripts/real_footage_figure.py [--model default] [--frame 90] [--out docs/real_footage_demo.png]
"""
from __future__ import annotations

import argparse

import cv2
import numpy as np

from movnect import assets, overlay
from movnect.blazepose.pose import BlazePoseTracker, landmarks_to_joints
from movnect.demo import load_demo_estimator, load_detector
from movnect.live import LivePipeline


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--frame", type=int, default=90)
    ap.add_argument("--width", type=int, default=884, help="width of each panel")
    ap.add_argument("--out", default="docs/real_footage_demo.png")
    args = ap.parse_args()
    cap = cv2.VideoCapture(str(assets.asset_path("sports2d_demo")))
    bp = BlazePoseTracker("full")
    pipe = None
    for i in range(args.frame + 1):
        ok, bgr = cap.read()
        if not ok:
            raise SystemExit(f"the clip has fewer than {args.frame + 1} frames")
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        if pipe is None:
            pipe = LivePipeline(load_demo_estimator(args.model), rgb.shape[:2], detector=load_detector("blazepose"))
        lm = bp(rgb)
        ours, _ = pipe.step(rgb, i / 30.0)
    panels = []
    for title, j2, conf, tracked, box in (
        ("BlazePose full (MediaPipe)", *(landmarks_to_joints(lm)[:2] if lm is not None else (None, None)),
         lm is not None, None),
        (f"ours: {args.model} model + BlazePose person detector", ours.joints2d_filtered, ours.confidence,
         ours.tracked, ours.box),
    ):
        img = bgr.copy()
        if box is not None:
            cv2.rectangle(img, (int(box.x0), int(box.y0)), (int(box.x0 + box.side), int(box.y0 + box.side)),
                          (80, 200, 80), 3)
        if j2 is not None:
            overlay.draw_skeleton_2d(img, j2, conf, tracked=tracked)
        s = args.width / img.shape[1]
        img = cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        overlay.put_stats(img, [title, "real footage: Sports2D demo clip (BSD-3-Clause)"])
        panels.append(img)
    cv2.imwrite(args.out, np.hstack(panels))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
