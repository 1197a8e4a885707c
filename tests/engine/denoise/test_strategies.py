"""Strategy invariants: steps bound, no mask left, threshold semantics, seeds, remasking, block order."""

from __future__ import annotations

import pytest
import torch

from engine.cli import main
from engine.denoise import sampler, strategies
from engine.denoise.config import EngineConfig
from engine.denoise.engine import Engine
from engine.denoise.params import STRATEGIES, DenoiseParams

PAD, MASK, V = 2, 3, 20
BANNED = torch.tensor([0, 1, MASK])
FIXED = ("confidence", "margin", "entropy")


def run(logits_fn, span_len: int, **params):
    """Drive strategies.denoise_step like the engine does; record every intermediate state."""
    params = DenoiseParams(span_tokens=span_len, **params)
    state = strategies.initial_state(torch.full((1, span_len), MASK), params)
    generator = torch.Generator().manual_seed(params.seed)
    history = []
    while state.num_masked and state.steps_done < params.steps:
        state = strategies.denoise_step(logits_fn(state.span), state, params, PAD, MASK, BANNED, generator)
        history.append(state)
    return state, history


def random_logits(seed: int, span_len: int, pad_from: int | None = None, fresh: bool = False):
    """Fixed random logits (pad never preferred, or preferred from slot pad_from on).

    fresh: new logits at every call, so committed tokens look improbable (~1/V) at the next step.
    """
    gen = torch.Generator().manual_seed(seed)

    def logits(span):
        if fresh or not hasattr(logits, "fixed"):
            logits.fixed = torch.randn((1, span_len, V), generator=gen) * 3
            logits.fixed[..., PAD] = -10.0
            if pad_from is not None:
                logits.fixed[0, pad_from:, PAD] = 12.0
        return logits.fixed.clone()

    return logits


def well_formed(state) -> bool:
    """No mask id outside masked slots, and no committed content after a committed pad."""
    row, masked = state.span[0], state.masked[0]
    pads = (row == PAD) & ~masked
    after_pad = pads.int().cummax(0).values.bool()
    return bool(((row == MASK) == masked).all()) and not (after_pad & ~masked & (row != PAD)).any()


def pads_are_a_suffix(row: list[int]) -> bool:
    first = row.index(PAD) if PAD in row else len(row)
    return all(t == PAD for t in row[first:])


@pytest.mark.parametrize("strategy", FIXED)
@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_fixed_schedules_take_exactly_k_steps(strategy, temperature):
    for span_len, steps in [(16, 4), (16, 16), (7, 3), (32, 8)]:
        final, history = run(random_logits(span_len, span_len), span_len, steps=steps, strategy=strategy,
                             temperature=temperature)
        assert len(history) == steps
        assert final.num_masked == 0 and not (final.span == MASK).any()


def test_scores_rank_by_their_math():
    probs = torch.tensor([[[0.50, 0.45, 0.05], [0.40, 0.05, 0.55], [1 / 3, 1 / 3, 1 / 3]]])  # (1, 3, 3)
    tokens = torch.tensor([[0, 2, 0]])
    confidence = sampler.token_score(probs, tokens, "confidence")
    assert torch.allclose(confidence, torch.tensor([[0.50, 0.55, 1 / 3]]))
    assert torch.allclose(sampler.token_score(probs, tokens, "margin"), torch.tensor([[0.05, 0.15, 0.0]]))
    entropy = sampler.token_score(probs, tokens, "entropy")
    assert torch.allclose(entropy[0, 2], -torch.log(torch.tensor(3.0)))
    assert entropy[0, 0] > entropy[0, 2] and entropy[0, 1] > entropy[0, 2]


def test_margin_and_confidence_disagree_where_they_should():
    # Slot 0: 0.5 vs 0.45 (confident but torn); slot 1: 0.4 vs 0.1 (less confident, clear margin).
    logits = torch.full((1, 2, V), -20.0)
    logits[0, 0, [5, 6]] = torch.log(torch.tensor([0.5, 0.45]))
    logits[0, 1, [7, 8]] = torch.log(torch.tensor([0.4, 0.1]))
    logits[0, 1, 9:] = torch.log(torch.tensor(0.5 / (V - 9)))
    first = {s: run(lambda span: logits.clone(), 2, steps=2, strategy=s)[1][0]
             for s in ("confidence", "margin")}
    assert first["confidence"].masked[0].tolist() == [False, True]
    assert first["margin"].masked[0].tolist() == [True, False]


def test_threshold_commits_everything_above_tau_and_at_least_one():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn((1, 16, V), generator=gen)
    logits[..., PAD] = -10.0
    logits[0, ::2, 11] = 12.0  # every even slot is near-certain
    params = DenoiseParams(steps=16, span_tokens=16, strategy="threshold", threshold=0.9)
    state = strategies.initial_state(torch.full((1, 16), MASK), params)
    steps = 0
    while state.num_masked:
        _, conf, _ = sampler.propose(logits, state.span, state.masked, PAD, BANNED, length=state.length)
        above = state.masked & (conf > 0.9)
        new = strategies.denoise_step(logits, state, params, PAD, MASK, BANNED)
        committed = state.masked & ~new.masked
        assert committed[above].all(), "every slot above tau is committed in that step"
        assert committed.sum() >= 1
        state, steps = new, steps + 1
    assert steps == 9, "8 certain slots at once, then one per step (the schedule's floor)"


