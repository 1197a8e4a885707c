"""The `stipple` command: infill, complete, eval, train. Each subcommand is a thin wrapper.

stdout carries results only (JSON lines or the completion); diagnostics go to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

log = logging.getLogger("stipple.cli")


class UsageError(Exception):
    """Bad input from the user; printed as one line, exit status 2."""


def engine_from_args(args: argparse.Namespace):
    """The diffusion Engine, or with --completer ar-fim / ar-prefix the autoregressive one (same interface)."""
    from engine.ar.twin import build_engine
    from engine.denoise.config import EngineConfig
    from engine.weights.loader import ModelDirError

    try:
        config = EngineConfig(model_dir=args.model, device=args.device, num_threads=args.threads,
                              dtype=args.dtype)
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


def cmd_complete(args: argparse.Namespace) -> int:
    """The server's steps for one cursor (lsp_server.suggest): what an editor would be offered there, or
    an empty line, with the reason for a skip on stderr."""
    from lsp_server.documents import UTF32, Document
    from lsp_server.languages import language_for
    from lsp_server.settings import BLOCK_LENGTH_DEFAULT, Settings
    from lsp_server.suggest import complete_at

    path, line, col = parse_cursor(args.cursor)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from exc
    if b"\0" in data[:8192]:
        raise UsageError(f"{path} looks binary; nothing to complete")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path} is not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    prefix, _ = split_at_cursor(text, line, col)
    engine = engine_from_args(args)
    block_length = BLOCK_LENGTH_DEFAULT if args.block_length is None else (args.block_length or None)
    settings = Settings(steps=args.steps, strategy=args.strategy, threshold=args.threshold,
                        block_length=block_length, completer=args.completer, heal_cursor=not args.no_heal)
    doc = Document(path.resolve().as_uri(), "", 0, text, UTF32, language_for("", str(path)))
    started = time.perf_counter()
    verdict = complete_at(engine, doc, len(prefix), settings, args.mode, args.span_tokens)
    latency = (time.perf_counter() - started) * 1000
    shown = verdict.text or ""
    sys.stdout.write(shown if shown.endswith("\n") else shown + "\n")
    if verdict.outcome != "offered":
        print(f"stipple complete: {verdict.outcome}{': ' + verdict.reason if verdict.reason else ''}",
              file=sys.stderr)
    if args.show_latency:
        print(f"[{verdict.outcome}, {latency:.1f} ms, model {engine.config.model_dir.name}]", file=sys.stderr)
    return 0


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
    p.add_argument("--completer", default="diffusion", choices=COMPLETERS,
                   help="ar-fim: the autoregressive FIM twin (e.g. --model smollm2-ar-fim); ar-prefix: "
                        "a next-token model from the prefix only (e.g. --model smollm2-base); greedy, KV cache")


def build_parser() -> argparse.ArgumentParser:
    from engine.serve import cli as deploy_cli
    from lsp_server import cli_bench, cli_eval, cli_models, cli_serve, cli_train

    parser = argparse.ArgumentParser(prog="stipple", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("infill", help="fill the middle of each task of a JSONL file")
    p.add_argument("--input", required=True, type=Path)
    p.add_argument("--output", required=True, type=Path)
    p.add_argument("--mode", default="multi", choices=["single", "multi"])
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0)
    add_engine_options(p)
    p.set_defaults(func=cmd_infill)

    p = sub.add_parser("complete", help="print the completion at FILE:LINE:COL (1-based)")
    p.add_argument("cursor")
    p.add_argument("--mode", default=None, choices=["single", "multi"],
                   help="override the server's choice for this cursor")
    p.add_argument("--no-heal", action="store_true", help="no token healing at the cursor (the rule before it)")
    p.add_argument("--show-latency", action="store_true")
    add_engine_options(p)
    p.set_defaults(func=cmd_complete)

    cli_eval.add_parser(sub, add_engine_options)
    cli_train.add_parser(sub)
    cli_serve.add_parser(sub)
    cli_bench.add_parser(sub)
    cli_models.add_parser(sub)
    cli_bench.add_profile_parser(sub)
    deploy_cli.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"stipple {args.command}: {exc}", file=sys.stderr)
        return 2
