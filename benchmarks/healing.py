"""Token-healing benchmark: real cursors where editors ask (after `return `, `= `, `(`, `, `, mid-word,
mid-string, inside a comment), each completed with healing off and on.

Cursors are picked from real files by kind, deterministically (the first match from line 8 on, per
file and kind): Python from installed packages (click, h11, idna, jinja2, read from this
environment's site-packages; their versions are recorded) and TypeScript, Rust and Go from
benchmarks/samples/healing/. Every cursor is a single-line request to the engine itself (the server
would skip strings and comments). Per setting: the share of cursors with a non-empty suggestion,
and exact match of the next word (leading spaces + one word or one symbol, at a word boundary).
Results go to benchmarks/results/healing-<model>[-<completer>].json.

    nice -n 10 .venv/bin/python -m benchmarks.healing --model smollm2-dllm --threads 1
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import platform
import re
import sys
import sysconfig
import time
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "benchmarks" / "samples" / "healing"
SITE = Path(sysconfig.get_paths()["purelib"])
PYTHON_FILES = {"click": "click/utils.py", "h11": "h11/_connection.py", "idna": "idna/core.py",
                "jinja2": "jinja2/lexer.py"}
# kind -> a pattern whose end is the cursor; the file's text after it is the truth.
KINDS = {
    "keyword_space": re.compile(r"\b(?:return|if|elif|while|in|not|let|const|for|range|await) (?=\S)"),
    "after_assign": re.compile(r"[^=!<>:+\-*/]= (?=\S)|:= (?=\S)"),
    "open_paren": re.compile(r"\w\((?=[^)\s])"),
    "after_comma": re.compile(r", (?=\S)"),
    "mid_identifier": re.compile(r"(?<![\w.])[A-Za-z_]\w{2}(?=\w{3,})"),
    "mid_string": re.compile(r"[\"'`][A-Za-z]+ (?=[a-z])"),
    "comment": re.compile(r"(?:#|//) \w+ (?=\w)"),
}
FIRST_LINE = 8
NEXT_WORD = re.compile(r"[ \t]*(?:\w+|[^\w\s])")


@dataclass
class Cursor:
    cursor_id: str
    language: str
    kind: str
    prefix: str
    suffix: str

    @property
    def next_word(self) -> str:
        match = NEXT_WORD.match(self.suffix)
        return match.group() if match else ""


def source_files() -> list[tuple[str, str, str]]:
    """(name, language, text) of every file cursors are picked from."""
    files = [(f"{package}:{rel}", "python", (SITE / rel).read_text()) for package, rel in PYTHON_FILES.items()]
    languages = {".ts": "typescript", ".rs": "rust", ".go": "go"}
    files += [(path.name, languages[path.suffix], path.read_text()) for path in sorted(SAMPLES.iterdir())
              if path.suffix in languages]
    return files


def pick_cursors() -> list[Cursor]:
    cursors = []
    for name, language, text in source_files():
        lines = text.splitlines(keepends=True)
        starts = [0]
        for line in lines:
            starts.append(starts[-1] + len(line))
        for kind, pattern in KINDS.items():
            for row in range(FIRST_LINE, len(lines)):
                match = pattern.search(lines[row].rstrip("\n"))
                if match is not None:
                    offset = starts[row] + match.end()
                    cursors.append(Cursor(f"{name}:{row + 1}:{kind}", language, kind, text[:offset], text[offset:]))
                    break
    return cursors


def word_match(completion: str, word: str) -> bool:
    """completion begins with word, and a word ends there (no 'radius_sq' for 'radius')."""
    if not word or not completion.startswith(word):
        return False
    return not re.match(r"\w", word[-1]) or not re.match(r"\w", completion[len(word):len(word) + 1])


def run(engine, cursors: list[Cursor], heal: bool, steps: int, span_tokens: int) -> list[dict]:
    from engine.denoise.params import DenoiseParams

    rows = []
    for cursor in cursors:
        params = DenoiseParams(steps=steps, mode="single", span_tokens=span_tokens, heal_cursor=heal)
        started = time.perf_counter()
        request = engine.infill(cursor.prefix[-4000:], cursor.suffix[:1500], params)
        rows.append({"cursor_id": cursor.cursor_id, "completion": request.text, "ended_line": request.ended_line,
                     "non_empty": bool(request.text.strip()), "next_word": cursor.next_word,
                     "match": word_match(request.text, cursor.next_word),
                     "ms": round((time.perf_counter() - started) * 1000, 1)})
    return rows


def summary(rows: list[dict], cursors: list[Cursor]) -> dict:
    def share(key: str, subset: list[dict]) -> float:
        return round(sum(r[key] for r in subset) / len(subset), 3) if subset else 0.0

    kinds = {c.cursor_id: c.kind for c in cursors}
    by_kind = {}
    for kind in KINDS:
        subset = [r for r in rows if kinds[r["cursor_id"]] == kind]
        by_kind[kind] = {"n": len(subset), "non_empty": share("non_empty", subset), "next_word": share("match", subset)}
    ms = sorted(r["ms"] for r in rows)
    return {"n": len(rows), "non_empty": share("non_empty", rows), "next_word": share("match", rows),
            "ended_line": share("ended_line", rows), "p50_ms": ms[len(ms) // 2] if ms else 0.0, "by_kind": by_kind}


def machine() -> dict:
    import torch

    return {"python": platform.python_version(), "torch": torch.__version__, "machine": platform.machine(),
            "threads": torch.get_num_threads(),
            "packages": {p: importlib.metadata.version(p) for p in PYTHON_FILES}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="a model name or directory (default: the embedded default)")
    parser.add_argument("--completer", default="diffusion", choices=["diffusion", "ar-fim", "ar-prefix"])
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--span-tokens", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--limit", type=int, default=None, help="the first N cursors only (a smoke run)")
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--list", action="store_true", help="print the cursors and exit")
    args = parser.parse_args(argv)
    cursors = pick_cursors()[: args.limit]
    if args.list:
        for c in cursors:
            print(f"{c.cursor_id:42} {c.prefix[-30:]!r:34} -> {c.next_word!r}")
        print(f"{len(cursors)} cursors", file=sys.stderr)
        return 0
    from engine.ar.twin import build_engine
    from engine.denoise.config import EngineConfig

    engine = build_engine(EngineConfig(model_dir=args.model, num_threads=args.threads), args.completer)
    engine.infill("x = 1\n", "\n")  # warm-up
    model = engine.config.model_dir.name if args.model is None else Path(str(args.model)).name
    report = {"model": model, "completer": args.completer, "steps": args.steps, "span_tokens": args.span_tokens,
              "machine": machine(),
              "cursors": [asdict(c) | {"prefix": c.prefix[-200:], "suffix": c.suffix[:80]} for c in cursors]}
    for heal in (False, True):
        rows = run(engine, cursors, heal, args.steps, args.span_tokens)
        report["on" if heal else "off"] = {"summary": summary(rows, cursors), "rows": rows}
    print(f"{model} ({args.completer}), K={args.steps}, {len(cursors)} cursors")
    print(f"{'':14}{'non-empty':>11}{'next word':>11}{'ended line':>12}{'p50 ms':>9}")
    for key in ("off", "on"):
        s = report[key]["summary"]
        print(f"healing {key:6}{s['non_empty']:>11.1%}{s['next_word']:>11.1%}{s['ended_line']:>12.1%}{s['p50_ms']:>9.0f}")
    name = model if args.completer == "diffusion" else f"{model}-{args.completer}"
    output = args.output or REPO / "benchmarks" / "results" / f"healing-{name}.json"
    output.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