def test_threshold_left_to_right_commits_the_confident_run_in_order():
    logits = torch.zeros((1, 8, V))
    logits[..., PAD] = -10.0
    for slot in (1, 2, 5, 6):  # sure of these; slots 0, 3, 4 and 7 are torn between two tokens
        logits[0, slot, 10 + slot] = 12.0
    for slot in (0, 3, 4, 7):
        logits[0, slot, [5, 6]] = torch.tensor([3.0, 2.9])
    _, history = run(lambda span: logits.clone(), 8, steps=8, strategy="threshold", threshold=0.9,
                     block_length=1)
    committed = [(~history[0].masked[0]).nonzero().flatten().tolist()]
    committed += [(h0.masked[0] & ~h1.masked[0]).nonzero().flatten().tolist() for h0, h1 in zip(history, history[1:])]
    # The leftmost slot even when unsure, then the sure run after it; never slot 5 before slots 3 and 4.
    assert committed == [[0, 1, 2], [3], [4, 5, 6], [7]]
    assert history[-1].span[0].tolist() == [5, 11, 12, 5, 5, 15, 16, 5]


@pytest.mark.parametrize("tau", [0.0, 0.5, 0.9, 1.0])
def test_threshold_stays_within_k_steps(tau):
    for span_len, steps in [(16, 4), (9, 9), (24, 5)]:
        final, history = run(random_logits(int(tau * 10) + span_len, span_len), span_len, steps=steps,
                             strategy="threshold", threshold=tau)
        assert len(history) <= steps and final.num_masked == 0 and not (final.span == MASK).any()
    assert len(run(random_logits(1, 16), 16, steps=8, strategy="threshold", threshold=0.0)[1]) == 1


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("extra", [{}, {"block_length": 4, "remask": 3}])
def test_seeded_sampling_is_deterministic(strategy, extra):
    def sample(seed):
        final, _ = run(random_logits(5, 16), 16, steps=4, strategy=strategy, temperature=1.0, seed=seed,
                       **extra)
        return final.span[0].tolist()

    assert sample(7) == sample(7)
    assert sample(7) != sample(8), "the seed must reach the Gumbel noise"


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("pad_from", [None, 9])
@pytest.mark.parametrize("block_length", [None, 8])
def test_remasking_keeps_the_span_well_formed_and_terminates(strategy, pad_from, block_length):
    steps, span_len = 8, 16
    final, history = run(random_logits(2, span_len, pad_from, fresh=True), span_len, steps=steps,
                         strategy=strategy, remask=True, block_length=block_length)
    assert final.num_masked == 0 and not (final.span == MASK).any()
    assert pads_are_a_suffix(final.span[0].tolist())
    assert 0 < final.num_remasked <= span_len // 4 and final.remask_left == span_len // 4 - final.num_remasked
    assert all(well_formed(state) for state in history)
    if strategy in FIXED and pad_from is None:
        assert len(history) == steps
    else:
        assert len(history) <= steps
    for before, after in zip(history, history[1:]):  # committed pads are never taken back
        pads = (before.span == PAD) & ~before.masked
        assert (after.span[pads] == PAD).all() and not after.masked[pads].any()


def test_remasking_takes_back_the_least_probable_first_and_never_pads():
    span = torch.tensor([[5, 6, 7, 8, PAD, PAD]])
    masked = torch.zeros_like(span, dtype=torch.bool)
    prob = torch.tensor([[0.9, 0.05, 0.2, 0.01, 0.0, 0.0]])
    take = strategies.remask_low_probability(span, masked, prob, torch.ones_like(masked), 0.3, 2, PAD)
    assert take[0].tolist() == [False, True, False, True, False, False]
    take = strategies.remask_low_probability(span, masked, prob, torch.ones_like(masked), 0.3, 9, PAD)
    assert take[0].tolist() == [False, True, True, True, False, False]


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("pad_from", [None, 6, 12])
def test_blocks_are_decoded_left_to_right(strategy, pad_from):
    span_len, block = 16, 4
    final, history = run(random_logits(4, span_len, pad_from), span_len, steps=8, strategy=strategy,
                         block_length=block)
    for state in history:
        complete = [not state.masked[0, b : b + block].any() for b in range(0, span_len, block)]
        touched = [(~state.masked[0, b : b + block]).any() for b in range(0, span_len, block)]
        for b in range(1, len(complete)):
            assert not touched[b] or complete[b - 1], f"block {b} committed before block {b - 1} completed"
        assert well_formed(state)
    assert final.num_masked == 0 and pads_are_a_suffix(final.span[0].tolist())
    if strategy in FIXED and pad_from is None:
        assert len(history) == 8
    if pad_from is not None:
        assert final.span[0, pad_from:].eq(PAD).all() and final.span[0, :pad_from].ne(PAD).all()


