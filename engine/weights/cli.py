"""`stipple models info|verify DIR`: what a model directory holds, and whether it is whole.

Results go to stdout (text, or JSON with --json); a directory that cannot be read is one line on
stderr and exit status 2, a checkpoint with problems exit status 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.cli import UsageError


def model_path(name: str) -> Path:
    from engine.weights.default_model import resolve_model

    return resolve_model(name)


def cmd_info(args: argparse.Namespace) -> int:
    from engine.weights.checkpoint import ModelDirError
    from engine.weights.model_report import describe, format_info

    try:
        info = describe(model_path(args.dir), args.device)
    except (ModelDirError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    print(json.dumps(info, indent=2) if args.json else format_info(info))
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from engine.weights.model_report import format_verdict, verify

    try:
        verdict = verify(model_path(args.dir))
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    if args.json:
        print(json.dumps({"path": str(verdict.path), "ok": verdict.ok, "family": verdict.family,
                          "tensors_checked": verdict.tensors_checked, "problems": verdict.problems,
                          "notes": verdict.notes}, indent=2))
    else:
        print(format_verdict(verdict))
    if not verdict.ok:
        print(f"stipple models verify: {len(verdict.problems)} problem(s) in {verdict.path}",
              file=sys.stderr)
    return 0 if verdict.ok else 1


def add_parser(sub: argparse._SubParsersAction) -> None:
    models = sub.add_parser("models", help="inspect and check model directories")
    what = models.add_subparsers(dest="what", required=True)

    p = what.add_parser("info", help="family, parameters, dtype, memory needed, whether it fits")
    p.add_argument("dir", help="model directory (Hugging Face layout) or a shipped model's name")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N (for the fit check)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_info)

    p = what.add_parser("verify", help="check every tensor's presence, shape and dtype")
    p.add_argument("dir", help="model directory (Hugging Face layout) or a shipped model's name")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_verify)
