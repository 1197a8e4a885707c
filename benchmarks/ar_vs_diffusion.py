"""Diffusion versus autoregressive on HumanEval-Infilling: every model by the same command, one table.

    python -m benchmarks.ar_vs_diffusion run --out benchmarks/results/ar-vs-diffusion/cpu [--stride-single 9]
    python -m benchmarks.ar_vs_diffusion table benchmarks/results/ar-vs-diffusion/cpu [more dirs ...]

`run` calls `stipple eval humaneval-infill` once per split and configuration: the autoregressive FIM
twin, the untouched base from the prefix only, and the diffusion model at K = 4, 8, 16, 32 and with
threshold decoding; `--reference MODEL` adds another diffusion model at K = 32 (say, an adapter
trained longer than the twin). All read the same tasks (one split, one stride); a report already
written is kept, so an interrupted run resumes. `table` turns the reports into markdown, one table per device
and split, with each row's latency as a multiple of the twin's; it refuses reports whose task sets
differ, so a table never compares different tasks.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

SPLITS = ("single-line", "multi-line")
STEPS = (4, 8, 16, 32)
COLUMNS = ("model", "completer", "decoding", "tasks", "pass@1 non-blank", "p50 ms", "p95 ms",
           "p50 ÷ twin", "p95 ÷ twin")


def configurations(twin: str, base: str, diffusion: str, threshold: float,
                   reference: str | None = None) -> list[tuple[str, list[str]]]:
    """(name, stipple eval arguments) for every model and decoding setting, in table order."""
    configs = [("ar-fim", ["--completer", "ar-fim", "--model", twin]),
               ("ar-prefix", ["--completer", "ar-prefix", "--model", base])]
    configs += [(f"diffusion-k{k}", ["--model", diffusion, "--steps", str(k)]) for k in STEPS]
    configs.append(("diffusion-threshold", ["--model", diffusion, "--steps", str(max(STEPS)), "--strategy",
                                            "threshold", "--threshold", str(threshold)]))
    if reference:
        configs.append((f"reference-k{max(STEPS)}", ["--model", reference, "--steps", str(max(STEPS))]))
    return configs


def run(args: argparse.Namespace) -> int:
    from benchmarks.cli import main as stipple

    args.out.mkdir(parents=True, exist_ok=True)
    strides = {"single-line": args.stride_single, "multi-line": args.stride_multi}
    failed = []
    for split in args.splits:
        for name, extra in configurations(args.twin, args.base, args.diffusion, args.threshold, args.reference):
            report = args.out / f"{split}-{name}.json"
            if report.exists() and not args.force:
                continue
            argv = ["eval", "humaneval-infill", "--split", split, "--stride", str(strides[split]),
                    "--device", args.device, "--output", str(report), "--quiet", *extra]
            if args.limit:
                argv += ["--limit", str(args.limit)]
            if args.threads:
                argv += ["--threads", str(args.threads)]
            print(f"ar_vs_diffusion: stipple {' '.join(argv)}", file=sys.stderr)
            if stipple(argv) != 0:
                failed.append(f"{split}-{name}")
    if failed:
        print(f"ar_vs_diffusion: failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def device_label(report: dict) -> str:
    machine = report.get("machine", {})
    if str(report.get("device", "cpu")).startswith("cuda"):
        return f"GPU ({machine.get('cuda') or 'CUDA'})"
    return f"CPU ({machine.get('processor', '?')}, {machine.get('torch_threads', '?')} torch thread(s))"


def decoding(report: dict) -> str:
    completer = report.get("completer", "diffusion")
    if completer == "ar-fim":
        return "greedy, KV cache, PSM"
    if completer == "ar-prefix":
        return "greedy, KV cache, prefix only"
    guide = f", guided by {report['guide']}" if report.get("guide") else ""
    if report.get("strategy") == "threshold":
        order = ", left to right" if report.get("block_length") == 1 else ""
        return f"threshold τ = {report.get('threshold')}{order}, K ≤ {report.get('steps')}{guide}"
    if report.get("block_length"):
        return f"K ≤ {report.get('steps')}, blocks of {report['block_length']} left to right{guide}"
    return f"K = {report.get('steps')}"


def order(report: dict) -> tuple:
    completer = report.get("completer", "diffusion")
    rank = {"ar-fim": 0, "ar-prefix": 1}.get(completer, 2)
    return rank, model_label(report), report.get("strategy") == "threshold", report.get("steps") or 0


def model_label(report: dict) -> str:
    """The model's name: a cached model directory's name without its adapter hash."""
    return re.sub(r"-[0-9a-f]{16}$", "", Path(str(report.get("model", "?"))).name)


def guide_label(engine) -> str | None:
    """An engine's guide (engine/denoise/guide.py) as reports name it, None without one."""
    guide = getattr(engine, "guide", None)
    return None if guide is None else f"{model_label({'model': guide.loaded.path})} (w {guide.weight})"


