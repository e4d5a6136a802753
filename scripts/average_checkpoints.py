"""Average checkpoints of one architecture in weight space (a "model soup").

    python scripts/average_checkpoints.py --out runs/soup.pt A.pt B.pt [C.pt ...] [--weights 1,1,1]

Fine-tunes of one parent usually lie in one basin, so their average is a model of its own,
often better than each (Wortsman et al., "Model soups", ICML 2022). movnect.checkpoint.average_checkpoints
does the work; the result loads anywhere a checkpoint does (eval, predict, demo, export, embed).
"""
from __future__ import annotations

import argparse
import sys

from movnect.checkpoint import CheckpointError, atomic_torch_save, average_checkpoints


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoints", nargs="+", help="checkpoints of one architecture and codec")
    ap.add_argument("--weights", default="", help="comma-separated positive weights, one per checkpoint (default equal)")
    ap.add_argument("--out", required=True, help="the averaged checkpoint")
    args = ap.parse_args()
    try:
        weights = [float(x) for x in args.weights.split(",")] if args.weights else None
    except ValueError:
        sys.exit(f"average_checkpoints: --weights must be comma-separated numbers, got {args.weights!r}")
    try:
        atomic_torch_save(average_checkpoints(args.checkpoints, weights), args.out)
    except CheckpointError as exc:
        sys.exit(f"average_checkpoints: {exc}")
    print(f"wrote {args.out}: the average of {len(args.checkpoints)} checkpoints")


if __name__ == "__main__":
    main()
