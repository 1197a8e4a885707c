"""Held-out real code: exact match and edit similarity on single lines of packages kept out of the corpus.

    python -m benchmarks.heldout_lines run --model M [--completer diffusion|ar-prefix|ar-fim] [--steps K]
        [--strategy S] [--n 120] [--seed 0] [--threads 2] --output FILE.json
    python -m benchmarks.heldout_lines table FILE.json ...

The cursors (benchmarks/heldout_cursors.py) are lines of attrs, click and requests, the packages the
training corpus excludes; the report names those installed, with their versions. Each cursor is
completed in "single" mode by `engine.infill`, as the evaluation does, after one untimed request.

Metrics: exact match (completion.strip() == target.strip()), edit similarity (1 - Levenshtein
distance / the longer length, on the stripped texts; a real character-level Levenshtein, not
difflib's ratio), non-empty rate and latency p50/p95. The shipped models were trained before the
exclusion: each row says whether its file was in that model's corpus (None: no manifest, as for the
pretrained smollm2-base, whose pretraining data may well hold these packages), and the summary and
the table repeat the metrics on the clean cursors.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

from benchmarks.heldout_cursors import (KINDS, Cursor, files_in_corpus, find_manifest, package_sources, select_cursors,
                                        selection_record)


def levenshtein(a: str, b: str) -> int:
    """Character edit distance (insertions, deletions, substitutions), two-row dynamic programme."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def edit_similarity(completion: str, target: str) -> float:
    """1 - Levenshtein / longer length, on the stripped texts; 1.0 when both are empty."""
    a, b = completion.strip(), target.strip()
    return 1.0 - levenshtein(a, b) / max(len(a), len(b)) if a or b else 1.0


def _percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    ordered, pos = sorted(values), (len(values) - 1) * q / 100
    lo = int(pos)
    return ordered[lo] + (ordered[min(lo + 1, len(ordered) - 1)] - ordered[lo]) * (pos - lo)


def summarize(rows: list[dict]) -> dict:
    """Rates and means over rows; by kind, by package, and over the rows whose file the model never saw."""
    def rates(subset: list[dict]) -> dict:
        n = len(subset)
        return {"n": n, "exact_match": sum(r["exact"] for r in subset) / n if n else None,
                "edit_similarity": statistics.fmean(r["edit_sim"] for r in subset) if n else None,
                "nonempty_rate": sum(bool(r["completion"].strip()) for r in subset) / n if n else None}

    latencies = [r["latency_ms"] for r in rows]
    packages = sorted({r["package"] for r in rows})
    return {**rates(rows), "p50_latency_ms": _percentile(latencies, 50), "p95_latency_ms": _percentile(latencies, 95),
            "mean_latency_ms": statistics.fmean(latencies) if latencies else None,
            "by_kind": {k: rates([r for r in rows if r["kind"] == k]) for k in KINDS},
            "by_package": {p: rates([r for r in rows if r["package"] == p]) for p in packages},
            "clean": rates([r for r in rows if r["in_model_corpus"] is False])}


