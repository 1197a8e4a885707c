"""Held-out cursors: lines of the packages the training corpus excludes, and which of them a model saw.

Sources are the installed Python files of `engine.train.corpus.HELD_OUT_PACKAGES` (attrs, click,
requests), found by importlib.metadata under this interpreter's site-packages; a package that is not
installed is left out. N cursors are spread evenly over the packages and drawn with a generator
seeded by (seed, package) from the eligible lines of each package's files: a line inside a function
body (ast), not blank, not a comment, not inside a string or docstring, no trailing comment, 8 to
120 characters after its indentation. Half the cursors sit at the line's first token
("line-start"), half at a random later token start that leaves at least MIN_MID_TARGET characters
("mid-line": after `return `, `= `, `(` ...); token starts inside f-strings are not boundaries, so
Python 3.11 and 3.12+ draw the same cursors. The prefix is the file before the cursor, the suffix
the file from the line's own newline on, the target the rest of the line.

A model's corpus manifest (beside the model, or beside the shipped model a cached build came from)
names the held-out files it holds, by path inside site-packages or by sha256.
"""

from __future__ import annotations

import ast
import gzip
import hashlib
import importlib.metadata as md
import io
import json
import random
import re
import sysconfig
import tokenize
from dataclasses import dataclass
from pathlib import Path

from engine.train.corpus import HELD_OUT_PACKAGES

