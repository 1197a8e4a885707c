"""Sampler v1 invariants: exactly K steps, no mask left, commits are final, the pad rule."""

from __future__ import annotations

import torch

from engine.denoise import sampler
from engine.denoise.config import EngineConfig
from engine.denoise.engine import Cancelled, Engine
from engine.denoise.params import DenoiseParams
from engine.denoise.request import RequestStatus, SpanRequest

PAD, MASK, V = 2, 3, 20
BANNED = torch.tensor([0, 1, MASK])


def run(logits_fn, span_len: int, steps: int):
    """Drive the pure sampler functions like the engine does; record every intermediate span."""
    span = torch.full((1, span_len), MASK)
    masked = torch.ones((1, span_len), dtype=torch.bool)
    history, done, length = [], 0, None
    while masked.any() and done < steps:
        tokens, conf, length = sampler.propose(logits_fn(span), span, masked, PAD, BANNED, length=length)
        k = sampler.num_to_commit(int(masked.sum()), steps - done)
        select = sampler.select_top_k(conf, masked, k)
        span, masked = sampler.commit_selected(span, masked, tokens, select, PAD)
        history.append((span.clone(), masked.clone()))
        done += 1
    return span, masked, history


def random_logits(seed: int, span_len: int):
    gen = torch.Generator().manual_seed(seed)
    fixed = torch.randn((1, span_len, V), generator=gen) * 3
    fixed[..., PAD] = -10.0  # pad never preferred
    return lambda span: fixed.clone()


def test_exactly_k_steps_and_no_mask_left():
    for span_len, steps in [(16, 4), (16, 16), (7, 3), (32, 8), (5, 5)]:
        span, masked, history = run(random_logits(span_len, span_len), span_len, steps)
        assert len(history) == steps
        assert not masked.any() and not (span == MASK).any()


def test_committed_tokens_never_change():
    _, _, history = run(random_logits(1, 24), 24, 6)
    for (before, before_masked), (after, _) in zip(history, history[1:]):
        committed = ~before_masked
        assert torch.equal(before[committed], after[committed])


def test_pad_rule_returns_content_when_competitive():
    # Pad is the single most likely token everywhere (0.5), content is competitive (0.3).
    logits = torch.full((1, 12, V), -10.0)
    logits[..., PAD] = torch.log(torch.tensor(0.5))
    logits[..., 7] = torch.log(torch.tensor(0.3))
    span, _, _ = run(lambda s: logits.clone(), 12, 4)
    row = span[0].tolist()
    assert 7 in row, "the sampler must not return an all-pad span"
    first_pad = row.index(PAD) if PAD in row else len(row)
    assert all(t == PAD for t in row[first_pad:]), f"pads must form a suffix: {row}"


def test_pads_only_ever_grow_as_a_suffix():
    gen = torch.Generator().manual_seed(3)
    logits = torch.randn((1, 20, V), generator=gen)
    logits[0, 10:, PAD] = 6.0  # the tail wants pad; the head wants content
    _, _, history = run(lambda s: logits.clone(), 20, 5)
    for span, masked in history:
        row, pads = span[0], (span[0] == PAD) & ~masked[0]
        if pads.any():
            first = int(pads.float().argmax())
            assert pads[first:].all(), f"pad not in a suffix run: {row.tolist()}"
    assert (history[-1][0][0, :10] != PAD).all()


def test_engine_runs_k_steps_and_decodes(random_model_dir):
    engine = Engine(EngineConfig(model_dir=random_model_dir))
    request = engine.infill("def add(a, b):\n", "\n", DenoiseParams(steps=4, span_tokens=12))
    assert request.status is RequestStatus.FINISHED
    assert request.steps_done <= 4 and request.num_masked == 0
    assert len(request.span_ids) == 12 and engine.special.mask not in request.span_ids
    assert isinstance(request.text, str)
    again = engine.infill("def add(a, b):\n", "\n", DenoiseParams(steps=4, span_tokens=12))
    assert again.span_ids == request.span_ids, "greedy decoding is deterministic"


def test_engine_cancellation_between_steps(random_model_dir):
    engine = Engine(EngineConfig(model_dir=random_model_dir))
    calls = []
    request = SpanRequest("x = ", "\n", DenoiseParams(steps=8, span_tokens=8))
    try:
        engine.generate(request, should_stop=lambda: calls.append(1) or len(calls) > 2)
    except Cancelled:
        pass
    else:
        raise AssertionError("expected Cancelled")
    assert request.status is RequestStatus.CANCELLED and request.steps_done == 2


def test_context_cache_refreshed_every_step_is_exact(random_model_dir):
    engine = Engine(EngineConfig(model_dir=random_model_dir))
    prefix, suffix = "def add(a, b):\n    total = a\n", "\n    return total\n"
    plain = engine.infill(prefix, suffix, DenoiseParams(steps=6, span_tokens=12, context_cache=False))
    exact = engine.infill(prefix, suffix, DenoiseParams(steps=6, span_tokens=12, refresh_every=1))
    cached = engine.infill(prefix, suffix, DenoiseParams(steps=6, span_tokens=12))
    assert exact.span_ids == plain.span_ids
    assert len(cached.span_ids) == 12 and cached.num_masked == 0


def test_cached_span_logits_match_a_full_pass_when_nothing_changed(random_model_dir):
    engine = Engine(EngineConfig(model_dir=random_model_dir))
    runner = engine.runner
    ids = torch.randint(10, 500, (1, 20))
    cache = runner.new_cache(20)
    full = runner.span_logits(ids, 8, 5, cache, refresh=True)
    cached = runner.span_logits(ids, 8, 5, cache, refresh=False)
    assert torch.allclose(full, cached, atol=1e-5)


def test_single_line_at_a_line_start_is_not_blank(random_model_dir):
    engine = Engine(EngineConfig(model_dir=random_model_dir))
    request = engine.infill("def f(x):\n", "    return x\n", DenoiseParams(steps=4, span_tokens=10, mode="single"))
    first, second = (engine.tokenizer.decode([i]) for i in request.span_ids[:2])
    assert first.startswith("\n") and not second.startswith(("\n", "\r"))
    assert request.text.count("\n") == 1
