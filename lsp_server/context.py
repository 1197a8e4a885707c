"""The cursor -> CursorContext: whether to complete at all, single- or multi-line, and the code around.

Decided from the syntax tree before any model time is spent (llm-ls's should_complete): nothing
inside strings or comments or with an identifier character right of the cursor; multi-line at the end
of a block header, in an empty body or on a blank line; single-line after code on the line.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from lsp_server.documents import Document

log = logging.getLogger("stipple.context")

CLOSERS = re.compile(r"[\s)\]}>'\"`;,:]*")
IDENTIFIER_CHAR = re.compile(r"\w")
DEFAULT_INDENT_UNIT = "    "


@dataclass
class CursorContext:
    """Everything post-processing and span building need about one cursor."""

    mode: str
    """"skip", "single" or "multi"."""
    reason: str
    """Why this mode: "string or comment", "block header", "blank line", "after code", ..."""
    prefix: str = ""
    """Code before the cursor, whole lines (except the cursor's), LF line ends, at most the char window."""
    suffix: str = ""
    """Code after the cursor, whole lines (except the cursor's), LF line ends."""
    line_prefix: str = ""
    """The cursor line's text left of the cursor."""
    line_suffix: str = ""
    """The cursor line's text right of the cursor, without its line break."""
    indent: str = ""
    """Indentation a new line at the cursor should have."""
    indent_unit: str = DEFAULT_INDENT_UNIT
    """One indentation level in this file: a tab, or a run of spaces."""
    eol: str = "\n"
    """The file's line break, used for the inserted text."""
    scope_lines_before: int = 0
    """Lines of prefix that belong to the enclosing scope (function, class, impl); kept first."""
    scope_lines_after: int = 0
    """Lines of suffix up to the end of the enclosing scope."""

    @property
    def skip(self) -> bool:
        return self.mode == "skip"


def leading_whitespace(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def detect_indent_unit(lines: list[str], default: str = DEFAULT_INDENT_UNIT) -> str:
    """Tabs if more lines start with a tab than with spaces; else the smallest space step (2..8)."""
    tabs = sum(1 for line in lines if line.startswith("\t"))
    spaced = [len(leading_whitespace(line)) for line in lines if line.startswith(" ") and line.strip()]
    if tabs > len(spaced):
        return "\t"
    steps = [n for n in spaced if n >= 2]
    return " " * min(min(steps), 8) if steps else default


def cursor_in_no_complete(doc: Document, byte: int) -> bool:
    """True when the cursor sits inside a string, comment or regex node (or at the end of a comment)."""
    if doc.tree is None or doc.language is None:
        return False
    node = doc.tree.root_node.descendant_for_byte_range(max(byte - 1, 0), byte)
    while node is not None:
        if node.type in doc.language.no_complete:
            inside = node.start_byte < byte < node.end_byte
            if inside or ("comment" in node.type and node.start_byte < byte <= node.end_byte):
                return True
        node = node.parent
    return False


def enclosing_scope_rows(doc: Document, byte: int) -> tuple[int, int] | None:
    if doc.tree is None or doc.language is None:
        return None
    node = doc.tree.root_node.descendant_for_byte_range(byte, byte)
    while node is not None and node.type not in doc.language.scopes:
        node = node.parent
    return (node.start_point.row, node.end_point.row) if node is not None else None


def decide_mode(doc: Document, line_prefix: str, line_suffix: str, byte: int) -> tuple[str, str]:
    if doc.language is None:
        return "skip", "unsupported language"
    if IDENTIFIER_CHAR.match(line_suffix[:1]):
        return "skip", "identifier right of cursor"
    if not CLOSERS.fullmatch(line_suffix):
        return "skip", "code right of cursor"
    if cursor_in_no_complete(doc, byte):
        return "skip", "string or comment"
    if not line_prefix.strip():
        return "multi", "blank line" if not line_suffix.strip() else "before closer"
    if line_prefix.rstrip().endswith(doc.language.block_opener):
        return "multi", "block header" if not line_suffix.strip() else "empty body"
    return "single", "after code"


def new_line_indent(lines_before: list[str], line_prefix: str, opener: str, unit: str) -> str:
    if line_prefix.strip():
        base = leading_whitespace(line_prefix)
        return base + unit if line_prefix.rstrip().endswith(opener) else base
    for line in reversed(lines_before):
        if line.strip():
            base = leading_whitespace(line)
            return base + unit if line.rstrip().endswith(opener) else max(base, line_prefix, key=len)
    return line_prefix


def extract(doc: Document, offset: int, prefix_chars: int = 8000, suffix_chars: int = 3000) -> CursorContext:
    """The CursorContext at str offset in doc, reading at most the given windows of text."""
    row, _ = doc.position_at(offset)
    line_start = doc.line_starts[row]
    line_prefix = doc.text[line_start:offset]
    line_suffix = doc.line_text(row)[offset - line_start:]
    byte = doc.byte_offset(offset)
    mode, reason = decide_mode(doc, line_prefix, line_suffix, byte)
    if mode == "skip":
        return CursorContext(mode, reason, line_prefix=line_prefix, line_suffix=line_suffix)
    window_start = max(0, line_start - prefix_chars)
    if window_start > 0:  # whole lines only: drop the partial first line of the window
        window_start = doc.line_starts[min(doc.position_at(window_start)[0] + 1, row)]
    before = normalize(doc.text[window_start:line_start])
    window_end = min(len(doc.text), offset + suffix_chars)
    after = doc.text[offset:window_end]
    if window_end < len(doc.text):
        after = after[: max(len(line_suffix), after.rfind("\n") + 1)]
    lines_before = before.split("\n")[:-1]
    unit = detect_indent_unit(lines_before[-2000:] + normalize(after).split("\n")[:500], doc.language.indent_unit)
    scope = enclosing_scope_rows(doc, byte)
    return CursorContext(
        mode, reason, prefix=before + line_prefix, suffix=normalize(after), line_prefix=line_prefix,
        line_suffix=line_suffix, indent=new_line_indent(lines_before, line_prefix, doc.language.block_opener, unit),
        indent_unit=unit, eol=doc.eol(),
        scope_lines_before=row - scope[0] if scope else 0, scope_lines_after=scope[1] - row if scope else 0)


def normalize(text: str) -> str:
    """LF line ends: the model was trained on them; post-processing restores the file's own."""
    return text.replace("\r\n", "\n").replace("\r", "\n")
