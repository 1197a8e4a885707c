"""Quality and speed of the sampler's settings on HumanEval-Infilling, in one process, one model load.

    python -m benchmarks.sweep run --model smollm2-dllm --split single-line --stride 27 \\
        --out benchmarks/results/sweep-single-line.json
    python -m benchmarks.sweep plot benchmarks/results/sweep-single-line.json
    python -m benchmarks.sweep table benchmarks/results/sweep-single-line.json

Configurations (each over the same tasks, executed tests, interleaved in one run):
- `steps`: each strategy (confidence, margin, entropy) at K = 4, 8, 16, 32, 64, context cache on;
- `threshold`: confidence-threshold decoding at each tau, K = 32 as the bound;
- `exact`: K = 32 with the cache refreshed at every step (full recompute): the quality reference;
- `blocks`: semi-autoregressive blocks (LLaDA) of 1 and 8 slots at K = 32: block 1 decodes left to
  right, the order the pretrained autoregressive base knows;
- `keystroke`: each task asked twice under one document key, first with the last few characters of
  the prompt missing (the keystroke before), then whole: the second reuses the first's context
  keys/values (engine/denoise/context_store.py). Compared with the same K without reuse, it gives the
  quality cost of reuse and its prefill speed-up.
The JSON keeps every configuration's summary and per-task rows; `plot` draws pass@1 against K and
against tau per strategy, and p50 latency against K.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

from benchmarks import humaneval_infill as he

STRATEGIES = ("confidence", "margin", "entropy")


def configs(args: argparse.Namespace) -> list[dict]:
    out = [{"kind": "steps", "strategy": "confidence", "steps": k} for k in args.steps]
    out += [{"kind": "threshold", "strategy": "threshold", "steps": 32, "threshold": t} for t in args.thresholds]
    out += [{"kind": "exact", "strategy": "confidence", "steps": 32, "refresh_every": 1}]
    out += [{"kind": "keystroke", "strategy": "confidence", "steps": args.keystroke_steps}]
    out += [{"kind": "blocks", "strategy": "confidence", "steps": 32, "block_length": b} for b in args.blocks]
    out += [{"kind": "steps", "strategy": s, "steps": k} for s in args.strategies if s != "confidence"
            for k in args.steps]
    return out


def config_name(config: dict) -> str:
    keys = ("kind", "strategy", "steps", "threshold", "block_length")
    return json.dumps({k: v for k, v in config.items() if k in keys}, sort_keys=True)


def run_config(engine, tasks: list[dict], config: dict, mode: str, seed: int) -> list[dict]:
    from engine.denoise.params import DenoiseParams
    from engine.denoise.request import SpanRequest

    params = DenoiseParams(steps=config["steps"], mode=mode, strategy=config["strategy"],
                           threshold=config.get("threshold", 0.9), refresh_every=config.get("refresh_every", 0),
                           block_length=config.get("block_length"))
    rng = random.Random(seed)
    rows = []
    for task in tasks:
        prompt, suffix = task["prompt"], task["suffix"]
        earlier_ms = None
        if config["kind"] == "keystroke":
            cut = rng.randint(1, 6)  # the characters typed since the previous request
            started = time.perf_counter()
            engine.generate(SpanRequest(prompt[:-cut], suffix, params, cache_key=task["task_id"]))
            earlier_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        key = task["task_id"] if config["kind"] == "keystroke" else None
        result = engine.generate(SpanRequest(prompt, suffix, params, cache_key=key))
        latency = (time.perf_counter() - started) * 1000
        engine.forget(task["task_id"])
        rows.append({"task_id": task["task_id"], "completion": result.text, "steps": result.steps_done,
                     "latency_ms": round(latency, 2), "prefill_ms": round(result.timings_ms.get("prefill", 0.0), 2),
                     "reused_tokens": result.reused_tokens, "earlier_ms": earlier_ms})
    return rows


def summarize(config: dict, report: dict, rows: list[dict]) -> dict:
    prefill = [r["prefill_ms"] for r in rows]
    return {**config, "tasks": report["n_tasks"], "pass_at_1": report["pass_at_1"],
            "pass_at_1_nonblank": report["pass_at_1_nonblank"], "exact_match": report["exact_match"],
            "blank_rate": report["blank_rate"], "latency_p50_ms": round(report["p50_latency_ms"], 1),
            "latency_p95_ms": round(report["p95_latency_ms"], 1),
            "prefill_p50_ms": round(statistics.median(prefill), 2),
            "mean_steps": round(statistics.fmean(r["steps"] for r in rows), 2),
            "mean_reused_tokens": round(statistics.fmean(r["reused_tokens"] for r in rows), 1)}


def cmd_run(args: argparse.Namespace) -> int:
    from benchmarks.cli_eval import MODE_OF_SPLIT, machine_info
    from engine.denoise.config import EngineConfig
    from engine.denoise.engine import Engine

    tasks = he.load_tasks(args.split, None, args.limit, args.stride)
    mode = MODE_OF_SPLIT[args.split]
    engine = Engine(EngineConfig(model_dir=args.model, num_threads=args.threads))
    engine.infill("def f(x):\n", "\n")  # warm-up, untimed
    result = {"model": str(engine.config.model_dir), "split": args.split, "stride": args.stride,
              "mode": mode, "machine": machine_info(), "configs": []}
    if args.out.exists() and args.resume:
        result = json.loads(args.out.read_text())
    done = {config_name(c) for c in result["configs"]}
    for config in configs(args):
        if args.kinds and config["kind"] not in args.kinds:
            continue
        if config_name(config) in done:
            continue
        started = time.monotonic()
        rows = run_config(engine, tasks, config, mode, args.seed)
        report = he.evaluate(tasks, rows, workers=1, split=args.split)
        summary = summarize(config, report, rows)
        result["configs"].append({**summary, "rows": rows})
        args.out.write_text(json.dumps(result, indent=1) + "\n")  # after each: an interrupted run resumes
        print(f"{config} -> pass@1 {summary['pass_at_1']:.3f} p50 {summary['latency_p50_ms']:.0f} ms "
              f"({time.monotonic() - started:.0f} s)", file=sys.stderr)
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    result = json.loads(args.result.read_text())
    configs = result["configs"]
    fig, (by_k, by_tau, speed) = plt.subplots(1, 3, figsize=(15, 4.2))
    for strategy, style in zip(STRATEGIES, ("o-", "s--", "^:")):  # distinct marks: equal curves overlap
        rows = sorted((c for c in configs if c["kind"] == "steps" and c["strategy"] == strategy),
                      key=lambda c: c["steps"])
        if rows:
            by_k.plot([c["steps"] for c in rows], [100 * c["pass_at_1_nonblank"] for c in rows], style,
                      label=strategy, mfc="none")
            speed.plot([c["steps"] for c in rows], [c["latency_p50_ms"] for c in rows], style, label=strategy)
    for c in configs:
        if c["kind"] == "exact":
            by_k.axhline(100 * c["pass_at_1_nonblank"], color="grey", ls="--", label="K=32, full recompute")
        if c["kind"] == "keystroke":
            by_k.plot([c["steps"]], [100 * c["pass_at_1_nonblank"]], "k*", ms=12, label="context reused (keystroke)")
    tau = sorted((c for c in configs if c["kind"] == "threshold"), key=lambda c: c["threshold"])
    if tau:
        by_tau.plot([c["threshold"] for c in tau], [100 * c["pass_at_1_nonblank"] for c in tau], "o-", color="C3")
        for c in tau:
            by_tau.annotate(f"{c['mean_steps']:.1f} steps", (c["threshold"], 100 * c["pass_at_1_nonblank"]),
                            textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8)
    for ax in (by_k, speed):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("denoising steps K")
    by_k.set_ylabel("pass@1 non-blank (%)")
    by_k.legend(fontsize=8)
    speed.set_ylabel("latency p50 (ms)")
    speed.legend(fontsize=8)
    by_tau.set_xlabel("threshold tau (K = 32 bound)")
    by_tau.set_ylabel("pass@1 non-blank (%)")
    name = Path(result["model"]).name
    fig.suptitle(f"{name}, HumanEval-Infilling {result['split']} ({configs[0]['tasks']} tasks), "
                 f"{result['machine']['torch_threads']} CPU thread(s)")
    fig.tight_layout()
    out = args.result.with_suffix(".png")
    fig.savefig(out, dpi=110)
    print(out)
    return 0


def cmd_table(args: argparse.Namespace) -> int:
    """A markdown table of every configuration (what the README shows)."""
    result = json.loads(args.result.read_text())
    print("| setting | K | tau | mean steps | pass@1 non-blank | exact | p50 ms | prefill p50 ms | reused tokens |")
    print("|---|---|---|---|---|---|---|---|---|")
    for c in result["configs"]:
        setting = {"steps": c["strategy"], "threshold": "threshold", "exact": "confidence, full recompute",
                   "keystroke": "confidence, context reused", "blocks": f"semi-AR blocks of {c.get('block_length')}"}
        print(f"| {setting[c['kind']]} | {c['steps']} | {c.get('threshold') or '–'} | {c['mean_steps']:.1f} "
              f"| {100 * c['pass_at_1_nonblank']:.1f}% | {100 * c['exact_match']:.1f}% | {c['latency_p50_ms']:.0f} "
              f"| {c['prefill_p50_ms']:.0f} | {c['mean_reused_tokens']:.0f} |")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sweep", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run")
    run.add_argument("--model", default="smollm2-dllm")
    run.add_argument("--split", default="single-line", choices=sorted(he.SPLITS))
    run.add_argument("--stride", type=int, default=27)
    run.add_argument("--limit", type=int, default=None)
    run.add_argument("--steps", type=lambda s: [int(x) for x in s.split(",")], default=[4, 8, 16, 32, 64])
    run.add_argument("--thresholds", type=lambda s: [float(x) for x in s.split(",")], default=[0.5, 0.7, 0.9, 0.95])
    run.add_argument("--strategies", type=lambda s: s.split(","), default=list(STRATEGIES))
    run.add_argument("--keystroke-steps", type=int, default=16)
    run.add_argument("--blocks", type=lambda s: [int(x) for x in s.split(",")], default=[1, 8],
                     help="semi-autoregressive block lengths tried at K = 32")
    run.add_argument("--kinds", type=lambda s: s.split(","), default=None,
                     help="only these kinds (steps, threshold, exact, keystroke, blocks)")
    run.add_argument("--threads", type=int, default=1)
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--resume", action="store_true", help="skip configurations already in --out")
    run.add_argument("--out", type=Path, required=True)
    run.set_defaults(func=cmd_run)
    table = sub.add_parser("table")
    table.add_argument("result", type=Path)
    table.set_defaults(func=cmd_table)
    plot = sub.add_parser("plot")
    plot.add_argument("result", type=Path)
    plot.set_defaults(func=cmd_plot)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
