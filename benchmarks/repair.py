"""Repair benchmark: inject one corruption into correct code, select the lines around it, run repair.

Sources: HumanEval canonical solutions (prompt + canonical_solution + suffix of the single-line
split, one program per problem) and held-out real code (this repository's own server modules, which
no shipped model was trained on). Corruption kinds, each at a site found by Python's tokenizer:
- typo:      an identifier (not a keyword, >= 3 chars) with two adjacent letters swapped or one dropped
- operator:  a comparison / arithmetic / boolean operator swapped for a near one (< for <=, + for -)
- constant:  an integer literal off by one
- deletion:  one token removed (an operator, a name or a number)
The selection is the corrupted line and one line on each side. Metrics per kind: exact repairs (the
repaired selection equals the original), and the rate of correct tokens changed (lexical tokens of
the corrupted selection outside the corruption that any edit overlaps).
"""

from __future__ import annotations

import io
import json
import keyword
import random
import re
import sys
import time
import tokenize
from dataclasses import dataclass
from pathlib import Path

KINDS = ("typo", "operator", "constant", "deletion")
SWAPS = {"<": "<=", "<=": "<", ">": ">=", ">=": ">", "==": "!=", "!=": "==", "+": "-", "-": "+",
         "*": "+", "//": "/", "/": "//", "+=": "-=", "-=": "+=", "and": "or", "or": "and"}
# for choosing thresholds
DEV_FILES = ("engine/denoise/sampler.py", "engine/denoise/strategies.py", "engine/denoise/layout.py")
REAL_FILES = ("lsp_server/context.py", "lsp_server/span.py", "lsp_server/postprocess.py",
              "lsp_server/documents.py", "lsp_server/settings.py", "lsp_server/spans.py")
LEXICAL = re.compile(r"\w+|[^\w\s]")
REPO = Path(__file__).resolve().parents[1]


@dataclass
class Case:
    case_id: str
    kind: str
    prefix: str
    selection: str
    """The corrupted selection."""
    suffix: str
    original: str
    """The selection before corruption."""
    span: tuple[int, int]
    """The corruption's characters in the corrupted selection (empty for a deletion)."""
    frozen: list[tuple[int, int]]
    """Strings and comments in the corrupted selection (what the server's syntax tree would freeze)."""


def humaneval_programs(data_dir: Path | None = None) -> list[tuple[str, str, int]]:
    """(name, program, offset where the body starts: after the docstring) for each HumanEval problem."""
    from benchmarks.humaneval_infill import load_tasks

    programs: dict[str, tuple[str, str, int]] = {}
    for task in load_tasks("single-line", data_dir):
        problem = task["task_id"].split("/", 1)[1].rsplit("/", 1)[0]  # HumanEval/N
        if problem not in programs:
            text = task["prompt"] + task["canonical_solution"] + task["suffix"]
            closing = max(text.rfind('"""'), text.rfind("'''"))
            programs[problem] = (problem, text, text.find("\n", closing) + 1)
    return list(programs.values())


def real_programs(root: Path = REPO, files: tuple[str, ...] = REAL_FILES) -> list[tuple[str, str, int]]:
    return [(name, (root / name).read_text(encoding="utf-8"), 0) for name in files]


def sites(text: str, start: int, kind: str) -> list[tuple[int, int, str]]:
    """Candidate (start, end, token) in text at or after start for a corruption kind."""
    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
    found = []
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return []
    for tok in tokens:
        a = line_starts[tok.start[0] - 1] + tok.start[1]
        b = line_starts[tok.end[0] - 1] + tok.end[1]
        if a < start:
            continue
        name_ok = tok.type == tokenize.NAME and not keyword.iskeyword(tok.string) and len(tok.string) >= 3
        if (kind == "typo" and name_ok and tok.string.isidentifier()) \
                or (kind == "operator" and tok.string in SWAPS) \
                or (kind == "constant" and tok.type == tokenize.NUMBER and tok.string.isdigit()) \
                or (kind == "deletion" and tok.type in (tokenize.NAME, tokenize.OP, tokenize.NUMBER)):
            found.append((a, b, tok.string))
    return found


