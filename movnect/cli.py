"""The `movnect` command line: thin argparse subcommands over library functions.

Every subcommand is a pair `_add_<name>(subparsers)` / `_run_<name>(args) -> int`. Errors
a user can cause (missing files, bad configs, wrong shapes, NaNs) reach `main` as exceptions
and are printed as one line `movnect: error: ...` with exit code 2; MOVNECT_DEBUG=1 shows the
traceback.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from movnect import __version__


def _add_info(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="parameters, multiply-accumulates and output shapes of a model")
    p.add_argument("--model", required=True, help="vnect | movnect | litepose, or a checkpoint path")
    p.add_argument("--input-size", type=int, default=256, help="square input side in pixels")
    p.add_argument("--width", type=float, default=None, help="width multiplier (students)")
    p.add_argument("--depth", type=int, default=None, choices=(18, 34, 50), help="teacher ResNet depth")
    p.add_argument("--joints", type=int, default=None, help="number of joints")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")


def _run_info(args: argparse.Namespace) -> int:
    from movnect.models import MODEL_NAMES, ModelConfig
    from movnect.models.profile import model_summary

    if args.model in MODEL_NAMES:
        overrides = {k: v for k, v in (("width", args.width), ("depth", args.depth),
                                       ("num_joints", args.joints)) if v is not None}
        from dataclasses import replace

        cfg = replace(ModelConfig(name=args.model), **overrides)
        from movnect.models import build_model

        model = build_model(cfg)
    else:
        from movnect.checkpoint import load_model

        model, cfg, _codec, _ = load_model(args.model)
    summary = model_summary(model, cfg, args.input_size)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"model        {summary['model']}")
        print(f"parameters   {summary['parameters']:,} ({summary['parameters'] / 1e6:.2f} M)")
        print(f"MACs         {summary['macs']:,} ({summary['macs'] / 1e9:.3f} G) at {args.input_size}x{args.input_size}")
        for k, v in summary["outputs"].items():
            print(f"output       {k:8s} {tuple(v)}")
    return 0


def _add_predict(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="run a model on an image or a video, write per-frame JSON")
    p.add_argument("input", help="image or video file")
    p.add_argument("--model", required=True, help="checkpoint (.pt), exported .onnx/.tflite, or 'default'")
    p.add_argument("--json", required=True, dest="json_out", help="output JSON file")


def _run_predict(args: argparse.Namespace) -> int:
    from movnect.predict import predict_file

    summary = predict_file(args.model, args.input, args.json_out)
    print(f"wrote {summary['frames']} frame(s) to {args.json_out}")
    if summary.get("note"):
        print(summary["note"])
    return 0


# Subcommands, in the order `movnect --help` lists them.
COMMANDS = [
    ("info", _add_info, _run_info),
    ("predict", _add_predict, _run_predict),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="movnect", description="Real-time monocular 3D human pose: train, distill, evaluate, export, demo."
    )
    parser.add_argument("--version", action="version", version=f"movnect {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for _name, add, _run in COMMANDS:
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    run = {name: run for name, _add, run in COMMANDS}[args.command]
    try:
        return int(run(args) or 0)
    except KeyboardInterrupt:
        print("movnect: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the one place a user-facing error becomes one line
        if os.environ.get("MOVNECT_DEBUG"):
            raise
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        known = (ValueError, OSError, KeyError, ImportError)
        prefix = "" if isinstance(exc, known) else f"{type(exc).__name__}: "
        print(f"movnect: error: {prefix}{msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
