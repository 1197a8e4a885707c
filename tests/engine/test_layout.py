"""Line-break healing around the span: round trips and the completions it gives back."""

from __future__ import annotations

import pytest

from engine.layout import completion, heal, heal_middle


@pytest.mark.parametrize(("prefix", "middle", "suffix"), [
    ("def f(x):\n", "    return x\n", "\nprint(f(1))\n"),
    ("def f(x):\n", "    y = x\n", "    return y\n"),
    ("def f(x):\r\n", "    y = x\r\n", "    return y\r\n"),
    ("x = foo(", "1, 2", ")\n"),
    ("def f(x):\n    return ", "x", "\n"),
    ("", "import os\n", "os.sep\n"),
    ("a = 1\n", "b = 2\n", ""),
])
def test_healed_pieces_concatenate_to_the_original(prefix, middle, suffix):
    layout = heal(prefix, suffix)
    span = heal_middle(middle, layout)
    assert layout.prefix + span + layout.suffix == prefix + middle + suffix
    mode = "multi" if middle.count("\n") > 1 else "single"
    assert completion(span, layout, mode) == middle


def test_line_start_cursor_moves_newlines():
    layout = heal("def f(x):\n", "    return x\n")
    assert (layout.prefix, layout.lead, layout.suffix) == ("def f(x):", "\n", "\n    return x\n")


@pytest.mark.parametrize(("text", "prefix", "suffix", "mode", "expected"), [
    ("\n    y = 1\n    z = 2", "def f():\n", "    return\n", "single", "    y = 1\n"),
    ("\n    y = 1\n    z = 2", "def f():\n", "    return\n", "multi", "    y = 1\n    z = 2\n"),
    ("x + 1\nmore", "return ", "\n", "single", "x + 1"),
    ("    y = 1", "def f():\n", "    return\n", "single", "    y = 1\n"),  # no leading newline made
    ("\n", "def f():\n", "    return\n", "single", "\n"),
    (" total += value", "    for v in x:\n        ", "\n", "single", "total += value"),  # no double indent
])
def test_completion_from_span_text(text, prefix, suffix, mode, expected):
    assert completion(text, heal(prefix, suffix), mode) == expected