def table(reports: list[dict]) -> str:
    """Markdown: a heading and a table per (device, split); ratios against that group's ar-fim row."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for report in reports:
        groups.setdefault((device_label(report), str(report.get("split"))), []).append(report)
    blocks = []
    for device, split in sorted(groups, key=lambda key: (key[0], split_rank(key[1]))):
        group = groups[(device, split)]
        task_sets = {tuple(r["task_id"] for r in report["results"]) for report in group}
        if len(task_sets) != 1:
            raise ValueError(f"{split} on {device}: the reports cover different tasks; rerun them together")
        group.sort(key=order)
        twin = next((r for r in group if r.get("completer") == "ar-fim"), None)
        lines = [f"**{split}, {device}**", "", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
        for report in group:
            lines.append("| " + " | ".join(row(report, twin)) + " |")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def split_rank(split: str) -> int:
    return SPLITS.index(split) if split in SPLITS else len(SPLITS)


def row(report: dict, twin: dict | None) -> list[str]:
    def ratio(key: str) -> str:
        if twin is None or not twin.get(key) or report.get(key) is None:
            return "–"
        return f"{report[key] / twin[key]:.2f}×"

    def ms(key: str) -> str:
        return "–" if report.get(key) is None else f"{report[key]:.0f}"

    return [model_label(report), report.get("completer", "diffusion"), decoding(report), str(report.get("n_tasks")),
            f"{100 * report['pass_at_1_nonblank']:.1f}%", ms("p50_latency_ms"), ms("p95_latency_ms"),
            ratio("p50_latency_ms"), ratio("p95_latency_ms")]


def load(paths: list[Path]) -> list[dict]:
    files = [f for p in paths for f in (sorted(p.glob("*.json")) if p.is_dir() else [p])]
    reports = [json.loads(f.read_text()) for f in files]
    return [r for r in reports if "results" in r and "pass_at_1_nonblank" in r]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="evaluate every configuration into --out")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--twin", default="smollm2-ar-fim")
    p.add_argument("--base", default="smollm2-base")
    p.add_argument("--diffusion", default="smollm2-dllm")
    p.add_argument("--reference", default=None, help="another diffusion model, evaluated at K = 32 only")
    p.add_argument("--threshold", type=float, default=0.9)
    p.add_argument("--splits", nargs="+", default=list(SPLITS), choices=SPLITS)
    p.add_argument("--stride-single", type=int, default=9, help="every 9th of 1033 tasks: 115")
    p.add_argument("--stride-multi", type=int, default=60, help="every 60th of 5815 tasks: 97")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--force", action="store_true", help="rerun configurations that have a report")
    p = sub.add_parser("table", help="markdown tables from report files or folders")
    p.add_argument("paths", nargs="+", type=Path)
    args = parser.parse_args(argv)
    if args.command == "run":
        return run(args)
    print(table(load(args.paths)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
