"""Typed-through suggestions: when the user types what the ghost text shows, serve the rest at once.

Every editor re-asks for an inline completion on each keystroke. If the characters typed since a
suggestion was offered are a strict start of that suggestion, and nothing else in the document
changed, the rest of the same suggestion is still the model's answer: return it without running the
model (Copilot and llm-ls behave the same way). Anything else (a deletion, a different character, an
edit elsewhere, the whole suggestion typed) drops the record and the model runs as usual.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Shown:
    """The last suggestion offered for one document."""

    before: str
    """Document text before the cursor when it was offered."""
    after: str
    """Document text after the cursor when it was offered."""
    text: str
    """The suggestion, as inserted at that cursor."""
    request_id: str
    """The engine request that produced it (accept/reject feedback still names it)."""


def remaining(shown: Shown | None, text: str, offset: int) -> str | None:
    """What is left of shown.text for a cursor at offset in text, or None when it no longer applies.

    Applies when text == shown.before + typed + shown.after with typed a non-empty strict start of
    shown.text (the cursor sitting right after typed). Cost: string comparisons, no copy of the
    document beyond the two slices.
    """
    if shown is None:
        return None
    start = len(shown.before)
    typed_len = offset - start
    if not 0 < typed_len < len(shown.text) or len(text) != start + typed_len + len(shown.after):
        return None
    if not text.startswith(shown.before) or not text.endswith(shown.after):
        return None
    typed = text[start:offset]
    if not shown.text.startswith(typed):
        return None
    rest = shown.text[typed_len:]
    return rest if rest.strip() else None
