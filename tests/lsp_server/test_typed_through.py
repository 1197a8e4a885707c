"""Typed-through suggestions: the rest of the suggestion only when exactly its start was typed."""

from __future__ import annotations

import pytest

from lsp_server.typed_through import Shown, remaining

SHOWN = Shown(before="x = ", after="\nprint(x)\n", text="compute(a, b)", request_id="r1")


@pytest.mark.parametrize("text, offset, expected", [
    ("x = c\nprint(x)\n", 5, "ompute(a, b)"),  # one character typed
    ("x = compute(\nprint(x)\n", 12, "a, b)"),  # several
    ("x = \nprint(x)\n", 4, None),  # nothing typed yet: the model decides again
    ("x = compute(a, b)\nprint(x)\n", 17, None),  # all of it typed: nothing left
    ("x = d\nprint(x)\n", 5, None),  # a different character
    ("x = c\nprint(y)\n", 5, None),  # an edit after the cursor
    ("y = c\nprint(x)\n", 5, None),  # an edit before the suggestion
    ("x = c\nprint(x)\n", 4, None),  # the cursor moved back
    ("x = co\nprint(x)\n", 5, None),  # the cursor is not right after what was typed
])
def test_remaining(text: str, offset: int, expected: str | None):
    assert remaining(SHOWN, text, offset) == expected


def test_no_suggestion_shown():
    assert remaining(None, "x = c", 5) is None


def test_whitespace_rest_is_not_offered():
    shown = Shown(before="", after="", text="pass  ", request_id="r2")
    assert remaining(shown, "pass", 4) is None
