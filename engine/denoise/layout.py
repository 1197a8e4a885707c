"""Where the span starts: healing the cursor, the same rule in training and at inference.

Byte-level BPE (SmolLM2's and stipple's own vocabularies) attaches what follows to the end of a
word: a space to the next word (" radius"), a newline to the next line's indentation ("\\n    "),
letters to the rest of an identifier ("circle_area"). A prefix cut at the cursor ends in a token
the model has hardly seen there: a bare " " after `return `, "ar" of `circle_ar`, a lone "\\n".
So the prefix's last pre-token (the piece no token crosses; GPT-2's split, which these tokenizers
use) moves into the span: the prefix ends at a boundary the model knows, and the span must begin
with the text taken off (`Layout.lead`; engine/denoise/healing.py constrains the first slots to it). At a
line-start cursor the completed line's own newline moves into the suffix (which then begins
"\\n        next line"). The caller sees none of this: `completion` turns the span's text back into
exactly the text between the original prefix and suffix.
"""

from __future__ import annotations

from dataclasses import dataclass

from tokenizers import pre_tokenizers

# GPT-2's pre-tokenizer regex, as byte-level BPE tokenizers apply it (offsets are str offsets).
PRE_TOKENIZER = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
TAIL_CHARS = 64  # the last pre-token is looked for in this many chars; a longer one is left alone


@dataclass(frozen=True)
class Layout:
    prefix: str
    """The text before the span, as the model sees it."""
    suffix: str
    """The text after the span, as the model sees it."""
    lead: str
    """The text taken from the prefix's end (a newline, indentation, a space, part of a word): the
    span's text begins with it ("" if none)."""
    trail: str
    """The newline put at the suffix's start; the completion ends with it ("" if none)."""
    line_start: bool
    """The cursor is at the start of a line: a completed line keeps its own newline."""
    after_indent: bool = False
    """The cursor's line holds only indentation so far: the completion must not add more."""


def newline_at_end(text: str) -> str:
    return "\r\n" if text.endswith("\r\n") else "\n" if text.endswith("\n") else ""


def last_pre_token(prefix: str) -> str:
    """The prefix's last pre-token: no token crosses its start, and text typed after it may merge
    into it (" " + "radius" -> " radius"). "" for an empty prefix or one longer than TAIL_CHARS."""
    tail = prefix[-TAIL_CHARS:]
    pieces = PRE_TOKENIZER.pre_tokenize_str(tail)
    if not pieces:
        return ""
    start = pieces[-1][1][0]
    return "" if start == 0 and len(tail) < len(prefix) else tail[start:]


def heal(prefix: str, suffix: str, cursor: bool = True) -> Layout:
    """Move the prefix's last pre-token into the span (cursor=False: only a final line break, the rule
    before token healing) and, at a line-start cursor, the completed line's newline into the suffix."""
    line_start = prefix == "" or newline_at_end(prefix) != ""
    current = prefix.rsplit("\n", 1)[-1]
    after_indent = current != "" and current.strip(" \t") == ""
    lead = last_pre_token(prefix) if cursor else newline_at_end(prefix)
    trail = ""
    if line_start and lead and not suffix.startswith(("\n", "\r\n")):
        trail = newline_at_end(prefix)
    return Layout(prefix[: len(prefix) - len(lead)], trail + suffix, lead, trail, line_start, after_indent)


def heal_middle(middle: str, layout: Layout) -> str:
    """The training target for a middle under a layout (the inverse of `completion`)."""
    if layout.trail and middle.endswith(layout.trail):
        middle = middle[: -len(layout.trail)]
    return layout.lead + middle


def strip_lead(text: str, lead: str) -> str:
    """text without the lead it begins with; when it strays from the lead (the span ended inside it),
    without the part they share."""
    if text.startswith(lead):
        return text[len(lead) :]
    shared = 0
    while shared < min(len(text), len(lead)) and text[shared] == lead[shared]:
        shared += 1
    return text[shared:]


def body(text: str, layout: Layout) -> str:
    """The span's text after the lead: what the cursor gets, before the line rules."""
    text = strip_lead(text, layout.lead)
    return text.lstrip(" \t") if layout.after_indent else text


def ends_line_at_once(text: str, layout: Layout) -> bool:
    """The span's text breaks the line before writing anything on it: the model would end the
    cursor's line there (a single-line request gets nothing, and says so)."""
    first, newline, _ = body(text, layout).partition("\n")
    return bool(newline) and not first.strip()


def completion(text: str, layout: Layout, mode: str) -> str:
    """The span's decoded text -> the text between the original prefix and suffix.

    Single-line mode keeps the first line only.
    """
    text = body(text, layout)
    if mode == "single" and "\n" in text:
        line = text.split("\n", 1)[0]
        ends_line = layout.line_start and not layout.trail  # the line's newline is the span's
        text = line + "\n" if ends_line else line.removesuffix("\r")
    elif layout.trail:
        text = text.rstrip("\r\n")
    return text + layout.trail
