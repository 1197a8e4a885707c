"""engine/edits/repair.py: token scoring against plain masked forwards, run building, minimal edits, and
repair / regenerate with the shipped tiny model (behaviour, not quality)."""

from __future__ import annotations

import pytest
import torch

from engine.denoise.config import EngineConfig
from engine.denoise.engine import Cancelled, Engine
from engine.edits.regenerate import regenerate, with_instruction
from engine.edits.repair import (Edit, RepairParams, SelectionTooLarge, apply_edits, content_range, fill_in_line,
                           minimal_edit, repair, suspect_runs, unfit_in_line)
from engine.denoise.sampler import allowed_logits
from engine.edits.token_scores import Window, make_window, token_probs

CODE = "def total(words):\n    result = 0\n    for word in words:\n        result += len(word)\n    return result\n"


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(EngineConfig(model_dir="stipple-tiny", device="cpu", num_threads=1))


@torch.inference_mode()
def masked_forward_prob(engine: Engine, ids: list[int], i: int) -> float:
    """p(ids[i] | rest) from one plain forward with only position i masked."""
    head = [engine.special.bos] if engine.special.bos is not None else []
    row = head + ids
    row[len(head) + i] = engine.special.mask
    logits = engine.runner.model.token_logits(engine.runner.tensor(row))  # (1, T, V)
    banned = torch.cat([engine.runner.banned_ids, engine.runner.banned_ids.new_tensor([engine.special.pad])])
    probs = torch.softmax(allowed_logits(logits, banned), dim=-1)[0, len(head) + i]  # (V,)
    return float(probs[ids[i]])


def test_token_probs_equal_one_masked_forward_per_token(engine):
    ids = engine.tokenizer.encode(CODE)
    positions = [2, 5, 9, len(ids) - 1]
    p_orig, best, p_best = token_probs(engine, ids, positions)
    expected = [masked_forward_prob(engine, ids, i) for i in positions]
    assert p_orig.tolist() == pytest.approx(expected, rel=1e-4, abs=1e-6)
    assert (p_best >= p_orig - 1e-6).all() and best.shape == (len(positions),)


def test_grouped_scoring_masks_several_tokens_per_row(engine):
    ids = engine.tokenizer.encode(CODE)
    positions = list(range(3, 15))
    exact, _, _ = token_probs(engine, ids, positions)
    one_row, _, _ = token_probs(engine, ids, positions, groups=1)  # everything masked at once
    assert one_row.shape == exact.shape and not torch.allclose(one_row, exact)
    assert token_probs(engine, ids, positions, groups=len(positions))[0].tolist() == pytest.approx(exact.tolist())


def test_scoring_stops_when_asked(engine):
    with pytest.raises(Cancelled):
        token_probs(engine, engine.tokenizer.encode(CODE), [1, 2], should_stop=lambda: True)


def window_of(text: str, tokens: list[str]) -> Window:
    offsets, at = [], 0
    for token in tokens:
        offsets.append((at, at + len(token)))
        at += len(token)
    assert "".join(tokens) == text
    return Window(text, 0, len(text), list(range(len(tokens))), offsets)


@pytest.mark.parametrize("tokens, suspect, gap, runs", [
    # a suspect piece of an identifier brings the whole identifier
    (["x", " =", " res", "utl", " +", " 1"], [0, 0, 0, 1, 0, 0], 0, [(4, 10, 2)]),
    # far-apart suspects stay apart; close ones merge across the gap
    (["a", " +", " b", " +", " c"], [1, 0, 0, 0, 1], 1, [(0, 1, 1), (8, 9, 1)]),
    (["a", " +", " b", " +", " c"], [1, 0, 1, 0, 0], 1, [(0, 5, 3)]),
    # a run never crosses a line break; a suspect break alone is an insertion point before it
    (["if", " x", "\n    ", "y"], [0, 1, 1, 1], 1, [(3, 4, 1), (9, 10, 1)]),
    (["if", " x", "\n    ", "y"], [0, 0, 1, 0], 0, [(4, 4, 0)]),
])
def test_suspect_runs(tokens, suspect, gap, runs):
    window = window_of("".join(tokens), tokens)
    assert suspect_runs(window, list(range(len(tokens))), [bool(s) for s in suspect], gap) == runs


