"""From a cursor to the text to insert: the steps the server and `stipple complete` share.

cursor context (skip / single / multi) -> span plan within the token budget -> engine request ->
post-processing into a Verdict. The server runs the engine through its bridge (worker thread,
cancel-previous, batching) and `stipple complete` calls it directly; both build the request with
`span_request` and judge the result with `verdict`, so they agree on every cursor.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from lsp_server import context, postprocess, span
from lsp_server.context import CursorContext
from lsp_server.documents import Document
from lsp_server.settings import Settings

CHARS_PER_TOKEN = 12  # generous: the context window is cut by tokens afterwards
ENDED_LINE = "model ended the line"


@dataclass
class Verdict:
    """What one cursor gets, and why."""

    text: str | None
    """The text to insert (the file's line ends and indentation); None when nothing is offered."""
    outcome: str
    """"offered", "empty" or "skipped" (lsp_server.spans outcome names)."""
    reason: str = ""
    """Why it was skipped: the cursor context's reason, or ENDED_LINE."""


def cursor_context(doc: Document, offset: int, settings: Settings) -> CursorContext:
    return context.extract(doc, offset, settings.max_prefix_tokens * CHARS_PER_TOKEN,
                           settings.max_suffix_tokens * CHARS_PER_TOKEN)


def span_request(plan: span.SpanPlan, cache_key: str | None = None) -> Any:
    """The engine's SpanRequest for a plan (engine types imported here, so the server starts without torch)."""
    from engine.denoise.params import DenoiseParams
    from engine.denoise.request import SpanRequest

    params = DenoiseParams(steps=plan.steps, mode=plan.mode, span_tokens=plan.span_tokens, strategy=plan.strategy,
                           threshold=plan.threshold, block_length=plan.block_length,
                           reuse_context=plan.reuse_context, heal_cursor=plan.heal_cursor)
    return SpanRequest(plan.prefix, plan.suffix, params, cache_key=cache_key)


def verdict(text: str, ended_line: bool, ctx: CursorContext) -> Verdict:
    """The engine's completion -> what to offer. A single line whose span broke the line at once is the
    model declining to write on it: a skip, not an empty result."""
    if ctx.mode == "single" and ended_line:
        return Verdict(None, "skipped", ENDED_LINE)
    finished = postprocess.finish(text, ctx)
    return Verdict(finished, "offered" if finished is not None else "empty")


def complete_at(engine: Any, doc: Document, offset: int, settings: Settings, mode: str | None = None,
                span_tokens: int | None = None, preamble: str = "") -> Verdict:
    """The whole path for one cursor with the engine called directly (`stipple complete`); mode and
    span_tokens, when given, override the plan's; preamble is workspace context (span.build_plan)."""
    ctx = cursor_context(doc, offset, settings)
    if ctx.skip:
        return Verdict(None, "skipped", ctx.reason)
    if mode is not None:
        ctx = dataclasses.replace(ctx, mode=mode)
    plan = span.build_plan(ctx, settings, lambda text: len(engine.tokenizer.encode(text)), engine.max_positions,
                           preamble)
    if span_tokens is not None:
        plan = dataclasses.replace(plan, span_tokens=span_tokens)
    request = engine.generate(span_request(plan))
    return verdict(request.text, request.ended_line, ctx)
