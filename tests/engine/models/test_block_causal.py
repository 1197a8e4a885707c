"""The block-causal layout: who sees whom, the init equals the base, the cache equals a full recompute."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from engine.denoise import engine as engine_module
from engine.denoise.config import EngineConfig
from engine.denoise.engine import Cancelled, Engine
from engine.denoise.params import DenoiseParams
from engine.denoise.request import RequestStatus, SpanRequest
from engine.models.attention_layout import PREFIX, SPAN, SUFFIX, Rows, may_attend, openings
from engine.train import block_objective
from engine.train.block_objective import IGNORE, BlockExample

P, S, X = 4, 3, 3  # prefix (bos included), span slots, suffix


def layout_rows() -> Rows:
    """One sequence in training order: prefix, suffix, then one span block (anchor copy + slots)."""
    position = list(range(P)) + list(range(P + S, P + S + X)) + list(range(P - 1, P + S))
    region = [PREFIX] * P + [SUFFIX] * X + [SPAN] * (S + 1)
    slot = [-1] * (P + X) + list(range(-1, S))
    is_key = [True] * (P + X) + [False] + [True] * S
    t = lambda v: torch.tensor([v])  # noqa: E731
    return Rows(t(position), t(region), t(slot), torch.zeros(1, len(position), dtype=torch.long),
                t(is_key).bool())


def visible(view: float) -> dict[str, set[str]]:
    """Row name -> names of the rows it may attend to."""
    names = [f"p{i}" for i in range(P)] + [f"x{i}" for i in range(X)] + ["anchor"] + [f"s{i}" for i in range(S)]
    rows = layout_rows()
    lookahead, suffix_open = openings(view, S, torch.tensor([X]))
    mask = may_attend(rows, rows, torch.tensor([P + S]), lookahead, suffix_open)[0]  # (N, N)
    return {q: {k for k, ok in zip(names, mask[i].tolist()) if ok} for i, q in enumerate(names)}


PREFIX_ALL = {f"p{i}" for i in range(P)}
SUFFIX_ALL = {f"x{i}" for i in range(X)}
SPAN_ALL = {f"s{i}" for i in range(S)}


@pytest.mark.parametrize("row, sees", [
    ("p0", {"p0"}),
    ("p2", {"p0", "p1", "p2"}),
    ("x0", PREFIX_ALL | {"x0"}),
    ("x2", PREFIX_ALL | SUFFIX_ALL),
    ("anchor", PREFIX_ALL | SUFFIX_ALL | SPAN_ALL),
    ("s0", PREFIX_ALL | SUFFIX_ALL | SPAN_ALL),
    ("s2", PREFIX_ALL | SUFFIX_ALL | SPAN_ALL),
])
def test_each_region_sees_exactly_its_share(row, sees):
    assert visible(1.0)[row] == sees


@pytest.mark.parametrize("row, sees", [
    ("anchor", PREFIX_ALL),  # the copy is then the last prefix row itself
    ("s0", PREFIX_ALL | {"s0"}),
    ("s2", PREFIX_ALL | SPAN_ALL),
    ("x1", PREFIX_ALL | {"x0", "x1"}),
])
def test_at_view_zero_the_span_is_causal_and_blind_to_the_suffix(row, sees):
    assert visible(0.0)[row] == sees


def test_no_context_row_ever_sees_a_span_slot_or_the_anchor_copy():
    for view in (0.0, 0.5, 1.0):
        for row, sees in visible(view).items():
            if row[0] in "px":
                assert not sees & (SPAN_ALL | {"anchor"}), (view, row, sees)
            assert "anchor" not in sees


def block_model_dir(source: Path, target: Path, view: float) -> Path:
    """A copy of a model directory declaring the block-causal layout at `view`."""
    target.mkdir(parents=True, exist_ok=True)
    for name in ("model.safetensors", "tokenizer.json"):
        shutil.copy(source / name, target / name)
    config = json.loads((source / "config.json").read_text())
    config.update(attention_layout="block-causal", span_view=view)
    (target / "config.json").write_text(json.dumps(config))
    return target


@pytest.fixture(scope="module")
def closed_engine(random_model_dir, tmp_path_factory) -> Engine:
    path = block_model_dir(random_model_dir, tmp_path_factory.mktemp("closed"), view=0.0)
    return Engine(EngineConfig(model_dir=path, device="cpu", dtype="float32"))


@pytest.fixture(scope="module")
def open_engine(random_model_dir, tmp_path_factory) -> Engine:
    path = block_model_dir(random_model_dir, tmp_path_factory.mktemp("open"), view=1.0)
    return Engine(EngineConfig(model_dir=path, device="cpu", dtype="float32"))


PREFIX_TEXT = "def mean(values):\n    total = sum(values)\n    return total"
SUFFIX_TEXT = "\n\n\nprint(mean([1, 2, 3]))\n"


def greedy(engine: Engine, ids: list[int], n: int) -> list[int]:
    """The base model's plain greedy continuation: causal attention, no cache."""
    out, banned = [], torch.cat([engine.runner.banned_ids, torch.tensor([engine.special.pad])])
    for _ in range(n):
        logits = engine.runner.model(torch.tensor([ids + out]), causal=True)[0, -1].float()  # (V,)
        out.append(int(logits.index_fill(0, banned, float("-inf")).argmax()))
    return out


