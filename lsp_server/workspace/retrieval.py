"""Retrieval: which definitions of other files a cursor needs, rendered as the block before the prefix.

Candidates are names: the identifiers near the cursor (weighted by their distance in lines), the word
being typed (defined names it begins), the names the file imports, and for `alias.` the imported
module's definitions. Each candidate's definitions elsewhere in the workspace (the index, with open
documents in place of their files on disk) are scored: nearer names first, a file the document imports
x1.5, a name defined in many files divided by the square root of their number, what the previous
request of this document chose +STICKY (so the block, and with it the engine's reusable prefix keys and
values, changes only when the selection really does). Recently edited regions of other open documents
come after. The best fit a character budget; the block lists them by file and line, each file under a
comment with its path in the document's language.
"""

from __future__ import annotations

import keyword
import math
import os
import re
from dataclasses import dataclass, field

from lsp_server.workspace.index import WorkspaceIndex
from lsp_server.workspace.outline import Definition, Outline

CHARS_PER_TOKEN = 3.5  # a cheap estimate for code; the plan counts the final block with the tokenizer
LINES_BEFORE, LINES_AFTER = 40, 6  # the window whose identifiers count as "near the cursor"
STICKY = 0.35  # bonus of what the previous request chose
IMPORTED = 1.5  # factor for definitions in a file the document imports
IMPORTED_NAME = 0.6  # weight of a name the document imports but does not use near the cursor
MODULE_API = 0.15  # weight of any top-level definition of an imported module
TYPED_WORD = 1.2  # weight of a defined name that the word being typed begins
RECENT_EDIT = 0.3  # weight of a recently edited region of another open document
MAX_PREFIX_MATCHES = 8
IDENTIFIER = re.compile(r"[A-Za-z_$][\w$]*")
QUALIFIED = re.compile(r"([A-Za-z_$][\w$]*)\s*(?:\.|::)\s*([A-Za-z_$][\w$]*)")
WORD_AT_END = re.compile(r"(?:([A-Za-z_$][\w$]*)\s*(?:\.|::)\s*)?([A-Za-z_$][\w$]*)?$")
FAMILIES = {"python": "python", "javascript": "js", "typescript": "js", "typescriptreact": "js", "rust": "rust",
            "go": "go"}
BRACES = frozenset({"js", "rust", "go"})
KEYWORDS = frozenset(keyword.kwlist) | {
    "self", "cls", "None", "True", "False", "const", "let", "var", "function", "return", "this", "new", "export",
    "import", "from", "fn", "pub", "impl", "mut", "use", "mod", "struct", "enum", "trait", "match", "func",
    "type", "package", "interface", "nil", "true", "false", "int", "str", "string", "err", "ctx"}


@dataclass(frozen=True)
class RecentEdit:
    """A region of an open document that the user edited lately."""

    path: str
    """The document's absolute path."""
    line: int
    """0-based row of the first line shown."""
    text: str
    """The region's lines (a few around the edit)."""


@dataclass
class Query:
    """One cursor, and what the server knows around it."""

    path: str
    """The document's absolute path ("" for an unsaved buffer)."""
    language: str
    """Its languageId."""
    text: str
    """Its text (the open document's, not the disk's)."""
    offset: int
    """The cursor, as a str offset into text."""
    budget_tokens: int
    """How many tokens the block may take (estimated at CHARS_PER_TOKEN)."""
    outline: Outline | None = None
    """The document's own outline (its definitions are not retrieved; its imports steer retrieval)."""
    open_outlines: dict[str, Outline] = field(default_factory=dict)
    """Other open documents' outlines by path: they replace the disk's."""
    recent: list[RecentEdit] = field(default_factory=list)
    """Recently edited regions of other open documents, newest first."""
    previous: frozenset = frozenset()
    """Keys this document's previous request chose (kept unless something clearly better comes)."""
    usage: dict[str, int] = field(default_factory=dict)
    """How often each identifier occurs in the document (may be a few edits old): of the names it
    imports, the ones it uses most come first."""


@dataclass
class Snippet:
    """One candidate for the block."""

    path: str
    """Absolute path of its file."""
    line: int
    """0-based row, for ordering inside the file."""
    lines: list[str]
    """Rendered lines (without the file's header comment)."""
    score: float
    """Relevance; the highest fit the budget first."""
    key: tuple
    """Identity across requests (path, line, name)."""
    parent: str = ""
    """The enclosing class or impl for a member (rendered around it)."""


