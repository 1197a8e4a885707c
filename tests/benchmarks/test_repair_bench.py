"""benchmarks/repair.py without a model: corruptions, selections, prose ranges and the token metric."""

from __future__ import annotations

import random

import pytest

from benchmarks import repair as bench
from engine.edits.repair import Edit

PROGRAM = ("def count_evens(xs):\n    \"\"\"How many even numbers.\"\"\"\n    total = 0\n    for x in xs:\n"
           "        if x % 2 == 0:  # even\n            total += 1\n    return total\n")
PROGRAMS = [("p", PROGRAM, PROGRAM.index("    total"))]


@pytest.mark.parametrize("kind", bench.KINDS)
def test_each_case_changes_one_site_inside_its_three_line_selection(kind):
    cases = bench.build_cases(PROGRAMS, 3, seed=1)
    mine = [c for c in cases if c.kind == kind]
    assert len(mine) == 3
    for case in mine:
        assert case.prefix + case.original + case.suffix == PROGRAM
        assert case.selection != case.original and 1 <= case.selection.count("\n") <= 3
        lo, hi = case.span
        if kind == "deletion":
            assert lo == hi
        assert case.selection[:lo] == case.original[:lo]  # nothing before the site changed
        assert len(case.prefix) + lo >= PROGRAMS[0][2]  # sites are in the body, after the docstring


def test_cases_are_reproducible_from_the_seed():
    assert [c.case_id for c in bench.build_cases(PROGRAMS, 2, 5)] == [c.case_id for c in bench.build_cases(PROGRAMS, 2, 5)]


@pytest.mark.parametrize("token, kind, allowed", [
    ("total", "typo", {"ottal", "ttoal", "tital", "totl", "tota", "toal", "ttal", "totla"}),
    ("<=", "operator", {"<"}),
    ("and", "operator", {"or"}),
    ("0", "constant", {"1"}),
    ("2", "constant", {"1", "3"}),
])
def test_corrupt(token, kind, allowed):
    for seed in range(5):
        assert bench.corrupt(token, kind, random.Random(seed)) in allowed


def test_prose_ranges_cover_strings_and_comments():
    case = next(c for c in bench.build_cases(PROGRAMS, 4, 0) if "# even" in c.selection)
    assert any(case.selection[a:b] == "# even" for a, b in case.frozen)


def test_changed_correct_tokens_skips_the_corruption():
    case = bench.Case("c", "typo", "", "x = totl + 1\n", "", "x = total + 1\n", (4, 8), [])
    assert bench.changed_correct_tokens(case, [Edit(4, 8, "total")]) == (0, 4)  # x = + 1
    assert bench.changed_correct_tokens(case, [Edit(11, 12, "2")]) == (1, 4)
    summary = bench.summarize([{"kind": "typo", "exact": True, "edited": True, "changed_correct": 1,
                                "correct_tokens": 4, "seconds": 1.0}])
    assert summary["by_kind"]["typo"]["exact_repair_rate"] == 1.0
    assert summary["all"]["correct_tokens_changed_rate"] == 0.25
    assert "typo" in bench.format_table(summary)
