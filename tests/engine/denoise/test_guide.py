"""The guide: its cached next-token view is exact, reused across keystrokes, and mixed into the next slot only."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from engine.denoise.config import EngineConfig
from engine.denoise.engine import Engine
from engine.denoise.guide import Guide
from engine.denoise.params import DenoiseParams
from engine.denoise.request import SpanRequest
from tests.conftest import make_model_dir

PREFIX_TEXT = "def mean(values):\n    total = sum(values)\n    return total"
SUFFIX_TEXT = "\n\n\nprint(mean([1, 2, 3]))\n"


def block_model(source: Path, target: Path, view: float, **config_fields) -> Path:
    """A copy of a model directory declaring the block-causal layout at `view` (and any other fields)."""
    target.mkdir(parents=True, exist_ok=True)
    for name in ("model.safetensors", "tokenizer.json"):
        shutil.copy(source / name, target / name)
    config = json.loads((source / "config.json").read_text())
    config.update(attention_layout="block-causal", span_view=view, **config_fields)
    (target / "config.json").write_text(json.dumps(config))
    return target


@pytest.fixture(scope="module")
def guide(random_model_dir) -> Guide:
    return Guide(random_model_dir, torch.device("cpu"), torch.float32, weight=0.5)


def plain(guide: Guide, ids: list[int]) -> torch.Tensor:
    """The guide model's next-token log-probabilities from one uncached causal forward."""
    return guide.model(torch.tensor([ids]), causal=True)[0, -1].float().log_softmax(-1)


def test_the_cached_view_equals_a_full_forward_as_the_span_grows_and_changes(guide):
    prefix = list(range(20, 40))
    state = guide.start(prefix, span_len=8)
    for written in ([], [50], [50, 51], [50, 51, 52], [50, 60]):  # grows, then slot 1 holds another token
        torch.testing.assert_close(guide.next_logprobs(state, written), plain(guide, prefix + written))


def test_the_next_keystroke_computes_only_what_changed(guide, monkeypatch):
    first = guide.start(list(range(20, 40)), span_len=8, cache_key="doc")
    guide.next_logprobs(first, [50, 51])
    rows = []
    real = guide.model.forward
    monkeypatch.setattr(guide.model, "forward", lambda ids, **kw: rows.append(ids.shape[1]) or real(ids, **kw))
    typed = list(range(20, 40)) + [50]  # the user typed what the span had written first
    state = guide.start(typed, span_len=8, cache_key="doc")
    got = guide.next_logprobs(state, [])
    assert rows == [1]  # the prefix's 20 positions came from the previous request
    torch.testing.assert_close(got, plain(guide, typed))
    guide.forget("doc")
    assert "doc" not in guide.kept


def test_mix_is_the_weighted_sum_of_log_probabilities_with_the_span_deciding_pad(guide):
    span, base = torch.randn(64), torch.randn(64).log_softmax(-1)
    expected = 0.5 * span.log_softmax(-1) + 0.5 * base
    expected[2] = span.log_softmax(-1)[2]
    torch.testing.assert_close(guide.mix(span, base, pad_id=2), expected)


def test_a_guide_with_another_vocabulary_is_refused(random_model_dir, tmp_path):
    stranger = tmp_path / "stranger"
    shutil.copytree(random_model_dir, stranger)
    tokenizer = json.loads((stranger / "tokenizer.json").read_text())
    vocab = tokenizer["model"]["vocab"]
    a, b = list(vocab)[100], list(vocab)[101]
    vocab[a], vocab[b] = vocab[b], vocab[a]  # the same tokens under each other's ids
    (stranger / "tokenizer.json").write_text(json.dumps(tokenizer))
    model = block_model(random_model_dir, tmp_path / "block", view=1.0, guide=str(stranger))
    with pytest.raises(ValueError, match="vocabulary"):
        Engine(EngineConfig(model_dir=model, device="cpu", dtype="float32"))


def test_weights_outside_the_open_interval_are_refused(random_model_dir):
    for weight in (0.0, 1.0, -0.5):
        with pytest.raises(ValueError, match="guide_weight"):
            EngineConfig(model_dir=random_model_dir, guide_weight=weight)


def test_the_engine_commits_the_argmax_of_the_mixed_view(random_model_dir, tokenizer_path, tmp_path, monkeypatch):
    other = make_model_dir(tmp_path / "other", tokenizer_path, shift_logits=True, seed=1)
    model = block_model(random_model_dir, tmp_path / "block", view=1.0, guide=str(other))
    engine = Engine(EngineConfig(model_dir=model, device="cpu", dtype="float32"))  # "auto": config.json's guide
    assert engine.guide is not None
    spans = []
    real = engine.runner.span_logits
    monkeypatch.setattr(engine.runner, "span_logits", lambda *a: spans.append(real(*a)[0].clone()) or spans[-1][None])
    params = DenoiseParams(steps=6, span_tokens=6, block_length=1, allow_pad=False, mode="multi", heal_cursor=False)
    request = engine.generate(SpanRequest(PREFIX_TEXT, SUFFIX_TEXT, params))
    banned = torch.cat([engine.runner.banned_ids, torch.tensor([engine.special.pad])])
    for slot, logits in enumerate(spans):  # step i writes slot i, seeing the slots before it
        base = plain(engine.guide, request.prefix_ids + request.span_ids[:slot])
        mixed = 0.5 * logits[slot].float().log_softmax(-1) + 0.5 * base
        assert request.span_ids[slot] == int(mixed.index_fill(0, banned, float("-inf")).argmax())
    # A guide sure of one token moves every commit to it (the random span model is close to uniform).
    sure = torch.full((engine.guide.loaded.args.vocab_size,), -30.0)
    sure[300] = 0.0
    monkeypatch.setattr(engine.guide, "next_logprobs", lambda state, written: sure)
    assert engine.generate(SpanRequest(PREFIX_TEXT, SUFFIX_TEXT, params)).span_ids == [300] * 6
    unguided = Engine(EngineConfig(model_dir=model, device="cpu", dtype="float32", guide="none"))  # as TOML says null
    assert unguided.guide is None
    assert 300 not in unguided.generate(SpanRequest(PREFIX_TEXT, SUFFIX_TEXT, params)).span_ids

