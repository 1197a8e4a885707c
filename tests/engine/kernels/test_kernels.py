"""The Triton kernels against their torch references: the interpreter on the CPU, the GPU when there is one.

Shapes are tiny because each interpreted launch takes ~0.1 s.
"""

from __future__ import annotations

import os

import pytest
import torch

from engine import kernels
from engine.kernels import span_attention, span_attention_reference, span_stats, span_stats_reference

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
if DEVICE == "cpu":
    # Before the first import of triton: its own library functions are decorated at import time, and
    # the interpreter only runs those decorated while TRITON_INTERPRET was set. Only Triton reads it.
    os.environ.setdefault("TRITON_INTERPRET", "1")

needs_triton = pytest.mark.skipif(not kernels.available(DEVICE), reason="Triton is not installed")


def logits_with_ties(rows: int, vocab: int, dtype: torch.dtype) -> torch.Tensor:
    torch.manual_seed(0)
    x = torch.randn(rows, vocab) * 4
    x[0, 3] = x[0, vocab - 2] = 40.0  # the top value twice: the first index wins, margin 0
    x[1, 7] = 60.0  # a sure token
    return x.to(DEVICE, dtype)


@needs_triton
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("splits", [1, 3])
def test_span_stats_matches_reference(dtype, splits):
    x = logits_with_ties(4, 300, dtype)
    banned = torch.zeros(300, dtype=torch.bool, device=DEVICE)
    banned[[5, 11, 299]] = True
    for kwargs in ({}, {"banned": banned, "skip_id": 7, "inv_temperature": 0.5}):
        got = span_stats(x, use_triton=True, splits=splits, **kwargs)
        want = span_stats_reference(x, **kwargs)
        assert torch.equal(got.top_id, want.top_id), (got.top_id, want.top_id)
        for name in ("top_p", "second_p", "entropy", "lse"):
            torch.testing.assert_close(getattr(got, name), getattr(want, name), rtol=1e-4, atol=1e-4)
    assert got.top_id[1] != 7  # skip_id keeps its mass but is never the top
    tie = span_stats(x, use_triton=True, splits=splits)
    assert tie.top_id[0] == 3 and float(tie.margin[0]) == 0.0


@needs_triton
def test_span_stats_keeps_leading_dims_and_matches_the_sampler_scores():
    x = logits_with_ties(6, 64, torch.float32).view(2, 3, 64)  # (B, L, V)
    got = span_stats(x, use_triton=True, splits=2)
    assert got.top_id.shape == (2, 3) and got.entropy.shape == (2, 3)
    probs = torch.softmax(x.float(), -1)
    torch.testing.assert_close(got.entropy, -torch.special.xlogy(probs, probs).sum(-1), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(got.top_p, probs.amax(-1), rtol=1e-5, atol=1e-6)


def test_span_stats_launcher_rejects_bad_input():
    x = torch.randn(4, 32, device=DEVICE)
    if not kernels.triton_importable():
        pytest.skip("Triton is not installed")
    with pytest.raises(AssertionError, match="contiguous"):
        span_stats(x.t(), use_triton=True)
    with pytest.raises(AssertionError, match="banned"):
        span_stats(x, banned=torch.zeros(31, dtype=torch.bool, device=DEVICE), use_triton=True)


def test_span_stats_defaults_to_torch_off_cuda():
    x = torch.randn(3, 50)
    got, want = span_stats(x), span_stats_reference(x)
    assert all(torch.equal(a, b) for a, b in zip(got, want))


@needs_triton
@pytest.mark.parametrize("splits", [1, 3])
def test_span_attention_matches_reference_with_gqa_and_valid_len(splits):
    torch.manual_seed(0)
    dtype = torch.float32 if DEVICE == "cpu" else torch.bfloat16
    q = torch.randn(2, 4, 5, 16, device=DEVICE, dtype=dtype)  # (B, H, Lq, D), group of 2 heads per KV
    cache_k = torch.randn(2, 2, 200, 16, device=DEVICE, dtype=dtype)  # (B, KV, capacity, D)
    cache_v = torch.randn(2, 2, 200, 16, device=DEVICE, dtype=dtype)
    k, v = cache_k[:, :, :150], cache_v[:, :, :150]  # a cache prefix: strided, as the step reads it
    valid = torch.tensor([150, 70], device=DEVICE)
    got = span_attention(q, k, v, valid, use_triton=True, splits=splits)
    want = span_attention_reference(q, k, v, valid)
    tol = 1e-5 if dtype == torch.float32 else 2e-2
    torch.testing.assert_close(got, want, rtol=tol, atol=tol)
    # Keys past valid_len change nothing.
    k2 = k.clone()
    k2[1, :, 70:] = 1e4
    torch.testing.assert_close(span_attention(q, k2, v, valid, use_triton=True, splits=splits), got)


def test_span_attention_launcher_rejects_bad_shapes():
    if not kernels.triton_importable():
        pytest.skip("Triton is not installed")
    q = torch.randn(1, 3, 4, 16, device=DEVICE)
    k = torch.randn(1, 2, 8, 16, device=DEVICE)
    with pytest.raises(AssertionError, match="q"):
        span_attention(q, k, k, use_triton=True)  # 3 heads over 2 KV heads
    with pytest.raises(AssertionError, match="head_dim"):
        span_attention(torch.randn(1, 2, 4, 12), torch.randn(1, 2, 8, 12), torch.randn(1, 2, 8, 12), use_triton=True)