def machine_info() -> dict:
    import torch

    cpu = platform.processor() or platform.machine()
    if Path("/proc/cpuinfo").is_file():
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), cpu)
    return {"cpu": cpu, "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "python": platform.python_version(), "platform": platform.platform(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def build_engine(args: argparse.Namespace):
    """The completer's engine, built from engine/ directly (benchmarks never import the server's CLI)."""
    from engine.ar.twin import build_engine as build
    from engine.denoise.config import EngineConfig

    config = EngineConfig(model_dir=args.model, device=args.device, num_threads=args.threads, dtype=args.dtype,
                          guide=args.guide)
    return build(config, args.completer)


def complete_all(engine, cursors: list[Cursor], params, seen: set[str] | None, progress: bool) -> list[dict]:
    """Complete and score every cursor, timing each request; seen: the files in the model's corpus, if known."""
    from engine.denoise.params import DenoiseParams

    engine.infill("def f(x):\n    return ", "\n", DenoiseParams(steps=params.steps, mode="single", span_tokens=4))
    rows = []
    for number, cursor in enumerate(cursors, 1):
        started = time.perf_counter()
        text = engine.infill(cursor.prefix, cursor.suffix, params).text
        latency = (time.perf_counter() - started) * 1000
        rows.append({"cursor_id": cursor.cursor_id, "package": cursor.package, "file": cursor.file,
                     "line": cursor.line, "column": cursor.column, "kind": cursor.kind, "target": cursor.target,
                     "completion": text, "exact": text.strip() == cursor.target.strip(),
                     "edit_sim": round(edit_similarity(text, cursor.target), 4), "latency_ms": round(latency, 2),
                     "in_model_corpus": None if seen is None else cursor.file in seen})
        if progress and number % 10 == 0:
            print(f"heldout_lines: {number}/{len(cursors)}", file=sys.stderr)
    return rows


def cmd_run(args: argparse.Namespace) -> int:
    from benchmarks.ar_vs_diffusion import guide_label
    from engine.denoise.params import DenoiseParams
    from engine.weights.loader import ModelDirError

    sources = package_sources()
    try:
        cursors = select_cursors(args.n, args.seed, sources)
    except ValueError as exc:
        print(f"heldout_lines: {exc}", file=sys.stderr)
        return 2
    try:
        params = DenoiseParams(steps=args.steps, mode="single", span_tokens=args.span_tokens,
                               strategy=args.strategy, threshold=args.threshold, block_length=args.block_length)
        engine = build_engine(args)
    except (ModelDirError, ValueError) as exc:
        print(f"heldout_lines: cannot load model: {exc}", file=sys.stderr)
        return 2
    model_dir = Path(engine.config.model_dir)
    manifest = find_manifest(args.model, model_dir)
    seen = files_in_corpus(sources, manifest)
    rows = complete_all(engine, cursors, params, seen, not args.quiet)
    diffusion = args.completer == "diffusion"
    report = {
        "benchmark": "heldout-lines", "model": str(model_dir), "model_arg": str(args.model),
        "completer": args.completer, "steps": args.steps if diffusion else None,
        "strategy": args.strategy if diffusion else None,
        "threshold": args.threshold if diffusion and args.strategy == "threshold" else None,
        "block_length": args.block_length if diffusion else None, "mode": "single", "span_tokens": params.span_tokens, "device": str(engine.config.device),
        "dtype": engine.config.dtype, "guide": guide_label(engine), "machine": machine_info(),
        "selection": selection_record(args.n, args.seed, sources),
        "model_corpus": {"manifest": str(manifest) if manifest else None,
                         "held_out_files_in_corpus": None if seen is None else sorted(seen)},
        "summary": summarize(rows), "rows": rows}
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(table([report]))
    return 0


COLUMNS = ("model", "completer", "decoding", "dtype", "cursors", "exact", "edit sim", "non-empty",
           "exact line-start", "exact mid-line", "clean cursors", "exact clean", "edit sim clean", "p50 ms", "p95 ms")


def table(reports: list[dict]) -> str:
    """Markdown, one row per report, then the packages and machines. Refuses reports over different
    cursors. "clean" is the same cursors for every row: those whose file no report's model corpus holds."""
    from benchmarks.ar_vs_diffusion import decoding, model_label

    if len({tuple(r["cursor_id"] for r in report["rows"]) for report in reports}) > 1:
        raise ValueError("the reports cover different cursors (another --n, --seed or package set); "
                         "rerun them together")
    seen = {row["cursor_id"] for report in reports for row in report["rows"] if row["in_model_corpus"]}

    def pct(value: float | None) -> str:
        return "–" if value is None else f"{100 * value:.1f}%"

    def num(value: float | None, fmt: str) -> str:
        return "–" if value is None else fmt.format(value)

    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in reports:
        s, kind = r["summary"], r["summary"]["by_kind"]
        clean = summarize([row for row in r["rows"] if row["cursor_id"] not in seen])
        cells = [model_label(r), r["completer"], decoding(r), r.get("dtype", "?"), str(s["n"]), pct(s["exact_match"]),
                 num(s["edit_similarity"], "{:.3f}"), pct(s["nonempty_rate"]), pct(kind["line-start"]["exact_match"]),
                 pct(kind["mid-line"]["exact_match"]), str(clean["n"]), pct(clean["exact_match"]),
                 num(clean["edit_similarity"], "{:.3f}"), num(s["p50_latency_ms"], "{:.0f}"),
                 num(s["p95_latency_ms"], "{:.0f}")]
        lines.append("| " + " | ".join(cells) + " |")
    packages = sorted({f"{p} {v}" for r in reports for p, v in r["selection"]["packages"].items()})
    unknown = sorted({model_label(r) for r in reports if r["model_corpus"]["manifest"] is None})
    machines = sorted({f"{r['machine']['cpu']}, {r['machine']['torch_threads']} thread(s)"
                       + (f", {r['machine']['cuda']}" if str(r.get("device")).startswith("cuda") else "")
                       for r in reports})
    notes = [f"Packages: {', '.join(packages)}.", f"Machine: {'; '.join(machines)}."]
    if unknown:
        notes.append(f"No corpus manifest (training data unknown): {', '.join(unknown)}.")
    return "\n".join(lines) + "\n\n" + " ".join(notes)


def add_engine_arguments(p: argparse.ArgumentParser) -> None:
    from engine.denoise.params import COMPLETERS, DTYPES, STRATEGIES  # torch-free

    p.add_argument("--model", default=None, help="a model directory or a shipped model's name (default: embedded)")
    p.add_argument("--completer", default="diffusion", choices=COMPLETERS)
    p.add_argument("--steps", type=int, default=16, help="denoising steps K (diffusion)")
    p.add_argument("--strategy", default="confidence", choices=STRATEGIES)
    p.add_argument("--threshold", type=float, default=0.9, help="--strategy threshold: commit above this")
    p.add_argument("--span-tokens", type=int, default=None, help="mask slots / most tokens (default: single mode's)")
    p.add_argument("--block-length", type=int, default=None,
                   help="semi-autoregressive blocks of this many slots, left to right (default: one block)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda")
    p.add_argument("--dtype", default="auto", choices=DTYPES)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--guide", default="auto", help="auto (the model's own), none, or a model name/directory")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="complete N held-out cursors with one model and write a JSON report")
    p.add_argument("--n", type=int, default=120, help="cursors, spread evenly over the packages")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output", type=Path, required=True)
    p.add_argument("--quiet", action="store_true")
    add_engine_arguments(p)
    p = sub.add_parser("table", help="a markdown table from run reports")
    p.add_argument("reports", nargs="+", type=Path)
    args = parser.parse_args(argv)
    if args.command == "run":
        return cmd_run(args)
    try:
        print(table([json.loads(path.read_text(encoding="utf-8")) for path in args.reports]))
    except ValueError as exc:
        print(f"heldout_lines: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
