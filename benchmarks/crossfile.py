"""Cross-file completion: the rest of a line that uses a name defined in another module of the same package,
completed with and without workspace context (lsp_server/workspace/, issue 19).

    python -m benchmarks.crossfile --model NAME --n N --threads T [--steps K] [--seed S] [--output FILE.json]
    python -m benchmarks.crossfile --retrieval-only --n 300      # retrieval recall and latency, no model

Projects: the held-out distributions of the training corpus (`engine.train.corpus.HELD_OUT_PACKAGES`:
attrs, click, requests) as installed here; each package's .py files are copied into a temporary folder,
its workspace, indexed by the server's own WorkspaceIndex. Cursors come from the index too: in a function
body, an identifier that is called (`f(`), read as an attribute (`x.f`) or passed as a keyword argument's
value (`key=f`) and that another file of the package defines, this file not (names of 4+ characters, no
dunders, defined in at most MAX_HOLDERS files, not a method of a builtin type); the cursor sits at the identifier's start and the target is the rest of the line. N cursors are
spread evenly over the packages, drawn with a generator seeded by (seed, package).

Each cursor's document is its file with the rest of the line removed; the completion goes the server's
way (lsp_server.suggest.complete_at, single-line mode) once without and once with the block that
retrieval returns for the cursor (budget: workspace_budget_share x max_prefix_tokens, the defaults).
Metrics: exact match and edit similarity (benchmarks.heldout_lines), whether retrieval put the target
name's definition in the block ("recall"), and the milliseconds retrieval adds per request (p50/p95,
after a warm-up, each cursor timed REPEATS times and its median kept).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmarks.heldout_cursors import files_in_corpus, find_manifest, package_sources
from benchmarks.heldout_lines import edit_similarity

RESULTS = Path(__file__).parent / "results" / "crossfile"
MIN_NAME, MAX_LINE = 4, 120
REPEATS = 5
MAX_HOLDERS = 2  # a name defined in more files (`name`, `get`) says little about which one is meant
BUILTIN_METHODS = frozenset(n for t in (dict, list, str, set, bytes) for n in dir(t))  # `.items(`: not cross-file
USES = {"call": "function", "attribute": "attribute", "keyword_argument": "value"}  # node -> field of the name


@dataclass(frozen=True)
class CrossCursor:
    """One hole whose line uses a name from another module."""

    cursor_id: str  # "PACKAGE-FILE:LINE:COLUMN" (1-based line, 0-based column)
    package: str
    file: str  # the path inside site-packages
    line: int
    column: int
    use: str  # "call", "attribute" or "keyword_argument"
    name: str  # the name used, defined in another file of the package
    target: str  # the rest of the line from the cursor


def copy_workspace(files: list[tuple[str, Path]], into: Path) -> dict[str, Path]:
    """Copy a package's .py files (paths in site-packages) under into; rel -> the copy."""
    copies = {}
    for rel, path in files:
        copies[rel] = into / rel
        copies[rel].parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, copies[rel])
    return copies


def find_cursors(package: str, copies: dict[str, Path], index) -> list[CrossCursor]:
    """Every eligible cursor of a package's workspace (see the module docstring)."""
    from lsp_server.languages import LANGUAGES

    parser, found = LANGUAGES["python"].parser(), []
    for rel, path in sorted(copies.items()):
        own = {d.name for d in index.outline_of(str(path)).definitions} if index.outline_of(str(path)) else set()
        source = path.read_bytes()
        lines = source.decode("utf-8").split("\n")
        seen_lines = set()
        stack = [parser.parse(source).root_node]
        while stack:
            node = stack.pop()
            stack.extend(reversed(node.children))
            if node.type not in USES or (name_node := node.child_by_field_name(USES[node.type])) is None:
                continue
            if node.type == "call" and name_node.type == "attribute":
                continue  # the attribute node itself is visited
            name = name_node.text.decode()
            if name_node.type != "identifier" or len(name) < MIN_NAME or name.startswith("__") or name in own:
                continue
            holders = {p for p, _ in index.definitions_named([name])} - {str(path)}
            row, column = name_node.start_point.row, name_node.start_point.column
            line = lines[row]
            if not holders or len(holders) > MAX_HOLDERS or name in BUILTIN_METHODS or row in seen_lines or not _in_function(node) or not (8 <= len(line.strip()) <= MAX_LINE):
                continue
            if "#" in line or '"' in line[column:] or "'" in line[column:] or not line[:column].isascii():
                continue
            seen_lines.add(row)
            found.append(CrossCursor(f"{package}-{rel}:{row + 1}:{column}", package, rel, row + 1, column,
                                     node.type, name, line[column:]))
    return found


