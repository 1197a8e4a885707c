"""CudaGraphStep's static-shape step equals Runner.span_logits; bucketing. Runs eagerly on the CPU."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from engine.denoise.cuda_graphs import CudaGraphStep, bucket_for, context_buckets
from engine.models.kv_cache import KVCache
from engine.denoise.runner import Runner
from engine.models.args import ModelArgs
from engine.models.transformer import Transformer


@pytest.mark.parametrize("n, buckets, want", [(1, (1, 8, 16), 1), (2, (1, 8, 16), 8), (16, (16, 1, 8), 16)])
def test_bucket_for_picks_the_smallest_that_fits(n, buckets, want):
    assert bucket_for(n, buckets) == want


def test_bucket_for_rejects_what_does_not_fit():
    with pytest.raises(ValueError, match="exceeds"):
        bucket_for(17, (8, 16))


def test_context_buckets_are_powers_of_two_then_the_capacity():
    assert context_buckets(1000) == (256, 512, 1000)
    assert context_buckets(512) == (256, 512)
    assert context_buckets(100) == (100,)
    with pytest.raises(ValueError):
        context_buckets(0)


def tiny_model(shift: bool, qk_norm: bool = False) -> Transformer:
    torch.manual_seed(0)
    args = ModelArgs(vocab_size=97, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                     num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                     shift_logits=shift, attention_bias=True)
    if qk_norm:
        args.qk_norm = True
    return Transformer(args).eval()


@pytest.mark.parametrize("shift, qk_norm", [(False, False), (True, False), (False, True)])
def test_static_step_equals_the_runner_step(shift, qk_norm):
    model = tiny_model(shift, qk_norm)
    if qk_norm:  # the norms' weights are ones at init: make them matter
        for layer in model.model.layers:
            layer.self_attn.q_norm.weight.data.uniform_(0.5, 1.5)
            layer.self_attn.k_norm.weight.data.uniform_(0.5, 1.5)
    runner = SimpleNamespace(model=model, loaded=SimpleNamespace(args=model.args))  # what span_logits reads
    step = CudaGraphStep(model, capacity=300, span_buckets=(4, 16))
    ids = torch.randint(0, 97, (1, 40))
    start, length = 12, 10
    cache = KVCache(model.args, 1, ids.shape[1], "cpu", torch.float32)
    for i, (refresh, reuse) in enumerate([(True, 0), (False, 0), (False, 0), (True, 5), (False, 0)]):
        ids[:, start + i] = (ids[:, start + i] + 1) % 97  # the span changes between steps
        want = Runner.span_logits(runner, ids, start, length, cache, refresh, reuse_from=reuse)
        got = step.span_logits(ids, start, length, refresh=refresh, reuse_from=reuse)
        assert got.shape == (1, length, 97)
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
    # A span of one row (left-to-right decoding shape) pads into the smallest bucket.
    got = step.span_logits(ids, start, 1, refresh=False)
    torch.testing.assert_close(got, Runner.span_logits(runner, ids, start, 1, cache, False), rtol=1e-4, atol=1e-4)


def test_static_step_rejects_what_it_cannot_hold():
    model = tiny_model(False)
    step = CudaGraphStep(model, capacity=64, span_buckets=(8,))
    with pytest.raises(ValueError, match="capacity"):
        step.span_logits(torch.zeros((1, 65), dtype=torch.long), 10, 4)
    with pytest.raises(ValueError, match="bucket"):
        step.span_logits(torch.zeros((1, 40), dtype=torch.long), 10, 9, refresh=False)
    with pytest.raises(ValueError, match="batch of one"):
        step.span_logits(torch.zeros((2, 40), dtype=torch.long), 10, 4)
    with pytest.raises(ValueError, match="positions"):
        CudaGraphStep(model, capacity=1024)
    with pytest.raises(ValueError, match="CUDA"):
        CudaGraphStep(model, capacity=64, graphs=True)
    assert step.capture() == 0  # nothing to capture off CUDA