def test_more_blocks_than_steps_are_widened():
    assert strategies.block_length_for(16, 2, 4) == 4
    assert strategies.block_length_for(16, 4, 8) == 4 and strategies.block_length_for(5, 8, 3) == 5
    final, history = run(random_logits(6, 16), 16, steps=4, block_length=2)
    assert len(history) == 4 and final.num_masked == 0


def test_seal_after_pad_needs_a_finished_prefix():
    span = torch.tensor([[5, PAD, MASK, MASK], [MASK, PAD, MASK, MASK]])
    masked = span == MASK
    sealed, still = sampler.seal_after_pad(span, masked, PAD)
    assert sealed[0].tolist() == [5, PAD, PAD, PAD] and not still[0].any()
    assert sealed[1].tolist() == span[1].tolist() and torch.equal(still[1], masked[1])


def test_params_validate_strategy_options():
    for bad in [dict(strategy="greedy"), dict(threshold=1.5), dict(block_length=0), dict(remask=-1),
                dict(remask_floor=0.0)]:
        with pytest.raises(ValueError):
            DenoiseParams(**bad)
    assert DenoiseParams().remask_budget(32) == 0
    assert DenoiseParams(remask=True).remask_budget(32) == 8
    assert DenoiseParams(remask=5).remask_budget(32) == 5


def test_every_strategy_through_the_engine(random_model_dir):
    engine = Engine(EngineConfig(model_dir=random_model_dir))
    prefix, suffix = "def add(a, b):\n    total = a\n", "\n    return total\n"
    for strategy in STRATEGIES:
        for extra in [{}, {"block_length": 4, "remask": True, "temperature": 0.8, "seed": 3}]:
            params = DenoiseParams(steps=6, span_tokens=12, strategy=strategy, **extra)
            request = engine.infill(prefix, suffix, params)
            assert request.num_masked == 0 and request.steps_done <= 6
            assert len(request.span_ids) == 12 and engine.special.mask not in request.span_ids
            row = request.span_ids
            first = row.index(engine.special.pad) if engine.special.pad in row else len(row)
            assert all(t == engine.special.pad for t in row[first:]), f"pads must be a suffix: {row}"
            again = engine.infill(prefix, suffix, DenoiseParams(steps=6, span_tokens=12, strategy=strategy,
                                                                **extra))
            assert again.span_ids == request.span_ids


def test_engine_all_content_takes_exactly_k_steps(random_model_dir):
    engine = Engine(EngineConfig(model_dir=random_model_dir))
    for strategy in FIXED:
        request = engine.infill("x = ", "\n", DenoiseParams(steps=5, span_tokens=10, strategy=strategy,
                                                           allow_pad=False, block_length=5))
        assert request.steps_done == 5 and engine.special.pad not in request.span_ids


def test_cli_accepts_strategy_and_threshold(tmp_path, random_model_dir):
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text('{"task_id": "t1", "prompt": "def f(x):\\n    return ", "suffix": "\\n"}\n')
    out = tmp_path / "out.jsonl"
    assert main(["infill", "--input", str(tasks), "--output", str(out), "--model", str(random_model_dir),
                 "--steps", "4", "--strategy", "threshold", "--threshold", "0.5"]) == 0
    assert '"task_id": "t1"' in out.read_text()


def test_gumbel_noise_is_finite_and_sampling_never_picks_a_banned_id():
    noise = sampler.gumbel_like(torch.zeros(4096), torch.Generator().manual_seed(0))
    assert torch.isfinite(noise).all() and abs(float(noise.mean()) - 0.5772) < 0.1  # Euler's gamma
    logits = torch.zeros((1, 64, V))
    tokens, _, _ = sampler.propose(logits, torch.full((1, 64), MASK), torch.ones((1, 64), dtype=torch.bool),
                                   PAD, BANNED, 1.0, torch.Generator().manual_seed(0))
    assert not torch.isin(tokens, BANNED).any() and len(set(tokens[0].tolist())) > 5


def test_a_settled_single_line_ends_the_denoising(random_model_dir, monkeypatch):
    engine = Engine(EngineConfig(model_dir=random_model_dir))
    word, newline = engine.tokenizer.encode("x"), engine.tokenizer.encode("\n")
    assert len(word) == 1 and len(newline) == 1

    def sure_of_a_line(ids, start, length, *args):
        logits = torch.zeros(ids.shape[0], length, engine.runner.loaded.args.vocab_size)  # (B, L, V)
        logits[:, 0, word[0]] = logits[:, 1, newline[0]] = 30.0
        return logits

    monkeypatch.setattr(engine.runner, "span_logits", sure_of_a_line)
    for mode in ("single", "multi"):
        params = DenoiseParams(steps=8, span_tokens=8, strategy="threshold", mode=mode, heal_cursor=False)
        request = engine.infill("y = 1\nz = ", "\n", params)
        assert request.text.startswith("x")
        assert (request.steps_done == 1) == (mode == "single"), (mode, request.steps_done)
