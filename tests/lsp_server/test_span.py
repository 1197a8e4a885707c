"""SpanPlan: windows cut at whole lines within the token budget, span length by mode."""

from __future__ import annotations

import pytest
from lsp_helpers import load_marked

from lsp_server.context import CursorContext, extract
from lsp_server.settings import Settings
from lsp_server.span import build_plan, choose_span_tokens


def count_chars(text: str) -> int:  # a stand-in tokenizer: one token per character
    return len(text)


@pytest.mark.parametrize("name, mode, span", [
    ("py_after_code.py", "single", 22), ("py_block_header.py", "multi", 64), ("py_blank_line.py", "multi", 48),
])
def test_span_length_by_mode(name: str, mode: str, span: int):
    doc, offset = load_marked(name)
    plan = build_plan(extract(doc, offset), Settings(), count_chars, 4096)
    assert (plan.mode, plan.span_tokens, plan.steps, plan.block_length) == (mode, span, 32, 1)
    assert plan.prefix + plan.suffix == doc.text  # everything fits


def test_span_capped_by_setting():
    assert choose_span_tokens(CursorContext("multi", "block header"), max_span_tokens=10) == 10


@pytest.mark.parametrize("block_length, steps, span", [(1, 16, 16), (1, 32, 24), (None, 16, 24), (2, 16, 24)])
def test_a_line_decoded_one_slot_a_step_has_at_most_k_slots(block_length, steps, span):
    # More slots than steps would widen the blocks past one slot (and leave the guide out).
    ctx = CursorContext("single", "after code", prefix="x = ", suffix="\n", line_prefix="x = ")
    plan = build_plan(ctx, Settings(steps=steps, block_length=block_length), count_chars, 4096)
    assert plan.span_tokens == span


def test_windows_are_whole_lines_nearest_first():
    prefix = "".join(f"line_{i} = {i}\n" for i in range(100)) + "x = "
    suffix = "\n" + "".join(f"after_{i} = {i}\n" for i in range(100))
    ctx = CursorContext("single", "after code", prefix=prefix, suffix=suffix, line_prefix="x = ")
    plan = build_plan(ctx, Settings(max_prefix_tokens=200, max_suffix_tokens=60), count_chars, 4096)
    assert plan.prefix.endswith("line_99 = 99\nx = ") and plan.prefix.startswith("line_")
    assert len(plan.prefix) <= 200 and len(plan.suffix) <= 60
    assert plan.suffix.startswith("\nafter_0 = 0\n") and plan.suffix.endswith("\n")


def test_prefix_starts_at_a_top_level_line_outside_the_scope():
    body = "".join(f"    step_{i}()\n" for i in range(30))
    prefix = "def first():\n" + body + "\n\ndef second():\n    a = 1\n    b = "
    ctx = CursorContext("single", "after code", prefix=prefix, suffix="\n", line_prefix="    b = ",
                        scope_lines_before=2)
    plan = build_plan(ctx, Settings(max_prefix_tokens=300), count_chars, 4096)
    assert plan.prefix.startswith("def second():")


@pytest.mark.parametrize("preamble, kept", [
    ("# geo.py\ndef area(r): ...\n\n", True),  # fits: first, and the document's code gets the rest
    ("# geo.py\n" + "x = 1\n" * 40, False),  # over half the budget: left out, the document's code wins
])
def test_preamble_goes_first_within_the_prefix_budget(preamble: str, kept: bool):
    prefix = "".join(f"line_{i} = {i}\n" for i in range(100)) + "x = "
    ctx = CursorContext("single", "after code", prefix=prefix, suffix="\n", line_prefix="x = ")
    plan = build_plan(ctx, Settings(max_prefix_tokens=200, max_suffix_tokens=60), count_chars, 4096, preamble)
    assert plan.prefix.endswith("line_99 = 99\nx = ") and len(plan.prefix) <= 200
    assert plan.prefix.startswith(preamble) == kept and plan.preamble_chars == (len(preamble) if kept else 0)
