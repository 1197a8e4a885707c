"""Generated text -> the text to insert at the cursor, or None when there is nothing worth showing.

Single-line results end at the first newline; text that repeats the start of the suffix (closing
brackets, whole lines) is dropped; indentation follows the file (tabs or spaces); line ends become
the file's own; whitespace-only results are dropped.
"""

from __future__ import annotations

import re

from lsp_server.context import CursorContext, leading_whitespace


def trim_line_overlap(text: str, line_suffix: str) -> str:
    """Drop the longest tail of text that is a start of the rest of the cursor line (e.g. '))')."""
    rest = line_suffix.strip()
    for k in range(min(len(rest), len(text)), 0, -1):
        if text.rstrip().endswith(rest[:k]):
            return text.rstrip()[:-k]
    return text


def trim_suffix_lines(text: str, suffix: str) -> str:
    """Drop trailing lines of text that repeat the first non-blank lines of the suffix."""
    lines = text.rstrip("\n").split("\n")
    ahead = [line.strip() for line in suffix.split("\n") if line.strip()][:len(lines)]
    for k in range(min(len(lines), len(ahead)), 0, -1):
        tail = [line.strip() for line in lines[-k:]]
        if tail == ahead[:k]:
            return "\n".join(lines[:-k])
    return text


def cut_at_block_end(text: str, indent: str) -> str:
    """End a multi-line completion where a line leaves the cursor's block or two blank lines meet."""
    width, lines, kept = len(indent.expandtabs(4)), text.split("\n"), []
    for index, line in enumerate(lines):
        if index and line.strip() and len(leading_whitespace(line).expandtabs(4)) < width:
            break
        if index and not line.strip() and kept and not kept[-1].strip():
            break
        kept.append(line)
    return "\n".join(kept)


def reindent(text: str, unit: str) -> str:
    """Leading indentation of every line after the first in the file's style (tabs or spaces)."""
    def fix(match: re.Match[str]) -> str:
        lead = match.group(1)
        if unit == "\t":
            return "\n" + "\t" * (len(lead.expandtabs(4)) // 4) + " " * (len(lead.expandtabs(4)) % 4)
        return "\n" + lead.replace("\t", unit)
    return re.sub(r"\n([ \t]*)", fix, text)


def finish(text: str, ctx: CursorContext) -> str | None:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if ctx.mode == "single":
        text = text.split("\n", 1)[0].rstrip()
        text = trim_line_overlap(text, ctx.line_suffix)
    else:
        text = trim_suffix_lines(cut_at_block_end(text, ctx.indent).rstrip(), ctx.suffix)
        text = reindent(text.rstrip(), ctx.indent_unit)
        if ctx.line_suffix.strip() and "\n" in text:  # `{|}`: the closer goes on its own line
            text += "\n" + leading_whitespace(ctx.line_prefix)
    if not ctx.line_prefix.strip() and ctx.line_prefix:  # the cursor already stands in indentation
        first = leading_whitespace(text)
        text = text[min(len(first), len(ctx.line_prefix)):] if first.startswith(ctx.line_prefix) \
            else text.lstrip(" \t")
    if not text.strip():
        return None
    return text.replace("\n", ctx.eol)
