"""Behaviour of benchmarks.humaneval_infill: loading, checking and scoring completions."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from benchmarks import humaneval_infill as he
from benchmarks.humaneval_data import derive_tasks

# A blank infill is correct for the first task (it only inserts a no-op line) and a
# syntax error for the second; that is what makes blank completions worth reporting apart.
FAKE_TASKS = [
    {
        "task_id": "SingleLineInfilling/Fake/0/L1",
        "entry_point": "ident",
        "prompt": "def ident(x):\n    y = x\n",
        "suffix": "    return y\n",
        "canonical_solution": "    y = y + 0\n",
        "test": "def check(candidate):\n    assert candidate(2) == 2\n    assert candidate(-5) == -5\n",
    },
    {
        "task_id": "SingleLineInfilling/Fake/1/L0",
        "entry_point": "add",
        "prompt": "def add(a, b):\n",
        "suffix": "",
        "canonical_solution": "    return a + b\n",
        "test": "def check(candidate):\n    assert candidate(1, 2) == 3\n",
    },
    {
        "task_id": "SingleLineInfilling/Fake/2/L0",
        "entry_point": "neg",
        "prompt": "def neg(a):\n",
        "suffix": "",
        "canonical_solution": "    return -a\n",
        "test": "def check(candidate):\n    assert candidate(4) == -4\n",
    },
]


def _row(task: dict, completion: str, latency_ms: float | None = None, steps: int | None = None) -> dict:
    return {"task_id": task["task_id"], "completion": completion, "latency_ms": latency_ms, "steps": steps}


def test_missing_data_dir_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match="nowhere") as info:
        he.load_tasks("single-line", data_dir=missing)
    assert str(missing / he.SPLITS["single-line"]) in str(info.value)
    assert he.DATA_DIR_ENV in str(info.value)


def test_env_var_points_at_official_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(he.DATA_DIR_ENV, str(tmp_path))
    assert he.official_data_dir() == tmp_path
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        he.load_tasks("multi-line")


def test_default_is_derived_from_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(he.DATA_DIR_ENV, raising=False)
    assert he.official_data_dir() is None
    assert he.load_tasks("single-line", limit=2) == derive_tasks("single-line")[:2]


def test_unknown_split_and_bad_stride_are_rejected() -> None:
    with pytest.raises(ValueError, match="single-line"):
        he.load_tasks("single_line")
    with pytest.raises(ValueError, match="stride"):
        he.load_tasks("single-line", stride=0)


def test_stride_then_limit(tmp_path: Path) -> None:
    tasks = [dict(FAKE_TASKS[0], task_id=f"SingleLineInfilling/Fake/{i}/L0") for i in range(10)]
    with gzip.open(tmp_path / he.SPLITS["single-line"], "wt", encoding="utf-8") as f:
        f.writelines(json.dumps(t) + "\n" for t in tasks)
    loaded = he.load_tasks("single-line", data_dir=tmp_path, stride=3, limit=2)
    assert [t["task_id"] for t in loaded] == [tasks[0]["task_id"], tasks[3]["task_id"]]
    assert len(he.load_tasks("single-line", data_dir=tmp_path, stride=3)) == 4


def test_split_sizes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(he.DATA_DIR_ENV, raising=False)
    sizes = {split: len(he.load_tasks(split)) for split in he.SPLITS}
    assert sizes == {"single-line": 1033, "multi-line": 5815, "random-span-light": 164, "random-span": 1640}
    assert len(he.load_tasks("multi-line", stride=50)) == 117  # ceil(5815 / 50)


# ------------------------------------------------------------------ scoring


def test_blank_exact_and_nonblank_accounting() -> None:
    rows = [
        _row(FAKE_TASKS[0], "", latency_ms=10, steps=2),  # blank, passes anyway
        _row(FAKE_TASKS[1], "\n    return a + b   \n\n", latency_ms=20, steps=4),  # exact modulo whitespace
        _row(FAKE_TASKS[2], "    return a\n", latency_ms=30, steps=6),  # wrong
    ]
    report = he.evaluate(FAKE_TASKS, rows)
    by_id = {r["task_id"]: r for r in report["results"]}
    assert [r["task_id"] for r in report["results"]] == [t["task_id"] for t in FAKE_TASKS]
    blank, exact, wrong = (by_id[t["task_id"]] for t in FAKE_TASKS)
    assert blank["passed"] and not blank["nonblank"] and not blank["exact"]
    assert exact["passed"] and exact["nonblank"] and exact["exact"]
    assert not wrong["passed"] and wrong["status"] == "failed" and not wrong["exact"]
    assert report["split"] == "single-line"
    assert report["n_tasks"] == 3
    assert report["pass_at_1"] == pytest.approx(2 / 3)
    assert report["pass_at_1_nonblank"] == pytest.approx(1 / 3)
    assert report["exact_match"] == pytest.approx(1 / 3)
    assert report["blank_rate"] == pytest.approx(1 / 3)
    assert report["mean_latency_ms"] == pytest.approx(20)
    assert report["p50_latency_ms"] == pytest.approx(20)
    assert report["p95_latency_ms"] == pytest.approx(29)
    assert report["mean_steps"] == pytest.approx(4)


def test_blank_never_counts_as_nonblank_pass() -> None:
    rows = [_row(FAKE_TASKS[0], "   \n\t\n")]
    report = he.evaluate(FAKE_TASKS[:1], rows)
    assert report["pass_at_1"] == 1.0
    assert report["pass_at_1_nonblank"] == 0.0
    assert report["blank_rate"] == 1.0


def test_exact_match_is_whitespace_tolerant_but_not_indent_blind() -> None:
    canonical = FAKE_TASKS[1]["canonical_solution"]
    assert he.normalize_for_match("\n\n" + canonical.rstrip("\n") + "  \n\n") == he.normalize_for_match(canonical)
    assert he.normalize_for_match("return a + b\n") != he.normalize_for_match(canonical)


def test_missing_rows_are_failures() -> None:
    report = he.evaluate(FAKE_TASKS, [_row(FAKE_TASKS[1], FAKE_TASKS[1]["canonical_solution"])])
    statuses = {r["task_id"]: r["status"] for r in report["results"]}
    assert statuses[FAKE_TASKS[0]["task_id"]] == he.MISSING
    assert statuses[FAKE_TASKS[2]["task_id"]] == he.MISSING
    assert report["n_missing"] == 2
    assert report["pass_at_1"] == pytest.approx(1 / 3)
    assert report["blank_rate"] == 0.0
    assert report["mean_latency_ms"] is None and report["p95_latency_ms"] is None


def test_duplicate_and_unmatched_rows() -> None:
    row = _row(FAKE_TASKS[1], FAKE_TASKS[1]["canonical_solution"])
    with pytest.raises(ValueError, match="duplicate"):
        he.evaluate(FAKE_TASKS[1:2], [row, row])
    stray = {"task_id": "SingleLineInfilling/Other/9/L0", "completion": "x"}
    report = he.evaluate(FAKE_TASKS[1:2], [row, stray])
    assert report["n_unmatched_rows"] == 1 and report["pass_at_1"] == 1.0


def test_table_and_json_report(tmp_path: Path) -> None:
    rows = [_row(t, t["canonical_solution"], latency_ms=5.0, steps=3) for t in FAKE_TASKS]
    report = he.evaluate(FAKE_TASKS, rows)
    table = he.format_table(report)
    assert "pass@1" in table and "100.00%" in table and "single-line" in table
    assert len({len(line) for line in table.splitlines()[:2]}) == 1  # header and rule align
    assert "run 1" in he.format_table([report, dict(report, split=None)])
    path = he.write_report(report, tmp_path / "out" / "report.json")
    assert json.loads(path.read_text()) == report


# ------------------------------------------------------------------ the tasks themselves


@pytest.mark.parametrize(
    ("split", "stride"),
    [("single-line", 50), ("multi-line", 50), ("random-span-light", 10), ("random-span", 100)],
)
def test_canonical_solutions_pass(split: str, stride: int) -> None:
    tasks = he.load_tasks(split, stride=stride)
    rows = [_row(t, t["canonical_solution"]) for t in tasks]
    report = he.evaluate(tasks, rows, workers=2)
    failures = [(r["task_id"], r["status"], r["detail"]) for r in report["results"] if not r["passed"]]
    assert failures == []
    assert report["split"] == split
    assert report["pass_at_1"] == report["exact_match"] == 1.0


def test_wrong_completions_fail() -> None:
    tasks = he.load_tasks("single-line", stride=50)
    rows = []
    for task in tasks:
        line = task["canonical_solution"]
        indent = line[: len(line) - len(line.lstrip())]
        rows.append(_row(task, indent + "return None\n"))
    report = he.evaluate(tasks, rows, timeout_s=3.0)
    assert report["pass_at_1"] == 0.0
    assert report["exact_match"] == 0.0
    assert report["blank_rate"] == 0.0