def test_before_training_one_token_per_step_is_the_base_greedy_completion(closed_engine):
    n = 12
    params = DenoiseParams(steps=n, span_tokens=n, block_length=1, allow_pad=False, mode="multi",
                           heal_cursor=False)
    request = closed_engine.generate(SpanRequest(PREFIX_TEXT, SUFFIX_TEXT, params))
    assert request.span_ids == greedy(closed_engine, [closed_engine.special.bos] + request.prefix_ids, n)


def full_recompute(engine: Engine, prefix_ids: list[int], span: list[int], suffix_ids: list[int], view: float
                   ) -> torch.Tensor:
    """Span logits (L, V) from one uncached forward over the training layout of the same state."""
    bos = engine.special.bos
    e = BlockExample([bos] + prefix_ids, span, suffix_ids)
    masked = torch.tensor([t == engine.special.mask for t in span])
    ids, position, region, slot, group, _, _ = block_objective._example_rows(e, (masked, masked), engine.special.mask)
    n = len(e.prefix) + len(e.suffix) + len(span) + 1  # context and the first span block
    rows = Rows(*(torch.tensor([v[:n]]) for v in (position, region, slot, group)),
                torch.tensor([[r != SPAN or s >= 0 for r, s in zip(region[:n], slot[:n])]]))
    lookahead, suffix_open = openings(view, len(span), torch.tensor([len(suffix_ids)]))
    mask = may_attend(rows, rows, torch.tensor([len(e.prefix) + len(span)]), lookahead, suffix_open)
    logits = engine.runner.model(torch.tensor([ids[:n]]), attn_mask=mask[:, None], positions=rows.position)
    first = len(e.prefix) + len(e.suffix)
    return logits[0, first : first + len(span)]  # (L, V): the anchor copy, then slots 0..L-2


@pytest.mark.parametrize("piece", [64, 4])  # 4: the prefix is prefilled in pieces before the first step
def test_cached_steps_equal_a_full_recompute_at_every_step(open_engine, monkeypatch, piece):
    monkeypatch.setattr(engine_module, "PREFILL_PIECE", piece)
    seen: list[tuple[list[int], torch.Tensor]] = []
    real = open_engine.runner.span_logits

    def recording(ids, start, length, *args):
        logits = real(ids, start, length, *args)
        seen.append((ids[0, start : start + length].tolist(), logits[0].clone()))
        return logits

    monkeypatch.setattr(open_engine.runner, "span_logits", recording)
    params = DenoiseParams(steps=4, span_tokens=8, mode="multi")
    request = open_engine.generate(SpanRequest(PREFIX_TEXT, SUFFIX_TEXT, params))
    assert len(seen) == 4
    for span, logits in seen:
        expected = full_recompute(open_engine, request.prefix_ids, span, request.suffix_ids, view=1.0)
        torch.testing.assert_close(logits, expected, rtol=1e-4, atol=1e-4)


def test_a_reused_prefix_across_keystrokes_is_exact(open_engine):
    params = DenoiseParams(steps=4, span_tokens=8, mode="multi")
    first = SpanRequest(PREFIX_TEXT + " / len(values)\n\n\ndef f", SUFFIX_TEXT, params, cache_key="doc")
    open_engine.generate(first)
    typed = SpanRequest(PREFIX_TEXT + " / len(values)\n\n\ndef fo", SUFFIX_TEXT, params, cache_key="doc")
    open_engine.generate(typed)
    alone = open_engine.generate(SpanRequest(typed.prefix, typed.suffix, params))
    assert typed.reused_tokens >= 16
    assert typed.span_ids == alone.span_ids


def test_a_request_cancelled_while_prefilling_keeps_its_pieces_for_the_next_keystroke(open_engine, monkeypatch):
    monkeypatch.setattr(engine_module, "PREFILL_PIECE", 6)
    params = DenoiseParams(steps=4, span_tokens=8, mode="multi")
    text = PREFIX_TEXT + " / len(values)\n\n\ndef f"
    checks = iter([False, False, False, True])  # three pieces, then the next keystroke cancels it
    first = SpanRequest(text, SUFFIX_TEXT, params, cache_key="typing")
    with pytest.raises(Cancelled):
        open_engine.generate(first, should_stop=lambda: next(checks))
    assert first.status is RequestStatus.CANCELLED and first.steps_done == 0
    typed = open_engine.generate(SpanRequest(text + "o", SUFFIX_TEXT, params, cache_key="typing"))
    alone = open_engine.generate(SpanRequest(typed.prefix, typed.suffix, params))
    assert typed.reused_tokens == 18
    assert typed.span_ids == alone.span_ids


