"""`stipple eval humaneval-infill`: complete every task with the engine, execute the tests, report."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

from engine.cli import UsageError, add_engine_options, engine_from_args

MODE_OF_SPLIT = {"single-line": "single", "multi-line": "multi",
                 "random-span-light": "multi", "random-span": "multi"}


def machine_info() -> dict:
    import torch

    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "python": platform.python_version(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def collect_rows(tasks: list[dict], complete, progress: bool) -> list[dict]:
    """Run complete(task) -> (text, steps) over the tasks, timing each; the infill output rows."""
    rows = []
    for n, task in enumerate(tasks, 1):
        started = time.perf_counter()
        text, steps = complete(task)
        rows.append({"task_id": task["task_id"], "completion": text, "steps": steps,
                     "latency_ms": round((time.perf_counter() - started) * 1000, 2)})
        if progress and n % 25 == 0:
            print(f"  {n}/{len(tasks)}", file=sys.stderr)
    return rows


def infill_rows(engine, tasks: list[dict], mode: str, steps: int, oracle: bool,
                span_tokens: int | None, progress: bool, strategy: str = "confidence",
                threshold: float = 0.9, block_length: int | None = None) -> list[dict]:
    """Complete every task with engine.infill (any completer), timing each."""
    from engine.denoise.layout import heal, heal_middle
    from engine.denoise.params import DenoiseParams

    # One untimed request first: lazy tables and allocator warm-up are not a task's latency.
    engine.infill("def f(x):\n", "\n", DenoiseParams(steps=steps, mode=mode, span_tokens=4))

    def complete(task: dict) -> tuple[str, int]:
        length = span_tokens
        if oracle:  # the true middle, as the span holds it (line breaks healed)
            middle = heal_middle(task["canonical_solution"], heal(task["prompt"], task["suffix"]))
            length = max(1, len(engine.tokenizer.encode(middle)))
        params = DenoiseParams(steps=steps, mode=mode, span_tokens=length, allow_pad=not oracle,
                               strategy=strategy, threshold=threshold, block_length=block_length)
        result = engine.infill(task["prompt"], task["suffix"], params)
        return result.text, result.steps_done

    return collect_rows(tasks, complete, progress)


def cmd_humaneval(args: argparse.Namespace) -> int:
    from benchmarks import humaneval_infill as he
    from benchmarks.ar_vs_diffusion import guide_label

    try:
        tasks = he.load_tasks(args.split, args.data_dir, args.limit, args.stride)
    except (FileNotFoundError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    mode = args.mode or MODE_OF_SPLIT[args.split]
    diffusion = args.completer == "diffusion"
    if args.oracle_length and not diffusion:
        raise UsageError("--oracle-length sizes the diffusion span; the autoregressive completers stop by themselves")
    # Every completer runs through the same loop: infill(prefix, suffix, params) -> SpanRequest.
    engine = engine_from_args(args)
    model_dir = engine.config.model_dir
    rows = infill_rows(engine, tasks, mode, args.steps, args.oracle_length, args.span_tokens,
                       progress=not args.quiet, strategy=args.strategy, threshold=args.threshold,
                       block_length=args.block_length or None)
    report = he.evaluate(tasks, rows, workers=args.workers, split=args.split)
    report.update(completer=args.completer, model=str(model_dir), steps=args.steps if diffusion else None,
                  strategy=args.strategy if diffusion else None,
                  threshold=args.threshold if diffusion and args.strategy == "threshold" else None,
                  block_length=(args.block_length or None) if diffusion else None,
                  mode=mode, oracle_length=args.oracle_length, stride=args.stride, limit=args.limit,
                  device=str(engine.config.device), dtype=engine.config.dtype, guide=guide_label(engine),
                  machine=machine_info())
    print(he.format_table(report))
    if args.output:
        he.write_report(report, args.output)
    if args.completions:
        Path(args.completions).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return 0


def cmd_repair(args: argparse.Namespace) -> int:
    from benchmarks import repair

    engine = engine_from_args(args)
    try:
        repair.main(engine, args, machine_info())
    except (FileNotFoundError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    evaluate = sub.add_parser("eval", help="quality evaluations")
    suites = evaluate.add_subparsers(dest="suite", required=True)
    p = suites.add_parser("humaneval-infill", help="OpenAI HumanEval-Infilling, executed tests")
    p.add_argument("--split", default="single-line", choices=sorted(MODE_OF_SPLIT))
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--stride", type=int, default=1, help="take every N-th task")
    p.add_argument("--oracle-length", action="store_true", help="span = true middle length")
    p.add_argument("--mode", default=None, choices=["single", "multi"])
    p.add_argument("--data-dir", type=Path, default=None)
    p.add_argument("--output", type=Path, default=None, help="JSON report")
    p.add_argument("--completions", type=Path, default=None, help="JSONL of completions")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--quiet", action="store_true")
    add_engine_options(p)
    p.set_defaults(func=cmd_humaneval)
    from benchmarks import repair  # torch-free

    p = suites.add_parser("repair", help="repair injected corruptions: exact repairs, correct tokens changed")
    repair.add_arguments(p)
    add_engine_options(p)
    p.set_defaults(func=cmd_repair)
