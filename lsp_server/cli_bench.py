"""`stipple bench latency|record|replay`: the latency harness (benchmarks/latency) from the command line.

    stipple bench latency [--model DIR] [--tasks SPEC] [--config A.toml ...] [--compare] [--rounds N] [--out DIR]
    stipple bench record TRACE.msgpack [same options]   the latency workload, the server recording a trace
    stipple bench replay TRACE.msgpack [--out DIR]      re-drive a server from a trace, same timing

A config is a TOML file of server settings (lsp_server/settings.py names, snake_case or camelCase) and
an optional `name`. The tables go to stdout; the JSON (every sample, the machine) and PNGs to --out.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

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


def write_outputs(result: dict, out: Path, name: str) -> dict:
    from benchmarks.latency import plots, report

    summary = report.summarize(result)
    result["summary"] = summary
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    pngs = plots.write_all(result, summary, out, name)
    report.render(result, summary)
    print(f"written: {path}, " + ", ".join(str(p) for p in pngs))
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
    result = replay_sync(args.trace, editor=args.editor, threads=args.threads, model=args.model, speed=args.speed)
    write_outputs(result, args.out, args.name)
    return 0


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
    add_common(p, "latency-replay")
    p.set_defaults(func=cmd_replay)
