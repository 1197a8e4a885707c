"""Holes to complete: from HumanEval-Infilling tasks, real source files, and a few built-in snippets.

A task spec is comma-separated items:
    humaneval:SPLIT:N     N tasks spread over the split (single, multi, random-span-light, ...)
    files:GLOB:N          N cursors drawn from code lines of the files matching GLOB (relative to cwd)
    snippets              six small holes in Python, JavaScript, TypeScript, Go and Rust
At a line cursor the rest of the line is removed (the user is writing it); at a block header the
body is removed (the user is about to write it).
"""

from __future__ import annotations

import glob
import random
from dataclasses import dataclass
from pathlib import Path

LANGUAGES = {".py": "python", ".js": "javascript", ".mjs": "javascript", ".jsx": "javascriptreact",
             ".ts": "typescript", ".tsx": "typescriptreact", ".rs": "rust", ".go": "go"}
COMMENTS = ("#", "//", "/*", "*", '"""', "'''")
BOUNDARY = " (=,[{.:+-*/<>!"
DEFAULT_SPEC = "humaneval:single:4,humaneval:multi:4,files:lsp_server/*.py:6,snippets"
MARKER = "<|>"
SNIPPETS = [  # (name, languageId, text with a cursor marker)
    ("stats.py", "python", "def mean(values: list[float]) -> float:\n    total = 0.0\n"
     "    for value in values:\n        total += <|>\n    return total / len(values)\n"),
    ("area.js", "javascript", "function area(width, height) {\n  const result = <|>\n  return result;\n}\n"),
    ("area.go", "go", "package main\n\nfunc area(w, h int) int {\n\tr := <|>\n\treturn r\n}\n"),
    ("greet.py", "python", "import sys\n\n\ndef greet(name: str) -> str:<|>\n\n\nprint(greet(sys.argv[1]))\n"),
    ("shape.rs", "rust", "struct Shape { w: f64, h: f64 }\n\nimpl Shape {\n"
     "    fn area(&self) -> f64 {<|>\n    }\n}\n"),
    ("loop.ts", "typescript", "export function total(xs: number[]): number {\n  let sum = 0;\n"
     "  <|>\n  return sum;\n}\n"),
]


@dataclass
class Hole:
    """One cursor in one document, and how much of its line the simulated user types."""

    source: str
    """Where it comes from: "humaneval:<task_id>", "file:<path>:<line>", "snippet:<name>"."""
    language_id: str
    """The LSP languageId."""
    text: str
    """The document once the typing is done."""
    offset: int
    """The cursor, a character offset into text."""
    typed: int
    """Characters before the cursor typed one by one (0: the request comes right after opening)."""

    @property
    def uri(self) -> str:
        name = self.source.replace(":", "_").replace("/", "_")
        ext = next((e for e, lang in LANGUAGES.items() if lang == self.language_id), ".txt")
        return f"file:///stipple-bench/{name}{'' if name.endswith(ext) else ext}"


def typed_chars(text: str, offset: int, limit: int) -> int:
    """At most limit characters of the cursor line before the cursor, indentation excluded."""
    line = text[text.rfind("\n", 0, offset) + 1 : offset]
    return min(limit, len(line.lstrip()))


def humaneval_holes(split: str, count: int, typing: int) -> list[Hole]:
    from benchmarks.humaneval_infill import SPLITS, load_tasks

    names = {"single": "single-line", "multi": "multi-line"}
    split = names.get(split, split)
    if split not in SPLITS:
        raise ValueError(f"unknown HumanEval-Infilling split {split!r}; one of {sorted(SPLITS)}")
    tasks = load_tasks(split)
    tasks = tasks[:: max(1, len(tasks) // max(1, count))][:count]
    holes = []
    for task in tasks:
        text, offset = task["prompt"] + task["suffix"], len(task["prompt"])
        holes.append(Hole(f"humaneval:{task['task_id']}", "python", text, offset, typed_chars(text, offset, typing)))
    return holes


def file_holes(pattern: str, count: int, typing: int, rng: random.Random) -> list[Hole]:
    paths = sorted(p for p in glob.glob(pattern, recursive=True) if Path(p).suffix in LANGUAGES)
    if not paths:
        raise ValueError(f"no source files match {pattern!r}")
    candidates = []  # (path, line number)
    texts = {p: Path(p).read_text(encoding="utf-8", errors="replace") for p in paths}
    for path, text in texts.items():
        for number, line in enumerate(text.split("\n")):
            stripped = line.strip()
            if len(stripped) >= 4 and not stripped.startswith(COMMENTS):
                candidates.append((path, number))
    holes = []
    for path, number in rng.sample(candidates, min(count, len(candidates))):
        text, offset = cut_at_line(texts[path], number, rng)
        holes.append(Hole(f"file:{path}:{number + 1}", LANGUAGES[Path(path).suffix], text, offset,
                          typed_chars(text, offset, typing)))
    return holes


def cut_at_line(text: str, number: int, rng: random.Random) -> tuple[str, int]:
    """The document as the user has it mid-line (or right after a block header), and the cursor."""
    lines = text.split("\n")
    line = lines[number]
    indent = len(line) - len(line.lstrip())
    if line.rstrip().endswith((":", "{")):  # a block header: drop the body the user is about to write
        end = number + 1
        while end < len(lines) and (not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) > indent):
            end += 1
        kept = lines[: number + 1] + [""] + lines[end:]
        head = "\n".join(lines[: number]) + ("\n" if number else "") + line.rstrip()
        return "\n".join(kept[: number]) + ("\n" if number else "") + line.rstrip() + "\n" + \
            "\n".join(kept[number + 2 :]), len(head)
    cuts = [i + 1 for i in range(indent + len(line.strip()) // 2, len(line.rstrip())) if line[i] in BOUNDARY]
    cut = rng.choice(cuts) if cuts else len(line.rstrip())
    head = "\n".join(lines[:number]) + ("\n" if number else "") + line[:cut]
    return head + "\n" + "\n".join(lines[number + 1 :]), len(head)


def snippet_holes(typing: int) -> list[Hole]:
    holes = []
    for name, language_id, marked in SNIPPETS:
        before, after = marked.split(MARKER)
        holes.append(Hole(f"snippet:{name}", language_id, before + after, len(before),
                          typed_chars(before, len(before), typing)))
    return holes


def build(spec: str, typed: int = 3, seed: int = 0) -> list[Hole]:
    """The holes of a task spec, in a fixed order for a given seed."""
    rng, holes = random.Random(seed), []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        kind, _, rest = item.partition(":")
        if kind == "snippets":
            holes += snippet_holes(typed)
        elif kind == "humaneval":
            split, _, count = rest.partition(":")
            holes += humaneval_holes(split, int(count or 4), typed)
        elif kind == "files":
            pattern, _, count = rest.rpartition(":") if rest.rpartition(":")[2].isdigit() else (rest, "", "")
            holes += file_holes(pattern, int(count or 8), typed, rng)
        else:
            raise ValueError(f"unknown task source {kind!r} in {item!r} (humaneval, files, snippets)")
    if not holes:
        raise ValueError(f"task spec {spec!r} gives no holes")
    return holes


def lsp_position(text: str, offset: int, encoding: str = "utf-16") -> tuple[int, int]:
    """(line, character) of a character offset, with character counted in the negotiated encoding."""
    line = text.count("\n", 0, offset)
    before = text[text.rfind("\n", 0, offset) + 1 : offset]
    if encoding == "utf-8":
        return line, len(before.encode("utf-8"))
    if encoding == "utf-32":
        return line, len(before)
    return line, len(before.encode("utf-16-le")) // 2