def corrupt(token: str, kind: str, rng: random.Random) -> str:
    if kind == "typo":
        i = rng.randrange(1, len(token) - 1)
        swapped = token[: i - 1] + token[i] + token[i - 1] + token[i + 1 :]
        dropped = token[:i] + token[i + 1 :]
        choice = rng.choice([swapped, dropped]) if swapped != token else dropped
        return choice if choice != token and not keyword.iskeyword(choice) else token[:-1]
    if kind == "operator":
        return SWAPS[token]
    if kind == "constant":
        value = int(token)
        return str(value + 1 if value == 0 else rng.choice([value - 1, value + 1]))
    return ""


def make_case(name: str, text: str, site: tuple[int, int, str], kind: str, rng: random.Random) -> Case:
    a, b, token = site
    bad = corrupt(token, kind, rng)
    corrupted = text[:a] + bad + text[b:]
    line = text.count("\n", 0, a)
    lines = text.splitlines(keepends=True)
    first, last = max(0, line - 1), min(len(lines), line + 2)
    s0 = sum(len(x) for x in lines[:first])
    s1 = sum(len(x) for x in lines[:last])
    shift = len(bad) - (b - a)
    selection = corrupted[s0 : s1 + shift]
    return Case(f"{name}@{a}:{kind}", kind, corrupted[:s0], selection, corrupted[s1 + shift :],
                text[s0:s1], (a - s0, a - s0 + len(bad)), prose_ranges(text, s0, s1, a, shift))


def prose_ranges(text: str, s0: int, s1: int, a: int, shift: int) -> list[tuple[int, int]]:
    """Strings and comments of the original text[s0:s1], in corrupted-selection offsets (found on the
    original: the corrupted text may not tokenize)."""
    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
    ranges = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type in (tokenize.STRING, tokenize.COMMENT):
                lo = line_starts[tok.start[0] - 1] + tok.start[1]
                hi = line_starts[tok.end[0] - 1] + tok.end[1]
                lo, hi = (x + shift if x > a else x for x in (lo, hi))
                if lo < s1 + shift and hi > s0:
                    ranges.append((max(lo, s0) - s0, min(hi, s1 + shift) - s0))
    except (tokenize.TokenError, SyntaxError):
        pass
    return ranges


def build_cases(programs: list[tuple[str, str, int]], per_kind: int, seed: int = 0) -> list[Case]:
    """per_kind cases of each kind, one site per program in turn, reproducible from seed."""
    rng = random.Random(seed)
    cases = []
    for kind in KINDS:
        order = list(programs)
        rng.shuffle(order)
        made = 0
        while made < per_kind and order:
            for name, text, start in order:
                candidates = sites(text, start, kind)
                if candidates and made < per_kind:
                    cases.append(make_case(name, text, rng.choice(candidates), kind, rng))
                    made += 1
            if made == 0:
                break
    return cases


def changed_correct_tokens(case: Case, edits: list) -> tuple[int, int]:
    """(correct lexical tokens any edit overlapped, correct lexical tokens) of the corrupted selection."""
    lo, hi = case.span
    total = changed = 0
    for m in LEXICAL.finditer(case.selection):
        if m.start() < hi and m.end() > lo:
            continue  # part of the corruption
        total += 1
        changed += any(e.start < m.end() and (e.end > m.start() or (e.start == e.end and e.start > m.start()))
                       for e in edits)
    return changed, total


def run(engine, cases: list[Case], params, progress: bool = True, on_row=None) -> list[dict]:
    """Repair every case; on_row(rows) after each one (the CLI rewrites its report, so a run stopped
    early still leaves what it measured)."""
    from engine.edits.repair import repair

    rows: list[dict] = []
    for n, case in enumerate(cases, 1):
        started = time.perf_counter()
        result = repair(engine, case.prefix, case.selection, case.suffix, params, case.frozen)
        changed, total = changed_correct_tokens(case, result.edits)
        rows.append({"case": case.case_id, "kind": case.kind, "exact": result.text == case.original,
                     "edited": bool(result.edits), "changed_correct": changed, "correct_tokens": total,
                     "suspects": result.num_suspect, "seconds": round(time.perf_counter() - started, 3),
                     "before": case.selection, "after": result.text})
        if on_row is not None:
            on_row(rows)
        if progress and n % 10 == 0:
            print(f"  {n}/{len(cases)}", flush=True, file=sys.stderr)
    return rows