KINDS = ("line-start", "mid-line")
Sources = dict[str, tuple[str, list[tuple[str, Path]]]]  # package -> (version, [(path in site-packages, file)])
MIN_LINE, MAX_LINE = 8, 120  # characters of the line after its indentation
MIN_MID_TARGET = 3  # a mid-line cursor leaves at least this much code: not just ")" or "):"
_NOT_CODE = {tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
# Python 3.12+ tokenizes the inside of f-strings (3.14: t-strings); these keep the boundaries of 3.11.
_STRING_START = {getattr(tokenize, n) for n in ("FSTRING_START", "TSTRING_START") if hasattr(tokenize, n)}
_STRING_END = {getattr(tokenize, n) for n in ("FSTRING_END", "TSTRING_END") if hasattr(tokenize, n)}


@dataclass(frozen=True)
class LineSite:
    """A line of a file that may hold cursors."""

    line: int  # 1-based
    indent: int  # column of the line's first token: the line-start cursor
    boundaries: tuple[int, ...]  # later token starts that leave >= MIN_MID_TARGET characters


@dataclass(frozen=True)
class Cursor:
    """One hole: the file around a cursor, and the rest of its line to be completed."""

    cursor_id: str  # "FILE:LINE:COLUMN", 1-based line, 0-based column
    package: str
    file: str  # the path inside site-packages, as the distribution's RECORD names it
    line: int
    column: int
    kind: str  # one of KINDS
    prefix: str
    suffix: str  # starts with the line's own newline
    target: str


def _token_starts(text: str) -> dict[int, list[tuple[int, bool]]]:
    """line -> [(column, is_comment)] of the tokens starting there, outside f-strings."""
    starts: dict[int, list[tuple[int, bool]]] = {}
    depth = 0
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type in _STRING_END:
            depth -= 1
            continue
        inside, depth = depth > 0, depth + (tok.type in _STRING_START)
        if not inside and tok.type not in _NOT_CODE:
            starts.setdefault(tok.start[0], []).append((tok.start[1], tok.type == tokenize.COMMENT))
    return starts


def _body_and_string_lines(tree: ast.AST) -> tuple[set[int], set[int]]:
    """Lines inside function bodies; lines of docstrings and of multi-line strings after their first."""
    body, strings = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body.update(range(node.body[0].lineno, node.end_lineno + 1))
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            strings.update(range(node.lineno, node.end_lineno + 1))
        elif isinstance(node, (ast.Constant, ast.JoinedStr)) and node.end_lineno > node.lineno:
            strings.update(range(node.lineno + 1, node.end_lineno + 1))
    return body, strings


def line_sites(text: str) -> list[LineSite]:
    """The eligible lines of a Python source (the rules in the module docstring); [] if it does not parse."""
    try:
        body, strings = _body_and_string_lines(ast.parse(text))
        starts = _token_starts(text)
    except (SyntaxError, tokenize.TokenError, ValueError):
        return []
    lines, sites = text.split("\n"), []
    for number in sorted(body - strings):
        tokens, code = starts.get(number), lines[number - 1]
        if not tokens or any(comment for _, comment in tokens):
            continue
        indent = tokens[0][0]
        if code[:indent].strip() or not MIN_LINE <= len(code[indent:].rstrip()) <= MAX_LINE:
            continue
        later = tuple(col for col, _ in tokens[1:] if len(code[col:].strip()) >= MIN_MID_TARGET)
        sites.append(LineSite(number, indent, later))
    return sites


def package_sources(packages: frozenset[str] = HELD_OUT_PACKAGES) -> Sources:
    """Installed packages -> (version, sorted [(path in site-packages, file)]) of their .py files."""
    roots = {Path(sysconfig.get_paths()[key]).resolve() for key in ("purelib", "platlib")}
    found = {}
    for name in sorted(packages):
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            continue
        files = [(str(f), Path(dist.locate_file(f)).resolve()) for f in dist.files or [] if str(f).endswith(".py")]
        files = [(rel, path) for rel, path in files if path.is_file() and any(path.is_relative_to(r) for r in roots)]
        if files:
            found[name] = (dist.version, sorted(files))
    return found


def cursor_at(package: str, rel: str, text: str, site: LineSite, column: int, kind: str) -> Cursor:
    lines = text.split("\n")
    start = sum(len(line) + 1 for line in lines[: site.line - 1])
    end = start + len(lines[site.line - 1])
    return Cursor(f"{rel}:{site.line}:{column}", package, rel, site.line, column, kind,
                  prefix=text[: start + column], suffix=text[end:], target=text[start + column:end])


def pick(package: str, files: list[tuple[str, Path]], count: int, rng: random.Random) -> list[Cursor]:
    """count cursors of one package, alternating line-start and mid-line, each line at most once."""
    texts = {rel: path.read_text(encoding="utf-8") for rel, path in files}
    sites = [(rel, site) for rel, _ in files for site in line_sites(texts[rel])]
    need = {"line-start": count - count // 2, "mid-line": count // 2}
    chosen: list[Cursor] = []
    for index in rng.sample(range(len(sites)), len(sites)):
        rel, site = sites[index]
        kinds = [k for k in KINDS if need[k] and (k == "line-start" or site.boundaries)]
        if not kinds:
            continue
        kind = KINDS[len(chosen) % 2] if KINDS[len(chosen) % 2] in kinds else kinds[0]
        column = site.indent if kind == "line-start" else rng.choice(site.boundaries)
        chosen.append(cursor_at(package, rel, texts[rel], site, column, kind))
        need[kind] -= 1
        if not any(need.values()):
            break
    return chosen


def select_cursors(n: int, seed: int = 0, sources: Sources | None = None) -> list[Cursor]:
    """n cursors spread evenly over the installed held-out packages (the first ones take the remainder)."""
    sources = package_sources() if sources is None else sources
    if not sources:
        raise ValueError(f"none of the held-out packages {sorted(HELD_OUT_PACKAGES)} is installed")
    cursors = []
    for i, (name, (_, files)) in enumerate(sorted(sources.items())):
        count = n // len(sources) + (i < n % len(sources))
        cursors += pick(name, files, count, random.Random(f"{seed}/{name}"))
    return cursors


def selection_record(n: int, seed: int, sources: Sources) -> dict:
    """How the cursors were drawn, for the report: the rules, and the packages used with their versions."""
    return {"seed": seed, "n": n, "min_line": MIN_LINE, "max_line": MAX_LINE, "min_mid_target": MIN_MID_TARGET,
            "held_out_packages": sorted(HELD_OUT_PACKAGES),
            "packages": {name: version for name, (version, _) in sorted(sources.items())},
            "missing_packages": sorted(HELD_OUT_PACKAGES - set(sources))}


def corpus_files(manifest: Path) -> tuple[set[str], set[str]]:
    """(paths inside their root, sha256s) of a corpus manifest's files."""
    files = json.loads(gzip.decompress(manifest.read_bytes()))["files"]
    return {f["path"].split("/", 1)[-1] for f in files}, {f["sha256"] for f in files}


def files_in_corpus(sources: Sources, manifest: Path | None) -> set[str] | None:
    """The held-out files (paths in site-packages) that a model's corpus holds; None: no manifest, unknown."""
    if manifest is None:
        return None
    paths, shas = corpus_files(manifest)
    return {rel for _, files in sources.values() for rel, path in files
            if rel in paths or hashlib.sha256(path.read_bytes()).hexdigest() in shas}


def find_manifest(model: str | None, model_dir: Path) -> Path | None:
    """The corpus manifest beside the model, or beside the shipped model a cached build came from."""
    from engine.weights.default_model import ASSETS

    name = re.sub(r"-[0-9a-f]{16}$", "", model_dir.name)
    for folder in (model_dir, ASSETS / name, *([Path(model)] if model else [])):
        if (folder / "corpus_manifest.json.gz").is_file():
            return folder / "corpus_manifest.json.gz"
    return None