def _in_function(node) -> bool:
    while node is not None:
        if node.type == "function_definition":
            return True
        node = node.parent
    return False


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered, pos = sorted(values), (len(values) - 1) * q / 100
    lo = int(pos)
    return ordered[lo] + (ordered[min(lo + 1, len(ordered) - 1)] - ordered[lo]) * (pos - lo)


def document_for(path: Path, cursor: CrossCursor):
    """The file with the rest of the cursor's line removed, as the server holds it, and the cursor offset."""
    from lsp_server.documents import UTF32, Document
    from lsp_server.languages import LANGUAGES

    lines = path.read_text(encoding="utf-8").split("\n")
    lines[cursor.line - 1] = lines[cursor.line - 1][: cursor.column]
    text = "\n".join(lines)
    offset = sum(len(line) + 1 for line in lines[: cursor.line - 1]) + cursor.column
    return Document(path.as_uri(), "python", 1, text, UTF32, LANGUAGES["python"]), offset


def retrieve_timed(service, doc, offset: int, budget: int) -> tuple[object, float]:
    """The block for a cursor and the median of REPEATS timings (ms), each as a keystroke's request: the
    document's outline recomputed, no previous selection, its identifier counts (refreshed every 50
    versions) kept."""
    times, result = [], None
    for _ in range(REPEATS):
        service.previous.pop(doc.uri, None)
        service.previous.pop(doc.uri, None)
        service._outlines.pop(doc.uri, None)  # recomputed per keystroke; identifier counts are not
        started = time.perf_counter()
        result = service.context_for(doc, offset, budget, {doc.uri: doc})
        times.append((time.perf_counter() - started) * 1000)
    return result, statistics.median(times)


def machine() -> dict:
    info = {"python": platform.python_version(), "platform": platform.platform(), "cpu_count": os.cpu_count()}
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        info["cpu"] = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                            if line.startswith("model name")), platform.machine())
    return info


def run(args: argparse.Namespace) -> dict:
    from lsp_server.settings import Settings
    from lsp_server.suggest import complete_at
    from lsp_server.workspace.service import WorkspaceService

    settings = Settings(steps=args.steps, threads=args.threads)
    budget = settings.workspace_budget
    sources = package_sources()
    if not sources:
        raise SystemExit("crossfile: none of the held-out packages is installed")
    engine = None if args.retrieval_only else build_engine(args)
    manifest = find_manifest(args.model, Path(engine.config.model_dir)) if engine is not None else None
    seen = files_in_corpus(sources, manifest)
    rows, index_stats = [], {}
    with tempfile.TemporaryDirectory(prefix="stipple-crossfile-") as tmp:
        for number, (package, (version, files)) in enumerate(sorted(sources.items())):
            root = Path(tmp) / package
            copies = copy_workspace(files, root)
            service = WorkspaceService()
            service.configure([str(root)])
            started = time.perf_counter()
            service.scan()
            service.stop()  # nothing changes on disk here
            index_stats[package] = {"version": version, "files": len(service.index),
                                    "names": len(service.index.by_name),
                                    "index_ms": round((time.perf_counter() - started) * 1000, 1)}
            cursors = find_cursors(package, copies, service.index)
            share = args.n // len(sources) + (number < args.n % len(sources))
            chosen = random.Random(f"{args.seed}:{package}").sample(cursors, min(share, len(cursors)))
            index_stats[package]["eligible_cursors"] = len(cursors)
            for cursor in sorted(chosen, key=lambda c: c.cursor_id):
                doc, offset = document_for(copies[cursor.file], cursor)
                result, retrieval_ms = retrieve_timed(service, doc, offset, budget)
                row = {**asdict(cursor), "retrieval_ms": round(retrieval_ms, 3), "context_chars": len(result.block),
                       "context_files": result.files, "recall": cursor.name in result.names,
                       "in_model_corpus": None if seen is None else cursor.file in seen}
                if engine is not None:
                    for label, preamble in (("without", ""), ("with", result.block)):
                        started = time.perf_counter()
                        verdict = complete_at(engine, doc, offset, settings, mode="single", preamble=preamble)
                        text = verdict.text or ""
                        row[label] = {"completion": text, "outcome": verdict.outcome,
                                      "exact": text.strip() == cursor.target.strip(),
                                      "edit_sim": round(edit_similarity(text, cursor.target), 4),
                                      "latency_ms": round((time.perf_counter() - started) * 1000, 1)}
                rows.append(row)
                if not args.quiet:
                    print(f"crossfile: {len(rows)}/{args.n} {cursor.cursor_id}", file=sys.stderr)
    return {"benchmark": "crossfile", "model": str(engine.config.model_dir) if engine else None,
            "model_arg": args.model, "steps": args.steps if engine else None, "budget_tokens": budget,
            "max_prefix_tokens": settings.max_prefix_tokens, "seed": args.seed, "n": args.n,
            "machine": {**machine(), **(torch_info(args.threads) if engine else {})},
            "packages": index_stats, "summary": summarize(rows, engine is not None), "rows": rows}