def summarize(rows: list[dict]) -> dict:
    def block(rs: list[dict]) -> dict:
        tokens = sum(r["correct_tokens"] for r in rs)
        return {"cases": len(rs), "exact_repair_rate": round(sum(r["exact"] for r in rs) / max(len(rs), 1), 4),
                "edited_rate": round(sum(r["edited"] for r in rs) / max(len(rs), 1), 4),
                "correct_tokens_changed_rate": round(sum(r["changed_correct"] for r in rs) / max(tokens, 1), 5),
                "correct_tokens": tokens,
                "median_seconds": sorted(r["seconds"] for r in rs)[len(rs) // 2] if rs else None}

    kinds = {kind: block([r for r in rows if r["kind"] == kind]) for kind in KINDS}
    return {"by_kind": {k: v for k, v in kinds.items() if v["cases"]}, "all": block(rows)}


def format_table(summary: dict) -> str:
    lines = [f"{'kind':<10} {'cases':>5} {'exact':>7} {'edited':>7} {'correct changed':>16} {'median s':>9}"]
    for kind, s in [*summary["by_kind"].items(), ("all", summary["all"])]:
        lines.append(f"{kind:<10} {s['cases']:>5} {s['exact_repair_rate']:>7.1%} {s['edited_rate']:>7.1%} "
                     f"{s['correct_tokens_changed_rate']:>16.2%} {s['median_seconds']:>9}")
    return "\n".join(lines)


def add_arguments(p) -> None:
    p.add_argument("--source", default="humaneval", choices=["humaneval", "real", "dev"],
                   help="humaneval: canonical solutions; real: this repo's held-out server modules; "
                        "dev: engine modules, the only source thresholds may be chosen on")
    p.add_argument("--per-kind", type=int, default=40, help="cases per corruption kind")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--floor", type=float, default=None, help="suspect below this p(token | rest)")
    p.add_argument("--ratio", type=float, default=None, help="...and best alternative this many times likelier")
    p.add_argument("--groups", type=int, default=None, help="scoring rows (default: one per token, exact)")
    p.add_argument("--margin", type=float, default=None, help="nats a fill must gain to be kept")
    p.add_argument("--context-tokens", type=int, nargs=2, default=None, metavar=("BEFORE", "AFTER"),
                   help="context kept around the selection (default: the server's)")
    p.add_argument("--no-verify", action="store_true", help="keep every fill, even one that scores worse")
    p.add_argument("--data-dir", type=Path, default=None)
    p.add_argument("--output", type=Path, default=None, help="JSON report")
    p.add_argument("--quiet", action="store_true")


def main(engine, args, machine: dict) -> dict:
    """Build the cases, run them, print the table; the report (also written to --output)."""
    from engine.edits.repair import RepairParams

    defaults = RepairParams()
    params = RepairParams(floor=args.floor or defaults.floor, ratio=args.ratio or defaults.ratio,
                          groups=args.groups, verify=not args.no_verify,
                          margin=defaults.margin if args.margin is None else args.margin,
                          max_context_tokens=tuple(args.context_tokens or defaults.max_context_tokens))
    programs = humaneval_programs(args.data_dir) if args.source == "humaneval" else \
        real_programs(files=DEV_FILES if args.source == "dev" else REAL_FILES)
    cases = build_cases(programs, args.per_kind, args.seed)
    rank = {id(c): [x.kind for x in cases[:i]].count(c.kind) for i, c in enumerate(cases)}
    cases = sorted(cases, key=lambda c: rank[id(c)])  # kinds interleaved: a run stopped early covers all

    def report_of(rows: list[dict]) -> dict:
        report = {"benchmark": "repair", "source": args.source, "model": str(engine.config.model_dir),
                  "per_kind": args.per_kind, "seed": args.seed, "cases_done": len(rows), "cases_planned": len(cases),
                  "params": dict(vars(params)), **summarize(rows), "machine": machine, "rows": rows}
        if args.output:
            args.output.parent.mkdir(parents=True, exist_ok=True)
            args.output.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
        return report

    report = report_of(run(engine, cases, params, progress=not args.quiet, on_row=report_of))
    print(format_table(report))
    return report
