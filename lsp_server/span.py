"""CursorContext -> SpanPlan: the prefix and suffix windows within the token budget, and the span length.

Windows are cut at whole lines, nearest the cursor first, so the enclosing scope is kept before
anything outside it; when the budget reaches past the scope, the prefix starts at a top-level line
rather than in the middle of an outer definition.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lsp_server.context import CursorContext, leading_whitespace
from lsp_server.settings import Settings

# Mask slots by why the mode was chosen: a block header or empty body usually wants a body, a blank
# line a statement or two, code on the line the rest of one line.
PREAMBLE_MARGIN = 4
SPAN_TOKENS = {"after code": 24, "blank line": 48, "before closer": 48, "block header": 64, "empty body": 64}


@dataclass
class SpanPlan:
    """One model request, ready for the bridge (no engine types, so no torch import here)."""

    prefix: str
    """Text before the mask span (the cursor line's prefix included)."""
    suffix: str
    """Text after the mask span."""
    mode: str
    """"single" or "multi"."""
    span_tokens: int
    """Mask slots; the sampler pads the unused tail."""
    steps: int
    """Denoising steps K."""
    strategy: str = "confidence"
    """Which slots each step commits (engine.denoise.params.STRATEGIES)."""
    threshold: float = 0.9
    """The "threshold" strategy's tau."""
    block_length: int | None = None
    """Semi-autoregressive blocks of this many slots (None: one block)."""
    reuse_context: bool = True
    """Reuse the document's context keys/values from its previous request."""
    heal_cursor: bool = True
    """Token healing: the prefix's last pre-token moves into the span (engine/denoise/layout.py)."""
    preamble_chars: int = 0
    """Characters at the start of prefix that are workspace context, not the document's own code."""


def choose_span_tokens(ctx: CursorContext, max_span_tokens: int) -> int:
    base = SPAN_TOKENS.get(ctx.reason, 24 if ctx.mode == "single" else 48)
    if ctx.mode == "single":  # a long line leaves less to write
        base = max(8, base - len(ctx.line_prefix.strip()) // 6)
    return max(1, min(base, max_span_tokens))


def keep_lines(lines: list[str], count: Callable[[str], int], budget: int) -> int:
    """How many of lines (nearest first) fit in budget tokens; the first one always fits."""
    used, kept = 0, 0
    for line in lines:
        used += count(line + "\n")
        if kept and used > budget:
            break
        kept += 1
    return kept


def build_plan(ctx: CursorContext, settings: Settings, count: Callable[[str], int],
               max_positions: int, preamble: str = "") -> SpanPlan:
    """The plan for ctx; preamble (workspace context) goes first in the prefix and takes its tokens from
    the prefix budget, or is left out when it would leave the document's own code less than it takes."""
    span = choose_span_tokens(ctx, settings.max_span_tokens)
    if ctx.mode == "single" and settings.block_length == 1:
        # One slot a step: a span longer than K would widen the blocks (engine/denoise/strategies.py), and
        # the guide only mixes into one slot a step. A line rarely needs more than K tokens.
        span = min(span, settings.steps)
    total = max(0, max_positions - span - 1)
    suffix_lines = ctx.suffix.split("\n")
    suffix_kept = keep_lines(suffix_lines, count, min(settings.max_suffix_tokens, total // 4))
    suffix = "\n".join(suffix_lines[:suffix_kept]) + ("\n" if suffix_kept < len(suffix_lines) else "")
    suffix = suffix if settings.max_suffix_tokens else ""
    used = count(suffix) if suffix else 0
    prefix_budget = min(settings.max_prefix_tokens, total - used)
    preamble_tokens = count(preamble) if preamble else 0
    if preamble_tokens and 2 * preamble_tokens > prefix_budget:
        preamble, preamble_tokens = "", 0
    prefix_lines = ctx.prefix.split("\n")[::-1]  # nearest first; [0] is the cursor line's prefix
    margin = PREAMBLE_MARGIN if preamble else 0  # tokens may merge differently across the seam
    prefix_kept = keep_lines(prefix_lines, count, prefix_budget - preamble_tokens - margin)
    kept = prefix_lines[:prefix_kept][::-1]
    if prefix_kept < len(prefix_lines) and prefix_kept - 1 > ctx.scope_lines_before:
        outside = len(kept) - 1 - ctx.scope_lines_before  # lines above the scope, in kept order
        top_level = [i for i in range(outside) if kept[i].strip() and not leading_whitespace(kept[i])]
        kept = kept[top_level[0] if top_level else outside:]  # no fragment of an outer definition
    return SpanPlan(preamble + "\n".join(kept), suffix, ctx.mode, span, settings.steps, settings.strategy,
                    settings.threshold, settings.block_length, settings.reuse_context, settings.heal_cursor,
                    len(preamble))
