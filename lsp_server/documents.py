"""Document: the text of one open file plus its incrementally updated tree-sitter tree.

Positions arrive in the negotiated encoding (UTF-16 code units by default, UTF-8 bytes or UTF-32
code points when the client asks) and are mapped to str offsets here and nowhere else. Line ends
are kept as the file has them (LF, CRLF or CR); LSP counts all three as line breaks.
"""

from __future__ import annotations

import logging
import re
import time
from bisect import bisect_right
from dataclasses import dataclass, field

from tree_sitter import Parser, Point, Tree

from lsp_server.languages import Language

log = logging.getLogger("stipple.documents")

LINE_BREAK = re.compile(r"\r\n|\r|\n")
LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # JSON's \udXXX escapes can carry half a UTF-16 pair


def well_formed(text: str) -> str:
    """text with each lone surrogate replaced by U+FFFD (one UTF-16 unit too, so positions stay put):
    the parser, the tokenizer and the reply all need text that encodes."""
    return LONE_SURROGATE.sub("\ufffd", text) if not text.isascii() else text
UTF8, UTF16, UTF32 = "utf-8", "utf-16", "utf-32"
PARSE_BUDGET_S = 1.0  # the event loop waits for a parse: past this, the document goes without a tree
PARSE_CHUNK = 1 << 16


def unit_length(ch: str, encoding: str) -> int:
    """How many units of the position encoding one code point takes."""
    if encoding == UTF8:
        return len(ch.encode("utf-8"))
    if encoding == UTF16:
        return 2 if ord(ch) > 0xFFFF else 1
    return 1


def units_to_chars(line: str, units: int, encoding: str) -> int:
    """str index in line for a column counted in encoding units; past the end clamps to the end.

    A column inside a code point (half a surrogate pair, the middle of a UTF-8 sequence) rounds down.
    """
    if encoding == UTF32 or (encoding == UTF16 and line.isascii()) or (encoding == UTF8 and line.isascii()):
        return min(units, len(line))
    count = 0
    for index, ch in enumerate(line):
        count += unit_length(ch, encoding)
        if count > units:
            return index
    return len(line)


def chars_to_units(line: str, chars: int, encoding: str) -> int:
    return sum(unit_length(ch, encoding) for ch in line[:chars]) if not line.isascii() else chars


def ts_point(text: str, offset: int) -> Point:
    """tree-sitter's (row, byte column) for a str offset; tree-sitter rows count '\\n' only."""
    row = text.count("\n", 0, offset)
    line_start = text.rfind("\n", 0, offset) + 1
    return Point(row, len(text[line_start:offset].encode("utf-8")))


@dataclass
class Document:
    uri: str
    language_id: str
    version: int
    text: str
    encoding: str = UTF16
    language: Language | None = None
    tree: Tree | None = None
    _parser: Parser | None = field(default=None, repr=False)
    _line_starts: list[int] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.text = well_formed(self.text)
        if self.language is not None:
            self._parser = self.language.parser()
            self.tree = self._parse(None)

    def _parse(self, old_tree: Tree | None) -> Tree | None:
        """The tree of self.text, or None (and no more parsing for this document) when tree-sitter needs
        more than PARSE_BUDGET_S: 10 MB of binary bytes take it 15 s, all on the event loop."""
        data = self.text.encode("utf-8")
        deadline = time.perf_counter() + PARSE_BUDGET_S
        try:
            read = lambda offset, _point: data[offset:offset + PARSE_CHUNK]  # noqa: E731
            stop = lambda *_: time.perf_counter() > deadline  # noqa: E731
            if old_tree is None:
                return self._parser.parse(read, progress_callback=stop)
            return self._parser.parse(read, old_tree, progress_callback=stop)
        except ValueError:  # cancelled by the callback
            log.warning("%s: no syntax tree (parsing %d bytes took over %.1f s): no completions here",
                        self.uri, len(data), PARSE_BUDGET_S)
            self._parser = None
            return None

    @property
    def line_starts(self) -> list[int]:
        if self._line_starts is None:
            self._line_starts = [0] + [m.end() for m in LINE_BREAK.finditer(self.text)]
        return self._line_starts

    def line_text(self, line: int) -> str:
        """Line `line` without its line break."""
        starts = self.line_starts
        end = starts[line + 1] if line + 1 < len(starts) else len(self.text)
        return self.text[starts[line]:end].rstrip("\r\n")

    def offset_at(self, line: int, character: int) -> int:
        """str offset of an LSP position; positions past a line's end or the last line clamp."""
        starts = self.line_starts
        if line < 0 or character < 0:
            raise ValueError(f"negative position {line}:{character}")
        if line >= len(starts):
            return len(self.text)
        return starts[line] + units_to_chars(self.line_text(line), character, self.encoding)

    def position_at(self, offset: int) -> tuple[int, int]:
        line = bisect_right(self.line_starts, offset) - 1
        # An offset between '\r' and '\n' belongs to the line before the break.
        chars = min(offset - self.line_starts[line], len(self.line_text(line)))
        return line, chars_to_units(self.line_text(line), chars, self.encoding)

    def eol(self) -> str:
        """The file's line break: the first one it has, LF for a one-line file."""
        match = LINE_BREAK.search(self.text)
        return match.group() if match else "\n"

    def replace(self, start: int, end: int, new_text: str, version: int) -> None:
        """Replace text[start:end] and re-parse incrementally from the edited old tree."""
        old, new_text = self.text, well_formed(new_text)
        self.text = old[:start] + new_text + old[end:]
        self.version = version
        self._line_starts = None
        if self.tree is None or self._parser is None:
            return
        start_byte = len(old[:start].encode("utf-8"))
        self.tree.edit(start_byte=start_byte,
                       old_end_byte=start_byte + len(old[start:end].encode("utf-8")),
                       new_end_byte=start_byte + len(new_text.encode("utf-8")),
                       start_point=ts_point(old, start), old_end_point=ts_point(old, end),
                       new_end_point=ts_point(self.text, start + len(new_text)))
        self.tree = self._parse(self.tree)

    def apply_change(self, change: object, version: int) -> None:
        """One TextDocumentContentChangeEvent: a ranged edit, or the whole text when it has no range."""
        change_range = getattr(change, "range", None)
        if change_range is None:
            self.replace(0, len(self.text), change.text, version)  # type: ignore[attr-defined]
            return
        start = self.offset_at(change_range.start.line, change_range.start.character)
        end = self.offset_at(change_range.end.line, change_range.end.character)
        self.replace(min(start, end), max(start, end), change.text, version)  # type: ignore[attr-defined]

    def byte_offset(self, offset: int) -> int:
        return len(self.text[:offset].encode("utf-8"))
