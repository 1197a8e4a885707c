"""Healing the cursor: what moves into the span, round trips, and the completions it gives back."""

from __future__ import annotations

from pathlib import Path

import pytest
import tokenizers

from engine.denoise.layout import completion, ends_line_at_once, heal, heal_middle, last_pre_token

TINY_TOKENIZER = Path(__file__).resolve().parents[3] / "engine" / "assets" / "stipple-tiny" / "tokenizer.json"

# One row per cursor kind: the prefix, and the text token healing takes off its end.
CURSORS = [
    ("keyword + space", "def area(r):\n    return ", " "),
    ("after =", "    total = ", " "),
    ("open bracket", "    total = sum(", "("),
    ("after comma", "    f(a, ", " "),
    ("mid-identifier", "def circle_ar", "ar"),
    ("after dot", "    math.", "."),
    ("mid-attribute", "    math.p", "p"),
    ("keyword, no space", "    return", " return"),
    ("mid-string", '    msg = "Hello, wor', " wor"),
    ("after a quote", '    msg = "', ' "'),
    ("end of a comment", "    # compute the", " the"),
    ("line start", "def f(x):\n", "\n"),
    ("after a blank line", "import os\n\n", "\n\n"),
    ("in indentation", "def f(x):\n    ", "\n    "),
    ("tab indentation", "func f() {\n\t", "\n\t"),
    ("CRLF line start", "x = 1\r\n", "\r\n"),
    ("Rust path", "    let v = Vec::", "::"),
    ("TypeScript arrow", "const f = (x: number) =", " ="),
    ("number", "    n = 12", " 12"),
    ("non-ASCII word", "    café_na", "na"),
    ("empty prefix", "", ""),
]


@pytest.mark.parametrize(("kind", "prefix", "lead"), CURSORS, ids=[row[0] for row in CURSORS])
def test_the_last_pre_token_moves_into_the_span(kind, prefix, lead):
    layout = heal(prefix, "\n")
    assert layout.lead == lead and layout.prefix + layout.lead == prefix


@pytest.mark.parametrize(("kind", "prefix", "lead"), CURSORS, ids=[row[0] for row in CURSORS])
def test_the_healed_prefix_ends_where_the_whole_texts_tokens_do(kind, prefix, lead):
    """No token crosses the cut: the healed prefix's tokens begin every continuation's tokens."""
    tok = tokenizers.Tokenizer.from_file(str(TINY_TOKENIZER))
    kept = tok.encode(heal(prefix, "").prefix, add_special_tokens=False).ids
    for typed in ("x", "radius", "(1)", "\n", "  y", "area"):
        assert tok.encode(prefix + typed, add_special_tokens=False).ids[: len(kept)] == kept


def test_without_cursor_healing_only_a_line_break_moves():
    assert heal("    return ", "\n", cursor=False).lead == ""
    layout = heal("def f(x):\n", "    return x\n", cursor=False)
    assert (layout.prefix, layout.lead, layout.suffix) == ("def f(x):", "\n", "\n    return x\n")


def test_a_long_last_pre_token_is_left_alone():
    assert last_pre_token("x = " + "a" * 200) == ""


@pytest.mark.parametrize("cursor", [True, False])
@pytest.mark.parametrize(("prefix", "middle", "suffix"), [
    ("def f(x):\n", "    return x\n", "\nprint(f(1))\n"),
    ("def f(x):\n", "    y = x\n", "    return y\n"),
    ("def f(x):\r\n", "    y = x\r\n", "    return y\r\n"),
    ("x = foo(", "1, 2", ")\n"),
    ("def f(x):\n    return ", "x", "\n"),
    ("def circle_ar", "ea(r):", "\n"),
    ("def f(x):\n  ", "  y = x\n", "next\n"),
    ("", "import os\n", "os.sep\n"),
    ("a = 1\n", "b = 2\n", ""),
    ("a = 1\n\n", "b = 2\n", "c = 3\n"),
])
def test_healed_pieces_concatenate_to_the_original(prefix, middle, suffix, cursor):
    layout = heal(prefix, suffix, cursor)
    span = heal_middle(middle, layout)
    assert span.startswith(layout.lead)
    assert layout.prefix + span + layout.suffix == prefix + middle + suffix
    mode = "multi" if middle.count("\n") > 1 else "single"
    if not (layout.after_indent and middle.startswith(" ")):  # completion never adds indentation there
        assert completion(span, layout, mode) == middle


@pytest.mark.parametrize(("text", "prefix", "suffix", "mode", "expected"), [
    ("\n    y = 1\n    z = 2", "def f():\n", "    return\n", "single", "    y = 1\n"),
    ("\n    y = 1\n    z = 2", "def f():\n", "    return\n", "multi", "    y = 1\n    z = 2\n"),
    (" x + 1\nmore", "return ", "\n", "single", "x + 1"),
    ("area(r):\n    pass", "def circle_ar", "\n", "single", "ea(r):"),
    ("\n", "def f():\n", "    return\n", "single", "\n"),
    ("\n        total += value", "    for v in x:\n        ", "\n", "single", "total += value"),
    ("\n            total += value", "    for v in x:\n        ", "\n", "single", "total += value"),  # no double indent
    ("", "return ", "\n", "single", ""),  # the span ended inside the lead: nothing
    ("\n   return", "def f():\n    ", "\n", "single", "return"),  # strayed: the shared part goes
])
def test_completion_from_span_text(text, prefix, suffix, mode, expected):
    assert completion(text, heal(prefix, suffix), mode) == expected


@pytest.mark.parametrize(("text", "prefix", "ends"), [
    (" \n    x = 1", "    return ", True),  # the model breaks the line at once, then writes below
    ("   \n", "    return ", True),  # or writes nothing at all on it
    (" 3.14 * r\n", "    return ", False),
    (" ", "    return ", False),  # all pad: nothing, but no line break either
    ("\n    y = 1", "def f():\n", False),  # a line-start lead is the line's own break
])
def test_ending_the_line_at_once(text, prefix, ends):
    assert ends_line_at_once(text, heal(prefix, "\n")) is ends