@pytest.mark.parametrize("old, new, edit", [
    ("len(wrod)", "len(word)", Edit(5, 7, "or")),
    ("x < 1", "x <= 1", Edit(3, 3, "=")),
    ("same", "same", None),
    ("if x\n", "if x:\n", Edit(4, 4, ":")),
])
def test_minimal_edit(old, new, edit):
    assert minimal_edit(old, new, 0) == edit
    if edit is not None:
        assert apply_edits(old, [edit]) == new


def test_content_range_and_instruction_comment():
    assert content_range("ab  cd  ", 2, 8) == (4, 6)
    assert content_range("ab \n  ", 2, 6) == (2, 2)
    prefix = "def f(xs):\n"
    assert with_instruction(prefix, "    return xs\n", "sort it\nthen return", "#") == \
        "def f(xs):\n    # sort it\n    # then return\n"
    assert with_instruction("    y = ", "g(x)", "call f", "//") == "    // call f\n    y = "


def test_repair_edits_only_the_selection(engine):
    prefix, selection, suffix = CODE[:40], CODE[40:80], CODE[80:]
    result = repair(engine, prefix, selection, suffix, RepairParams(floor=0.5, ratio=1.0, verify=False))
    assert result.num_suspect > 0 and len(result.probs) >= 1
    assert result.text == apply_edits(selection, result.edits)
    assert all(0 <= e.start <= e.end <= len(selection) for e in result.edits)
    assert len(result.edits) <= RepairParams().max_runs
    unflagged = repair(engine, prefix, selection, suffix, RepairParams(floor=1e-12))
    assert unflagged.text == selection and unflagged.edits == [] and unflagged.num_suspect == 0
    frozen = repair(engine, prefix, selection, suffix, RepairParams(floor=0.5, ratio=1.0, verify=False),
                    frozen=[(0, len(selection))])
    assert frozen.text == selection and frozen.num_suspect == 0


def test_fill_stays_on_its_line_and_has_the_asked_length(engine):
    # The tiny model's favourite tokens are line breaks and blanks: the fill must do without them.
    for length in (1, 3):
        fill = fill_in_line(engine, "def f(x):\n    return ", "\n", length, None)
        assert "\n" not in fill and fill.strip() and len(engine.tokenizer.encode(fill)) <= length + 1
    unfit = set(unfit_in_line(engine).tolist())
    assert engine.special.mask in unfit and engine.special.pad in unfit
    assert engine.tokenizer.encode("\n")[0] in unfit and engine.tokenizer.encode("return")[0] not in unfit
    with pytest.raises(Cancelled):
        fill_in_line(engine, "x = ", "\n", 2, lambda: True)


def test_window_cuts_context_at_line_starts(engine):
    prefix = "".join(f"line_{i} = {i}\n" for i in range(200))
    window = make_window(engine, prefix, "x = 1\n", "y = 2\n" * 200, (20, 10))
    assert window.text[window.start : window.end] == "x = 1\n"
    assert window.text.startswith("line_") and window.start < len(prefix) and window.text.endswith("\n")
    assert len(window.ids) < 60


def test_regenerate_gives_distinct_changed_alternatives(engine):
    found = regenerate(engine, CODE[:40], CODE[40:80], CODE[80:], steps=4, count=3)
    assert len(found) <= 3 and len(set(found)) == len(found)
    assert all(text != CODE[40:80] and text.strip() for text in found)


def test_too_large_selection_is_refused(engine):
    big = "value = compute(value, 1)\n" * 200
    with pytest.raises(SelectionTooLarge, match="Select less"):
        repair(engine, "", big, "")
    with pytest.raises(SelectionTooLarge, match="Select less"):
        regenerate(engine, "", big, "")


def test_params_are_checked():
    with pytest.raises(ValueError, match="floor"):
        RepairParams(floor=0.0)
    with pytest.raises(ValueError, match="groups"):
        RepairParams(groups=0)
