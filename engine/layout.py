"""Where the line breaks go around a span: the same rule in training and at inference.

Byte-level BPE vocabularies (SmolLM2's among them) merge a newline with the next line's indentation
into one token ("\\n    "). A cursor at the start of a line splits that pair: the prefix would end
with a lone newline and the span start with bare spaces, a tokenization the base model has hardly
seen. So the prefix's final newline moves into the span (which then begins "\\n    for ..."), and
the completed line's own newline moves into the suffix (which then begins "\\n        next line").
The caller sees none of this: `completion` turns the span's text back into exactly the text between
the original prefix and suffix.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Layout:
    prefix: str
    """The text before the span, as the model sees it."""
    suffix: str
    """The text after the span, as the model sees it."""
    lead: str
    """The newline taken from the prefix's end; the span's text begins with it ("" if none)."""
    trail: str
    """The newline put at the suffix's start; the completion ends with it ("" if none)."""
    line_start: bool
    """The cursor is at the start of a line: a completed line keeps its own newline."""
    after_indent: bool = False
    """The cursor's line holds only indentation so far: the completion must not add more."""


def newline_at_end(text: str) -> str:
    return "\r\n" if text.endswith("\r\n") else "\n" if text.endswith("\n") else ""


def heal(prefix: str, suffix: str) -> Layout:
    """Move the line breaks at a line-start cursor so that newline + indentation stay one token."""
    lead = newline_at_end(prefix)
    if not lead:
        current = prefix.rsplit("\n", 1)[-1]
        indented = current != "" and current.strip(" \t") == ""
        return Layout(prefix, suffix, "", "", line_start=prefix == "", after_indent=indented)
    trail = "" if suffix.startswith(("\n", "\r\n")) else lead
    return Layout(prefix[: -len(lead)], trail + suffix, lead, trail, line_start=True)


def heal_middle(middle: str, layout: Layout) -> str:
    """The training target for a middle under a layout (the inverse of `completion`)."""
    if layout.trail and middle.endswith(layout.trail):
        middle = middle[: -len(layout.trail)]
    return layout.lead + middle


def completion(text: str, layout: Layout, mode: str) -> str:
    """The span's decoded text -> the text between the original prefix and suffix.

    Single-line mode keeps the first line only.
    """
    if layout.after_indent:
        text = text.lstrip(" \t")
    if layout.lead and text.startswith(layout.lead):
        text = text[len(layout.lead) :]
    elif layout.lead and text.startswith("\n"):
        text = text[1:]
    if mode == "single" and "\n" in text:
        line = text.split("\n", 1)[0]
        ends_line = layout.line_start and not layout.trail  # the line's newline is the span's
        text = line + "\n" if ends_line else line.removesuffix("\r")
    elif layout.trail:
        text = text.rstrip("\r\n")
    return text + layout.trail
