"""`stipple bench latency|record|replay` (the latency harness, benchmarks/latency) and `stipple profile`.

    stipple bench latency [--model DIR] [--tasks SPEC] [--config A.toml ...] [--compare] [--rounds N] [--out DIR]
    stipple bench record TRACE.msgpack [same options]   the latency workload, the server recording a trace
    stipple bench replay TRACE.msgpack [--until S]      re-drive a server from a trace, same timing
    stipple profile [FILE:LINE:COL | --prefix P --suffix S] [--steps K] [--json] [--trace OUT.json]
                                                        one request under the torch profiler (benchmarks/profile.py)

A config is a TOML file of server settings (lsp_server/settings.py names, snake_case or camelCase) and
an optional `name`. The tables go to stdout; the JSON (every sample, the machine) and PNGs to --out.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from engine.cli import UsageError, parse_cursor, split_at_cursor

DEFAULT_OUT = Path("benchmarks/results")


def configs_from_args(args: argparse.Namespace) -> list:
    from benchmarks.latency.runner import BenchConfig

    configs = [BenchConfig.from_toml(path) for path in args.config or []]
    if not configs or (args.compare and len(configs) == 1):
        configs.insert(0, BenchConfig("default", {}))
    for config in configs:
        if args.model and "model" not in config.settings:
            config.settings["model"] = str(args.model)
    names = [c.name for c in configs]
    if len(set(names)) != len(names):
        raise SystemExit(f"stipple bench: config names must differ, got {names}")
    return configs


def quiet() -> None:
    """The client's and matplotlib's chatter would bury the tables."""
    for name in ("pygls", "matplotlib", "PIL"):
        logging.getLogger(name).setLevel(logging.WARNING)


def write_outputs(result: dict, out: Path, name: str, plot: bool = True) -> dict:
    from benchmarks.latency import plots, report

    summary = report.summarize(result)
    result["summary"] = summary
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    pngs = plots.write_all(result, summary, out, name) if plot else []
    report.render(result, summary)
    print("written: " + ", ".join(str(p) for p in [path, *pngs]))
    return summary


def cmd_latency(args: argparse.Namespace) -> int:
    from benchmarks.latency.runner import RunOptions, run_sync

    options = RunOptions(tasks=args.tasks, rounds=args.rounds, warmup=args.warmup, chars_per_s=args.cps,
                         typed=args.typed, editor=args.editor, threads=args.threads, seed=args.seed,
                         out=args.out, record=getattr(args, "trace", None))

    def progress(done: int, total: int) -> None:
        print(f"\r{done} requests", end="", file=sys.stderr, flush=True)

    quiet()
    result = run_sync(configs_from_args(args), options, progress)
    print(file=sys.stderr)
    write_outputs(result, args.out, args.name)
    if options.record:
        print(f"trace: {options.record}")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from benchmarks.latency.trace import replay_sync

    quiet()
    try:
        result = replay_sync(args.trace, editor=args.editor, threads=args.threads, model=args.model,
                             speed=args.speed, until=args.until)
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot replay {args.trace}: {exc}") from exc
    write_outputs(result, args.out, args.name, plot=not args.no_plots)
    t = result["timing"]
    print(f"replayed {t['messages']} messages over {t['recorded_span_s']:.1f} s recorded; sent late by "
          f"p50 {t['late_ms_p50']:.1f} ms, p95 {t['late_ms_p95']:.1f} ms, max {t['late_ms_max']:.1f} ms")
    return 0


def profile_input(args: argparse.Namespace) -> tuple[str, str]:
    """Prefix and suffix from FILE:LINE:COL or from --prefix/--suffix (taken as they are: use $'...' for newlines)."""
    if (args.cursor is None) == (args.prefix is None):
        raise UsageError("give either FILE:LINE:COL or --prefix (with an optional --suffix)")
    if args.cursor is not None and args.suffix is not None:
        raise UsageError("--suffix goes with --prefix, not with FILE:LINE:COL")
    if args.cursor is None:
        return args.prefix, args.suffix or ""
    path, line, col = parse_cursor(args.cursor)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path} is not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    return split_at_cursor(text, line, col)


def cmd_profile(args: argparse.Namespace) -> int:
    prefix, suffix = profile_input(args)
    mode = args.mode or ("single" if prefix.split("\n")[-1].strip() or suffix.split("\n", 1)[0].strip()
                         else "multi")
    from benchmarks.profile import render, run_profile  # torch: only when asked for
    from engine.denoise.config import EngineConfig
    from engine.denoise.engine import Engine
    from engine.denoise.params import DenoiseParams
    from engine.weights.loader import ModelDirError

    try:
        params = DenoiseParams(steps=args.steps, mode=mode, span_tokens=args.span_tokens,
                               refresh_every=args.refresh_every, context_cache=not args.no_cache)
        engine = Engine(EngineConfig(model_dir=args.model, device=args.device, num_threads=args.threads))
    except (ModelDirError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    report = run_profile(engine, prefix, suffix, params, trace=args.trace, reuse_context=args.reuse_context)
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        render(report)
    return 0


def add_profile_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("profile", help="one request under the torch profiler: per-layer time, roofline per step")
    p.add_argument("cursor", nargs="?", default=None, help="FILE:LINE:COL (1-based)")
    p.add_argument("--prefix", default=None, help="text before the cursor (instead of FILE:LINE:COL)")
    p.add_argument("--suffix", default=None, help="text after the cursor")
    p.add_argument("--model", type=Path, default=None, help="model directory (default: embedded)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda")
    p.add_argument("--steps", type=int, default=16, help="denoising steps K")
    p.add_argument("--mode", default=None, choices=["single", "multi"], help="default: from the cursor's line")
    p.add_argument("--span-tokens", type=int, default=None, help="mask slots (default by mode)")
    p.add_argument("--refresh-every", type=int, default=0, help="recompute the whole sequence every N steps")
    p.add_argument("--no-cache", action="store_true", help="no context cache: every step is a full pass")
    p.add_argument("--reuse-context", action="store_true",
                   help="profile the next keystroke's request: the first pass reuses the warm-up's context")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--trace", type=Path, default=None, help="write the profiler's Chrome trace here")
    p.add_argument("--json", action="store_true", help="print the report as JSON instead of tables")
    p.set_defaults(func=cmd_profile)


def add_run_options(p: argparse.ArgumentParser) -> None:
    from benchmarks.latency.workloads import DEFAULT_SPEC

    p.add_argument("--model", type=Path, default=None, help="model directory (default: embedded)")
    p.add_argument("--tasks", default=DEFAULT_SPEC, help=f"task spec (default {DEFAULT_SPEC!r})")
    p.add_argument("--config", action="append", type=Path, metavar="A.toml", help="server settings; repeat")
    p.add_argument("--compare", action="store_true", help="ratios against the first config (default settings "
                   "are added first when only one --config is given)")
    p.add_argument("--rounds", type=int, default=2, help="passes over the holes")
    p.add_argument("--warmup", type=int, default=1, help="holes per server before measuring")
    p.add_argument("--cps", type=float, default=8.0, help="typing speed, characters per second")
    p.add_argument("--typed", type=int, default=3, help="characters typed before each cursor")
    p.add_argument("--seed", type=int, default=0)


def add_common(p: argparse.ArgumentParser, name: str) -> None:
    p.add_argument("--editor", default="vscode", choices=["vscode", "neovim"], help="client capabilities")
    p.add_argument("--threads", type=int, default=1, help="server torch threads")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="directory for the JSON and PNGs")
    p.add_argument("--name", default=name, help="file name stem of the outputs")


def add_parser(sub: argparse._SubParsersAction) -> None:
    bench = sub.add_parser("bench", help="latency harness: drive the real server as an editor would")
    kinds = bench.add_subparsers(dest="bench_command", required=True)
    p = kinds.add_parser("latency", help="simulated typing over HumanEval-Infilling and real files")
    add_run_options(p)
    add_common(p, "latency")
    p.set_defaults(func=cmd_latency)
    p = kinds.add_parser("record", help="the latency workload, with the server recording a msgpack trace")
    p.add_argument("trace", type=Path)
    add_run_options(p)
    add_common(p, "latency-recorded")
    p.set_defaults(func=cmd_latency)
    p = kinds.add_parser("replay", help="re-drive a server from a trace (`stipple serve --record`)")
    p.add_argument("trace", type=Path)
    p.add_argument("--model", type=Path, default=None, help="model directory (default: as recorded)")
    p.add_argument("--speed", type=float, default=1.0, help="time scale: 2 replays twice as fast")
    p.add_argument("--until", type=float, default=None, metavar="SECONDS",
                   help="replay only the messages of the first SECONDS of the recording")
    p.add_argument("--no-plots", action="store_true", help="the JSON and the tables only")
    add_common(p, "latency-replay")
    p.set_defaults(func=cmd_replay)
