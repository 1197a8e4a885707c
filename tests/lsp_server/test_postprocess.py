"""Table-driven: fixture file with a cursor marker + what the model wrote -> what the editor shows."""

from __future__ import annotations

import pytest
from lsp_helpers import load_marked

from lsp_server.context import extract
from lsp_server.postprocess import finish

CASES = [  # fixture, crlf, generated text, expected insert text (None: nothing shown)
    ("py_after_code.py", False, "height\n    return result\n", "height"),
    ("py_after_code.py", False, "   \n  ", None),
    ("py_after_code.py", False, "", None),
    ("py_closer_right.py", False, "b)", "b"),  # the line already has the ')'
    ("py_closer_right.py", False, "c, d)\n", "c, d"),
    ("py_emoji_before.py", False, "\"🎈\"\nmore", "\"🎈\""),
    ("py_emoji_before.py", True, "name\r\n", "name"),
    ("py_block_header.py", False, "\n        return 1\n", "\n        return 1"),
    ("py_block_header.py", True, "\n        return 1\n", "\r\n        return 1"),
    ("py_block_header.py", False, "\n        return 1\n\n\nshape = Shape()\n", "\n        return 1"),
    ("py_blank_line.py", False, "    value += 1\n    return value\n", "value += 1"),  # no doubled line
    ("py_blank_line.py", False, "value += 1", "value += 1"),
    ("py_tabs.py", False, "y = 2\n        z = 3", "y = 2\n\t\tz = 3"),  # the file uses tabs
    ("py_tabs.py", True, "y = 2\n\t\tz = 3\n", "y = 2\r\n\t\tz = 3"),
    ("py_block_header.py", False, "\n        return 1\n    def other(self):\n        pass", "\n        return 1"),
    ("py_block_header.py", False, "\nfromfrom\n        x", None),  # left the block at once: nothing
    ("py_blank_line.py", False, "a = 1\n\n\n    b = 2", "a = 1"),  # two blank lines end it
    ("js_empty_body.js", False, "\n    return w * h;\n}", "\n    return w * h;\n"),
    ("rs_block_header.rs", False, "\n\t\tself.w * self.h\n", "\n        self.w * self.h"),  # spaces file
    ("go_block_header.go", False, "\n\tprintln(1)\n}\n", "\n\tprintln(1)"),
    ("go_after_code.go", True, "w * h\n\treturn r", "w * h"),
]


@pytest.mark.parametrize("name, crlf, generated, expected", CASES,
                         ids=[f"{c[0]}-{'crlf' if c[1] else 'lf'}-{i}" for i, c in enumerate(CASES)])
def test_finish(name: str, crlf: bool, generated: str, expected: str | None):
    doc, offset = load_marked(name, crlf)
    ctx = extract(doc, offset)
    assert ctx.mode != "skip"
    text = finish(generated, ctx)
    assert text == expected
    if text is not None:
        assert text.strip() and (not crlf or "\n" not in text.replace("\r\n", ""))  # no bare LF in CRLF
        if ctx.mode == "single":
            assert "\n" not in text and "\r" not in text