def test_training_rows_score_each_masked_slot_from_the_row_before_it():
    e = BlockExample([0, 10, 11], [20, 21, 2], [30, 31])
    first = torch.tensor([True, False, True])
    ids, position, region, slot, group, ar, target = block_objective._example_rows(e, (first, ~first), 3)
    assert ids == [0, 10, 11, 30, 31, 11, 3, 21, 3, 11, 20, 3, 2]
    assert position == [0, 1, 2, 6, 7, 2, 3, 4, 5, 2, 3, 4, 5]
    assert ar == [10, 11, IGNORE, 31, IGNORE] + [IGNORE] * 8
    # copy 1 hides slots 0 and 2 (scored at the anchor and at slot 1); copy 2 hides slot 1 (scored at slot 0)
    assert target == [IGNORE] * 5 + [20, IGNORE, 2, IGNORE] + [IGNORE, 21, IGNORE, IGNORE]


def test_ordered_masks_hide_a_run_from_a_point_inside_the_middle():
    e = BlockExample([0, 10], [20, 21, 22, 23, 2, 2], [30])  # a middle of 4 tokens, then 2 pads
    generator = torch.Generator().manual_seed(0)
    seen = set()
    for _ in range(200):
        hidden = block_objective.span_mask(e, 2, generator, ordered_rate=1.0).tolist()
        j = hidden.index(True)
        assert hidden == [False] * j + [True] * (6 - j)  # everything from j on, as left to right leaves it
        seen.add(j)
    assert seen == {0, 1, 2, 3, 4}  # j ranges over the middle (4: the text written, the pads left)
    random_masks = {tuple(block_objective.span_mask(e, 2, generator, ordered_rate=0.0).tolist()) for _ in range(200)}
    assert any(list(m) != sorted(m) for m in random_masks)  # the random half still hides slots anywhere


def test_training_continues_a_saved_adapter(random_model_dir, small_corpus, tmp_path):
    from engine.train.loop import TrainConfig, train
    from engine.weights.adapter import load_adapter

    shape = dict(corpus=small_corpus, init_model=random_model_dir, lora_rank=4, objective="block-causal",
                 seq_len=96, batch_size=2, warmup_steps=1, corpus_bytes=50_000, progress=False)
    train(TrainConfig(out=tmp_path / "first", max_steps=2, **shape))
    config, first = load_adapter(tmp_path / "first" / "adapter")
    # Zero steps from the saved adapter write it back unchanged: it was loaded, not re-initialized.
    record = train(TrainConfig(out=tmp_path / "again", max_steps=0, init_adapter=tmp_path / "first" / "adapter",
                               **shape))
    again_config, again = load_adapter(tmp_path / "again" / "adapter")
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert again_config["steps"] == config["steps"] == 2 and record["init_adapter_steps"] == 2
    assert again_config["tokens_seen"] == config["tokens_seen"] > 0
    with pytest.raises(ValueError, match="rank"):
        train(TrainConfig(out=tmp_path / "bad", max_steps=0, init_adapter=tmp_path / "first" / "adapter",
                          **{**shape, "lora_rank": 2}))


def test_training_smoke_writes_a_block_causal_adapter(random_model_dir, small_corpus, tmp_path):
    from engine.train.loop import TrainConfig, train
    from engine.weights.adapter import load_adapter

    config = TrainConfig(corpus=small_corpus, out=tmp_path / "out", init_model=random_model_dir, lora_rank=4,
                         objective="block-causal", anneal_fraction=0.5, seq_len=96, batch_size=2, max_steps=3,
                         warmup_steps=1, corpus_bytes=50_000, progress=False)
    record = train(config)
    assert record["steps"] == 3 and all(loss == loss for loss in record["loss_curve_every_50"])
    adapter_config, _ = load_adapter(tmp_path / "out" / "adapter")
    assert adapter_config["config"]["attention_layout"] == "block-causal"
    merged = json.loads((tmp_path / "out" / "config.json").read_text())
    assert merged["attention_layout"] == "block-causal" and merged["span_view"] == adapter_config["config"]["span_view"]


def test_token_scores_read_a_one_slot_span(open_engine):
    from engine.edits.token_scores import token_probs

    ids = open_engine.tokenizer.encode(PREFIX_TEXT + SUFFIX_TEXT)
    sequence, end = open_engine.sequence(ids, 0, [])
    slot = end - len(ids) + 7
    masked = torch.tensor([sequence])
    masked[0, slot] = open_engine.special.mask
    scored = open_engine.runner.slot_logits(masked, torch.tensor([slot]))  # (1, V)
    as_span = open_engine.runner.span_logits(masked, slot, 1)  # (1, 1, V): the engine's own step
    torch.testing.assert_close(scored, as_span[:, 0], rtol=1e-4, atol=1e-4)
    p_orig, best, p_best = token_probs(open_engine, ids, [3, 7, 9], groups=2)
    expected = torch.softmax(scored.float(), -1)[0, ids[7]]
    assert bool((p_best >= p_orig).all()) and abs(float(p_orig[1]) - float(expected)) < 1e-3
