"""The healing benchmark's cursor table: at least 40 real cursors, every kind in every language."""

from __future__ import annotations

import pytest

from benchmarks.healing import KINDS, pick_cursors, word_match


def test_cursors_cover_every_kind_and_language():
    cursors = pick_cursors()
    assert len(cursors) >= 40
    assert {c.language for c in cursors} == {"python", "typescript", "rust", "go"}
    assert {c.kind for c in cursors} == set(KINDS)
    for c in cursors:
        assert c.next_word.strip() and c.prefix[-1] not in "\n"


@pytest.mark.parametrize(("completion", "word", "expected"), [
    ("radius ** 2", "radius", True), ("radius_sq", "radius", False), (" 3.14", " 3", True),
    ("(x)", "(", True), ("", "x", False), ("x", "", False),
])
def test_word_match(completion, word, expected):
    assert word_match(completion, word) is expected