@dataclass
class Retrieved:
    """The block for one cursor."""

    block: str = ""
    """Text to put before the prefix ("" when nothing was found or the budget is zero)."""
    keys: frozenset = frozenset()
    """The chosen snippets' keys (the next request's Query.previous)."""
    files: list[str] = field(default_factory=list)
    """Paths in the block, as its header comments write them."""
    names: list[str] = field(default_factory=list)
    """Names of the definitions in the block."""
    candidates: int = 0
    """Snippets considered."""


def usage_counts(text: str) -> dict[str, int]:
    """Identifier -> occurrences in text."""
    counts: dict[str, int] = {}
    for name in IDENTIFIER.findall(text):
        counts[name] = counts.get(name, 0) + 1
    return counts


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def near_names(text: str, offset: int) -> dict[str, float]:
    """Identifier -> weight (1 on the cursor's line, falling with distance) in the window around offset."""
    start = offset
    for _ in range(LINES_BEFORE):
        start = text.rfind("\n", 0, start)
        if start <= 0:
            start = 0
            break
    end = offset
    for _ in range(LINES_AFTER):
        end = text.find("\n", end + 1)
        if end < 0:
            end = len(text)
            break
    weights: dict[str, float] = {}
    cursor_row = text.count("\n", start, offset)
    for row, line in enumerate(text[start:end].split("\n")):
        weight = 1.0 / (1.0 + abs(row - cursor_row) / 4)
        for name in IDENTIFIER.findall(line):
            if len(name) > 1 and name not in KEYWORDS and weights.get(name, 0.0) < weight:
                weights[name] = weight
    return weights


def _lookup(index: WorkspaceIndex, names: list[str], query: Query) -> list[tuple[str, Definition]]:
    found = [(p, d) for p, d in index.definitions_named(names) if p not in query.open_outlines]
    wanted = set(names)
    for path, outline in query.open_outlines.items():
        found += [(path, d) for d in outline.definitions if d.name in wanted]
    return [(p, d) for p, d in found if p != query.path]


def retrieve(index: WorkspaceIndex, query: Query) -> Retrieved:
    """The block for query's cursor within its budget."""
    if query.budget_tokens <= 0:
        return Retrieved()
    family = FAMILIES.get(query.language, query.language)
    own = {d.name for d in query.outline.definitions} if query.outline else set()
    weights = {n: w for n, w in near_names(query.text, query.offset).items() if n not in own}
    imported_files, aliases = set(), {}
    for imp in query.outline.imports if query.outline else ():
        files = _module_files(index, imp.module, query)
        imported_files |= files
        if imp.alias:
            aliases[imp.alias] = files
        for name in imp.names:  # the import line itself counts once
            used = min(1.0, 0.3 + 0.1 * max(0, query.usage.get(name, 1) - 1))
            weights[name] = max(weights.get(name, 0.0), IMPORTED_NAME * used)
    qualified = {(a, b) for a, b in QUALIFIED.findall(query.text[max(0, query.offset - 2000):query.offset + 200])}
    typed = WORD_AT_END.search(query.text[max(0, query.offset - 200):query.offset])
    owner, word = (typed.group(1), typed.group(2) or "") if typed else (None, "")
    if len(word) >= 2:
        for name in index.names_with_prefix(word, MAX_PREFIX_MATCHES):
            weights[name] = max(weights.get(name, 0.0), TYPED_WORD)
    typed_module = aliases.get(owner, set()) if owner else set()  # `geo.` or `geo.ar` at the cursor
    api: list[tuple[str, Definition]] = []
    for path in typed_module | imported_files:
        outline = query.open_outlines.get(path) or index.outline_of(path)
        api += [(path, d) for d in (outline.definitions[:60] if outline else ()) if not d.parent]
    found = _lookup(index, list(weights), query)
    holders: dict[str, int] = {}
    for _, d in found:
        holders[d.name] = holders.get(d.name, 0) + 1
    snippets: dict[tuple, Snippet] = {}
    here = os.path.dirname(query.path)
    for path, definition in found + api:
        if FAMILIES.get(_outline_language(index, query, path), "") != family:
            continue
        weight = weights.get(definition.name, 0.0)
        for alias, files in aliases.items():
            if (alias, definition.name) in qualified and path in files:
                weight = max(weight, 1.0) * 2
        if path in typed_module:
            weight = max(weight, 1.0 if definition.name.startswith(word) else MODULE_API)
        weight = max(weight, MODULE_API if path in imported_files else 0.0)
        score = weight / math.sqrt(holders.get(definition.name, 1))
        score *= (IMPORTED if path in imported_files else 1.0) * (1.2 if os.path.dirname(path) == here else 1.0)
        key = (path, definition.line, definition.name)
        score += STICKY if key in query.previous else 0.0
        if score > 0 and (key not in snippets or snippets[key].score < score):
            outline = query.open_outlines.get(path) or index.outline_of(path)
            snippets[key] = Snippet(path, definition.line, _render(definition, outline, family), score, key,
                                    definition.parent if family != "go" else "")
    for edit in query.recent:
        if edit.path != query.path and FAMILIES.get(_outline_language(index, query, edit.path), "") == family:
            key = (edit.path, edit.line, "")
            snippets.setdefault(key, Snippet(edit.path, edit.line, edit.text.split("\n"),
                                             RECENT_EDIT + (STICKY if key in query.previous else 0.0), key))
    return _fit(index, query, list(snippets.values()), family)


