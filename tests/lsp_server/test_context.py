"""Table-driven: one fixture file with a cursor marker per row -> mode, reason, indentation."""

from __future__ import annotations

import time

import pytest
from lsp_helpers import load_marked

from lsp_server.context import detect_indent_unit, extract
from lsp_server.documents import Document
from lsp_server.languages import language_for

CASES = [  # fixture, mode, reason, indent of a new line at the cursor
    ("py_after_code.py", "single", "after code", "    "),
    ("py_block_header.py", "multi", "block header", "        "),
    ("py_blank_line.py", "multi", "blank line", "    "),
    ("py_in_string.py", "skip", "string or comment", None),
    ("py_in_comment.py", "skip", "string or comment", None),
    ("py_identifier_right.py", "skip", "identifier right of cursor", None),
    ("py_code_right.py", "skip", "identifier right of cursor", None),
    ("py_closer_right.py", "single", "after code", "    "),
    ("py_emoji_before.py", "single", "after code", "    "),
    ("py_tabs.py", "multi", "blank line", "\t\t"),
    ("js_after_code.js", "single", "after code", "  "),
    ("js_empty_body.js", "multi", "empty body", "    "),  # nothing to learn the unit from
    ("js_in_template.js", "skip", "string or comment", None),
    ("js_in_regex.js", "skip", "identifier right of cursor", None),
    ("ts_blank_in_interface.ts", "multi", "blank line", "  "),
    ("tsx_in_jsx.tsx", "skip", "code right of cursor", None),
    ("rs_after_code.rs", "single", "after code", "    "),
    ("rs_block_header.rs", "multi", "block header", "        "),
    ("rs_in_string.rs", "skip", "string or comment", None),
    ("go_after_code.go", "single", "after code", "\t"),
    ("go_block_header.go", "multi", "block header", "\t"),
    ("go_in_comment.go", "skip", "string or comment", None),
]


@pytest.mark.parametrize("crlf", [False, True], ids=["lf", "crlf"])
@pytest.mark.parametrize("name, mode, reason, indent", CASES, ids=[c[0] for c in CASES])
def test_context(name: str, mode: str, reason: str, indent: str | None, crlf: bool):
    doc, offset = load_marked(name, crlf)
    ctx = extract(doc, offset)
    assert (ctx.mode, ctx.reason) == (mode, reason)
    if indent is not None:
        assert ctx.indent == indent
        assert ctx.eol == ("\r\n" if crlf else "\n")
        assert "\r" not in ctx.prefix + ctx.suffix  # the model sees LF
        assert doc.text.replace("\r\n", "\n") == ctx.prefix + ctx.suffix  # small files fit whole
        assert ctx.prefix.endswith(ctx.line_prefix) and ctx.suffix.startswith(ctx.line_suffix)


def test_emoji_before_cursor_maps_utf16_positions():
    doc, offset = load_marked("py_emoji_before.py")
    line, character = doc.position_at(offset)
    assert character == len(doc.line_text(line)[: offset - doc.line_starts[line]].encode("utf-16-le")) // 2
    assert doc.offset_at(line, character) == offset
    assert extract(doc, offset).line_prefix.endswith("😀🎉\" + ")


def test_scope_lines():
    doc, offset = load_marked("py_block_header.py")
    ctx = extract(doc, offset)
    assert ctx.scope_lines_before == 0 and ctx.scope_lines_after == 0  # the header's own line
    doc, offset = load_marked("py_after_code.py")
    assert extract(doc, offset).scope_lines_before == 1


@pytest.mark.parametrize("lines, unit", [
    (["def f():", "\tx = 1", "\tif x:", "\t\ty = 2"], "\t"),
    (["def f():", "  x = 1", "  if x:", "    y = 2"], "  "),
    (["def f():", "    x = 1"], "    "),
    (["x = 1"], "    "),
])
def test_indent_unit(lines: list[str], unit: str):
    assert detect_indent_unit(lines) == unit


def test_five_megabyte_file_reads_only_a_window():
    chunk = "def handler_{n}(request):\n    value = request.get('key')\n    return value * 2\n\n\n"
    text = "".join(chunk.format(n=n) for n in range(5 * 1024 * 1024 // len(chunk)))
    assert len(text) >= 5 * 1024 * 1024 - len(chunk)
    doc = Document("file:///big.py", "python", 1, text + "def last(x):\n    y = ", language=language_for("python"))
    started = time.perf_counter()
    ctx = extract(doc, len(doc.text), prefix_chars=4000, suffix_chars=1000)
    elapsed = time.perf_counter() - started
    assert ctx.mode == "single" and ctx.prefix.endswith("def last(x):\n    y = ")
    assert len(ctx.prefix) <= 4000 + len("    y = ") and ctx.prefix.startswith(("def ", "    ", "\n"))
    assert elapsed < 2.0  # linear scans only (no model, no re-parse); a loose bound for a busy machine
    middle = doc.offset_at(50_000, 0)
    assert extract(doc, middle, prefix_chars=4000, suffix_chars=1000).mode in ("multi", "skip")
