"""python -m benchmarks.gpu_suite --out DIR [--dry-run]: see benchmarks/gpu_suite/__init__.py.

Writes DIR/gpu_suite.json (rewritten after each part, so a run cut short keeps what it measured) and
DIR/gpu_suite.md. A part that fails records its error and the rest still run; the exit status is 1
when any part failed or a kernel disagreed with its reference.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import traceback
from pathlib import Path

import torch

from benchmarks.gpu_suite import decode, kernels, server, summary
from benchmarks.gpu_suite.shapes import SHAPES
from benchmarks.gpu_suite.timing import memory_bandwidth_gbs

PARTS = ("kernels", "decode", "server")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.gpu_suite", description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True, help="folder for gpu_suite.json and gpu_suite.md")
    p.add_argument("--dry-run", action="store_true", help="tiny shapes on the CPU (checks the suite itself)")
    p.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts of {PARTS}")
    p.add_argument("--shapes", default=",".join(SHAPES), help=f"comma-separated of {tuple(SHAPES)}")
    p.add_argument("--context", type=int, default=2048)
    p.add_argument("--span", type=int, default=64)
    p.add_argument("--steps", type=int, default=32)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--server-rounds", type=int, default=3)
    p.add_argument("--budget-s", type=float, default=420.0, help="skip the shapes left once this is spent")
    args = p.parse_args(argv)
    parts = [x for x in args.only.split(",") if x]
    if bad := [x for x in parts if x not in PARTS]:
        p.error(f"unknown parts {bad}; choose from {PARTS}")
    shapes = [x for x in args.shapes.split(",") if x]
    if bad := [x for x in shapes if x not in SHAPES]:
        p.error(f"unknown shapes {bad}; choose from {tuple(SHAPES)}")
    args.parts, args.shape_list = parts, shapes
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    if args.dry_run:
        device, dtype, shapes = "cpu", torch.float32, ["tiny"]
        context, span, steps, repeat = 48, 16, 4, 2
        parts = [p for p in args.parts if p != "server"]  # the server part starts processes: GPU runs only
    else:
        if not torch.cuda.is_available():
            print("no CUDA device: run with --dry-run to check the suite on the CPU", file=sys.stderr)
            return 2
        device, dtype, shapes = "cuda", torch.bfloat16, args.shape_list
        context, span, steps, repeat, parts = args.context, args.span, args.steps, args.repeat, args.parts
    args.out.mkdir(parents=True, exist_ok=True)
    result = {"benchmark": "gpu_suite", "dry_run": args.dry_run, "device": device,
              "device_name": torch.cuda.get_device_name() if device == "cuda" else "cpu",
              "recorded": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": machine(),
              "settings": {"context": context, "span": span, "steps": steps, "repeat": repeat, "dtype": str(dtype)},
              "errors": {}}
    result["bandwidth_gbs"] = round(memory_bandwidth_gbs(device, 64 if args.dry_run else 4096), 1)
    write(args.out, result)
    if "kernels" in parts:
        attempt(result, "kernels", lambda: kernels.run(device, args.dry_run))
        write(args.out, result)
    if "decode" in parts:
        result["decode"] = []
        for name in shapes:
            if time.monotonic() - started > args.budget_s:
                result["errors"][f"decode:{name}"] = "skipped: time budget spent"
                continue
            row = attempt(result, f"decode:{name}", lambda: decode.run_shape(
                name, device, dtype, context, span, steps, result["bandwidth_gbs"], repeat), store=False)
            if row:
                result["decode"].append(row)
                print(f"{name}: cached step {row['cached_step_ms']} ms ({row['cached_step_vs_bound']}x bound), "
                      f"{row['diffusion']['confidence']['tokens_per_s']} tok/s", file=sys.stderr)
            write(args.out, result)
    if "server" in parts:
        attempt(result, "server", lambda: server.run(device, args.out, args.server_rounds))
    result["duration_s"] = round(time.monotonic() - started, 1)
    write(args.out, result)
    (args.out / "gpu_suite.md").write_text(summary.render(result), encoding="utf-8")
    print(f"wrote {args.out / 'gpu_suite.json'} and gpu_suite.md in {result['duration_s']} s", file=sys.stderr)
    failed = bool(result["errors"]) or not result.get("kernels", {}).get("ok", True)
    return 1 if failed else 0


def machine() -> dict:
    try:
        from benchmarks.latency.runner import machine_info
    except ImportError as exc:  # pygls missing: the kernel and decode parts still run
        return {"platform": platform.platform(), "torch": torch.__version__, "note": str(exc)}
    return {**machine_info(1, (0.0, 0.0, 0.0)), "torch": torch.__version__}


def attempt(result: dict, name: str, fn, store: bool = True):
    """Run one part; on failure record the error and go on."""
    try:
        value = fn()
    except Exception as exc:  # one broken part must not lose the others' figures
        result["errors"][name] = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=6)}"
        print(f"{name} failed: {exc}", file=sys.stderr)
        return None
    if store:
        result[name] = value
    return value


def write(out: Path, result: dict) -> None:
    (out / "gpu_suite.json").write_text(json.dumps(result, indent=1, default=str) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