def _outline_language(index: WorkspaceIndex, query: Query, path: str) -> str:
    outline = query.open_outlines.get(path) or index.outline_of(path)
    return outline.language if outline is not None else ""


def _module_files(index: WorkspaceIndex, module: str, query: Query) -> set[str]:
    """Files an import names: by its last component, preferring those whose path ends like the module."""
    parts = [p for p in re.split(r"\.|/|::", module) if p and p not in ("crate", "super", "self", "..", "@")]
    if not parts:
        return set()
    files = index.files_of_module(parts[-1])
    if len(files) > 1 and len(parts) > 1:  # disambiguate by the folder above
        narrowed = {f for f in files if f"/{parts[-2]}/" in f.replace(os.sep, "/")}
        files = narrowed or files
    return {f for f in files if f != query.path}


def _render(definition: Definition, outline: Outline | None, family: str) -> list[str]:
    """A definition's lines: its header, a body elided (`...`, `{ ... }`), a class with its constructor."""
    line = definition.header
    if definition.body:
        line += " ..." if family == "python" else " { ... }"
    if definition.kind == "class" and outline is not None:
        init = next((d for d in outline.definitions if d.parent == definition.name
                     and d.name in ("__init__", "constructor")), None)
        if init is not None:
            member = "    " + init.header + (" ..." if family == "python" else " { ... }")
            return ([definition.header, member] if family == "python" else
                    [definition.header + " {", member, "}"])
    return [line]


def _container(snippet: Snippet, index: WorkspaceIndex, query: Query, family: str) -> tuple[str, str]:
    """The opening and closing lines around a member (its class, impl or trait)."""
    outline = query.open_outlines.get(snippet.path) or index.outline_of(snippet.path)
    parent = next((d for d in outline.definitions if d.name == snippet.parent and not d.parent), None) \
        if outline is not None else None
    if family == "python":
        return (parent.header if parent else f"class {snippet.parent}:"), ""
    if family == "rust" and (parent is None or not re.search(r"\b(trait|mod)\b", parent.header)):
        return f"impl {snippet.parent} {{", "}"  # a struct's or enum's methods live in its impl
    opener = parent.header if parent else f"class {snippet.parent}"
    return opener + " {", "}"


def display_path(index: WorkspaceIndex, path: str) -> str:
    rules = index.rules_for(path)
    rel = rules.relative(path) if rules is not None else None
    return rel or os.path.basename(path)


def _fit(index: WorkspaceIndex, query: Query, snippets: list[Snippet], family: str) -> Retrieved:
    """The best snippets within the budget, rendered by file (sorted by path) and line."""
    comment = "#" if family == "python" else "//"
    budget = query.budget_tokens * CHARS_PER_TOKEN
    chosen: dict[str, list[Snippet]] = {}
    used = 0.0
    for snippet in sorted(snippets, key=lambda s: (-s.score, s.path, s.line)):
        cost = sum(len(line) + 1 for line in snippet.lines) + 8  # + its share of a container's lines
        if snippet.path not in chosen:
            cost += len(display_path(index, snippet.path)) + len(comment) + 3
        if used + cost > budget:
            continue
        chosen.setdefault(snippet.path, []).append(snippet)
        used += cost
    out: list[str] = []
    files, names = [], []
    for path in sorted(chosen):
        shown = display_path(index, path)
        files.append(shown)
        out.append(f"{comment} {shown}")
        open_parent, closer = "", ""
        for snippet in sorted(chosen[path], key=lambda s: (s.line, s.key)):
            names.append(snippet.key[2])
            if snippet.parent != open_parent:
                if closer:
                    out.append(closer)
                opener, closer = _container(snippet, index, query, family) if snippet.parent else ("", "")
                if opener:
                    out.append(opener)
                open_parent = snippet.parent
            indent = "    " if snippet.parent else ""
            out += [indent + line for line in snippet.lines]
        if closer:
            out.append(closer)
        out.append("")
    block = "\n".join(out) + "\n" if out else ""
    keys = frozenset(s.key for group in chosen.values() for s in group)
    return Retrieved(block, keys, files, names, len(snippets))
