"""The engine's subcommands, and the command-line pieces the packages above it share.

    stipple infill --input TASKS.jsonl --output OUT.jsonl [engine options]   (here)
    stipple models info|verify DIR      (engine/weights/cli.py)
    stipple train corpus|tokenizer|model (engine/train/cli.py)
    stipple deploy ...                   (engine/serve/cli.py)

Each package gives an `add_parser(sub)` for its own subcommands; `build_parser` gathers them and `run`
runs one. `python -m engine` is these alone; `python -m lsp_server` adds the server's (serve,
complete), and the whole `stipple` command (benchmarks/cli.py) the benchmarks' too. The shared pieces:
UsageError, the engine options and the engine they build, FILE:LINE:COL.

stdout carries results only (JSON lines or the completion); diagnostics go to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path

AddParser = Callable[[argparse._SubParsersAction], None]


class UsageError(Exception):
    """Bad input from the user; printed as one line, exit status 2."""


def engine_from_args(args: argparse.Namespace):
    """The diffusion Engine, or with --completer ar-fim / ar-prefix the autoregressive one (same interface)."""
    from engine.ar.twin import build_engine
    from engine.denoise.config import EngineConfig
    from engine.weights.loader import ModelDirError

    try:
        config = EngineConfig(model_dir=args.model, device=args.device, num_threads=args.threads,
                              dtype=args.dtype, guide=args.guide)
        return build_engine(config, args.completer)
    except (ModelDirError, ValueError) as exc:
        raise UsageError(f"cannot load model: {exc}") from exc


def cmd_infill(args: argparse.Namespace) -> int:
    from engine.denoise.params import DenoiseParams

    engine = engine_from_args(args)
    failures = 0
    with open(args.input, encoding="utf-8") as src, open(args.output, "w", encoding="utf-8") as out:
        for number, line in enumerate(src, 1):
            if not line.strip():
                continue
            row = {"task_id": None, "completion": "", "latency_ms": 0.0, "steps": 0}
            try:
                task = json.loads(line)
                if not isinstance(task, dict) or not isinstance(task.get("prompt"), str) \
                        or not isinstance(task.get("suffix", ""), str):
                    raise ValueError("needs string fields 'prompt' and 'suffix'")
                row["task_id"] = task.get("task_id", f"line-{number}")
                params = DenoiseParams(steps=args.steps, mode=task.get("mode", args.mode),
                                       span_tokens=task.get("span_tokens", args.span_tokens),
                                       temperature=args.temperature, seed=args.seed,
                                       strategy=args.strategy, threshold=args.threshold,
                                       block_length=args.block_length or None)
                started = time.perf_counter()
                result = engine.infill(task["prompt"], task.get("suffix", ""), params)
                row.update(completion=result.text, steps=result.steps_done,
                           latency_ms=round((time.perf_counter() - started) * 1000, 2))
            except (ValueError, TypeError) as exc:
                failures += 1
                row["error"] = f"line {number}: {exc}"
                print(f"stipple infill: {row['error']}", file=sys.stderr)
            out.write(json.dumps(row) + "\n")
    return 1 if failures else 0


def parse_cursor(spec: str) -> tuple[Path, int, int]:
    try:
        path, line, col = spec.rsplit(":", 2)
        return Path(path), int(line), int(col)
    except ValueError as exc:
        raise UsageError(f"expected FILE:LINE:COL (1-based), got {spec!r}") from exc


def split_at_cursor(text: str, line: int, col: int) -> tuple[str, str]:
    """Prefix and suffix around a 1-based LINE:COL (COL counts characters)."""
    lines = text.splitlines(keepends=True) or [""]
    if not 1 <= line <= len(lines) + (1 if text.endswith("\n") else 0):
        raise UsageError(f"line {line} is outside the file (1..{len(lines)})")
    current = lines[line - 1] if line <= len(lines) else ""
    width = len(current.rstrip("\r\n"))
    if not 1 <= col <= width + 1:
        raise UsageError(f"column {col} is outside line {line} (1..{width + 1})")
    offset = sum(len(x) for x in lines[: line - 1]) + col - 1
    return text[:offset], text[offset:]


def probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a probability in [0, 1], got {text}")
    return value


def add_engine_options(p: argparse.ArgumentParser) -> None:
    from engine.denoise.params import COMPLETERS, DTYPES, STRATEGIES  # torch-free

    p.add_argument("--model", type=Path, default=None, help="model directory (default: embedded)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--dtype", default="auto", choices=DTYPES,
                   help="auto: bf16 on GPUs and on CPUs with native bf16, else float32")
    p.add_argument("--steps", type=int, default=32, help="denoising steps K (at most)")
    p.add_argument("--span-tokens", type=int, default=None, help="mask slots (default by mode)")
    p.add_argument("--strategy", default="confidence", choices=STRATEGIES,
                   help="which slots each step commits (engine/denoise/strategies.py)")
    p.add_argument("--threshold", type=probability, default=0.9,
                   help="--strategy threshold: commit every slot whose probability exceeds this")
    p.add_argument("--block-length", type=int, default=None,
                   help="semi-autoregressive blocks of this many slots, left to right (complete: the server's "
                        "default, 1; 0: one block; infill/eval: one block unless given)")
    p.add_argument("--guide", default="auto",
                   help="left-to-right decoding mixed with a next-token model (engine/denoise/guide.py): auto (the "
                        "model's own; smollm2-block: its base), none, or a model name/directory")
    p.add_argument("--completer", default="diffusion", choices=COMPLETERS,
                   help="ar-fim: the autoregressive FIM twin (e.g. --model smollm2-ar-fim); ar-prefix: "
                        "a next-token model from the prefix only (e.g. --model smollm2-base); greedy, KV cache")


def add_parser(sub: argparse._SubParsersAction) -> None:
    """infill, and the subcommands of the engine's rooms: models, train, deploy."""
    from engine.serve import cli as deploy_cli
    from engine.train import cli as train_cli
    from engine.weights import cli as models_cli

    p = sub.add_parser("infill", help="fill the middle of each task of a JSONL file")
    p.add_argument("--input", required=True, type=Path)
    p.add_argument("--output", required=True, type=Path)
    p.add_argument("--mode", default="multi", choices=["single", "multi"])
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0)
    add_engine_options(p)
    p.set_defaults(func=cmd_infill)

    models_cli.add_parser(sub)
    train_cli.add_parser(sub)
    deploy_cli.add_parser(sub)


def build_parser(*add_parsers: AddParser) -> argparse.ArgumentParser:
    """The `stipple` command line with the subcommands that these packages' add_parser functions give."""
    parser = argparse.ArgumentParser(prog="stipple", description="Code completion by masked discrete diffusion.")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in add_parsers:
        add(sub)
    return parser


def run(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> int:
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"stipple {args.command}: {exc}", file=sys.stderr)
        return 2


def main(argv: list[str] | None = None) -> int:
    """`python -m engine`: the engine's subcommands alone."""
    return run(build_parser(add_parser), argv)