def build_engine(args: argparse.Namespace):
    from engine.denoise.config import EngineConfig
    from engine.denoise.engine import Engine

    return Engine(EngineConfig(model_dir=args.model, device=args.device, num_threads=args.threads))


def torch_info(threads: int | None) -> dict:
    import torch

    return {"torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def summarize(rows: list[dict], with_model: bool) -> dict:
    latencies = [r["retrieval_ms"] for r in rows]
    summary = {"n": len(rows), "recall": sum(r["recall"] for r in rows) / len(rows) if rows else None,
               "retrieval_p50_ms": percentile(latencies, 50), "retrieval_p95_ms": percentile(latencies, 95),
               "context_chars_mean": statistics.fmean(r["context_chars"] for r in rows) if rows else None}
    if with_model and rows:
        for label in ("without", "with"):
            summary[label] = {"exact_match": sum(r[label]["exact"] for r in rows) / len(rows),
                              "edit_similarity": statistics.fmean(r[label]["edit_sim"] for r in rows),
                              "nonempty_rate": sum(bool(r[label]["completion"].strip()) for r in rows) / len(rows),
                              "p50_latency_ms": percentile([r[label]["latency_ms"] for r in rows], 50)}
    return summary


def table(report: dict) -> str:
    s = report["summary"]
    lines = [f"cursors {s['n']}, retrieval recall {s['recall']:.1%}, retrieval p50 {s['retrieval_p50_ms']:.2f} ms, "
             f"p95 {s['retrieval_p95_ms']:.2f} ms, block {s['context_chars_mean']:.0f} chars (budget "
             f"{report['budget_tokens']} tokens)"]
    if "with" in s:
        lines += ["| workspace context | exact | edit sim | non-empty | p50 ms |", "|---|---|---|---|---|"]
        lines += [f"| {label} | {s[label]['exact_match']:.1%} | {s[label]['edit_similarity']:.3f} | "
                  f"{s[label]['nonempty_rate']:.1%} | {s[label]['p50_latency_ms']:.0f} |" for label in ("without", "with")]
    lines.append("Packages: " + ", ".join(f"{p} {v['version']}" for p, v in report["packages"].items()) + ".")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="a model directory or a shipped model's name (default: embedded)")
    parser.add_argument("--n", type=int, default=60, help="cursors, spread evenly over the packages")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--steps", type=int, default=16, help="denoising steps K")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--retrieval-only", action="store_true", help="no model: retrieval recall and latency")
    parser.add_argument("--output", type=Path, default=None, help=f"default: {RESULTS}/<model>-n<N>.json")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    report = run(args)
    name = "retrieval-only" if args.retrieval_only else Path(report["model"]).name
    output = args.output or RESULTS / f"{name}-n{args.n}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(table(report))
    print(f"crossfile: wrote {output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
