"""span_stats: what the sampler needs from span logits, in one pass over the vocabulary.

For each row x (one span slot's logits, scaled by 1/T), with banned ids at -inf:
    lse      = log sum_v exp(x_v)                      (online logsumexp, Milakov & Gimelshein 2018)
    top_id   = argmax_v x_v over ids other than skip_id (first index on ties, as torch.argmax)
    top_p    = exp(x_top - lse);  second_p = the runner-up's probability (margin = top_p - second_p)
    entropy  = H(p) = -sum_v p_v log p_v = lse - E_p[x]
The torch route materialises softmax over (B, L, V) in float32 (V = 152k for Qwen2: 39 MB for a
64-slot span, written and read several times); the kernel reads the logits once, in their own dtype,
and writes five numbers a row. Rows are split over the vocabulary into chunks (split-K) so that a
64-row span still fills the GPU; a few torch ops on (rows, splits) partials combine them.

skip_id keeps its probability mass but is never the top or runner-up: the sampler's pad rule ranks
content tokens and reads p(pad) separately (exp(logits[..., pad] / T - lse)).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import torch

from engine import kernels

BLOCK_V = 2048  # vocabulary columns per inner iteration on the GPU


class SpanStats(NamedTuple):
    top_id: torch.Tensor  # (...,) int64
    top_p: torch.Tensor  # (...,) float32
    second_p: torch.Tensor  # (...,) float32; 0 when only one id is allowed
    entropy: torch.Tensor  # (...,) float32, nats, >= 0
    lse: torch.Tensor  # (...,) float32, log of the softmax normaliser of logits / T

    @property
    def margin(self) -> torch.Tensor:
        """Top-1 minus top-2 probability (Kim et al. 2025, top-prob margin)."""
        return self.top_p - self.second_p


def span_stats_reference(
    logits: torch.Tensor,
    banned: torch.Tensor | None = None,
    skip_id: int | None = None,
    inv_temperature: float = 1.0,
) -> SpanStats:
    """The same statistics with plain torch ops (materialises float32 softmax). (..., V) -> (...,)."""
    x = logits.float() * inv_temperature
    if banned is not None:
        x = x.masked_fill(banned, float("-inf"))
    lse = torch.logsumexp(x, dim=-1)  # (...,)
    p = torch.exp(x - lse.unsqueeze(-1))  # (..., V)
    entropy = -torch.special.xlogy(p, p).sum(-1)
    ranked = x if skip_id is None else x.index_fill(-1, torch.tensor([skip_id], device=x.device), float("-inf"))
    top_id = ranked.argmax(-1)
    values = ranked.topk(min(2, ranked.shape[-1]), dim=-1).values  # (..., 2)
    second = values[..., 1] if values.shape[-1] > 1 else torch.full_like(lse, float("-inf"))
    return SpanStats(top_id, torch.exp(values[..., 0] - lse), torch.exp(second - lse), entropy, lse)


def span_stats(
    logits: torch.Tensor,
    banned: torch.Tensor | None = None,
    skip_id: int | None = None,
    inv_temperature: float = 1.0,
    use_triton: bool | None = None,
    splits: int | None = None,
) -> SpanStats:
    """logits (..., V), any float dtype, last dim contiguous; banned (V,) bool. -> SpanStats of (...,).

    use_triton None: Triton on CUDA tensors, the torch reference elsewhere. splits forces the number
    of vocabulary chunks per row (tests); None sizes it to the GPU.
    """
    if use_triton is None:
        use_triton = logits.is_cuda and kernels.available(logits.device)
    if not use_triton:
        return span_stats_reference(logits, banned, skip_id, inv_temperature)
    return _launch(logits, banned, skip_id, inv_temperature, splits)


def _launch(logits, banned, skip_id, inv_temperature, splits) -> SpanStats:
    import triton

    assert logits.dim() >= 1 and logits.shape[-1] > 0, f"logits must be (..., V), got {tuple(logits.shape)}"
    assert logits.stride(-1) == 1, f"logits' last dim must be contiguous, strides {logits.stride()}"
    assert logits.dtype in (torch.float32, torch.bfloat16, torch.float16), f"unsupported dtype {logits.dtype}"
    lead, vocab = logits.shape[:-1], logits.shape[-1]
    assert vocab < 2**24, f"vocabulary {vocab} too large: token ids travel through float32 partials"
    rows = logits.reshape(-1, vocab)  # (N, V); a view whenever the leading dims allow
    n = rows.shape[0]
    if banned is not None:
        assert banned.shape == (vocab,) and banned.dtype == torch.bool, \
            f"banned must be a ({vocab},) bool tensor, got {tuple(banned.shape)} {banned.dtype}"
        assert banned.device == logits.device, f"banned on {banned.device}, logits on {logits.device}"
        banned = banned.contiguous().view(torch.uint8)
    block = min(BLOCK_V, triton.next_power_of_2(vocab))
    blocks = triton.cdiv(vocab, block)
    if splits is None:
        target = 2 * kernels.sm_count(logits.device) if logits.is_cuda else 1
        splits = max(1, triton.cdiv(target, max(n, 1)))
    splits = max(1, min(splits, blocks))
    chunk = triton.cdiv(blocks, splits) * block
    splits = triton.cdiv(vocab, chunk)
    part = torch.empty((6, n, splits), device=logits.device, dtype=torch.float32)  # m, s, t, b1, b2, i1
    if n:
        _kernel()[(n, splits)](
            rows, rows.stride(0), banned if banned is not None else rows, part, n * splits, vocab, chunk,
            float(inv_temperature), -1 if skip_id is None else int(skip_id),
            HAS_BANNED=banned is not None, BLOCK=block, num_warps=8 if block >= 2048 else 4,
        )
    m, s, t, b1, b2, i1 = part  # each (N, S)
    big = m.amax(-1, keepdim=True)  # (N, 1)
    big = torch.where(torch.isinf(big), torch.zeros_like(big), big)
    w = torch.exp(m - big)  # (N, S); 0 for a chunk with nothing allowed
    total, weighted = (s * w).sum(-1), (t * w).sum(-1)  # (N,)
    lse = big.squeeze(-1) + torch.log(total)
    entropy = (lse - weighted / total).clamp_min(0.0)
    winner = b1.argmax(-1, keepdim=True)  # (N, 1): first chunk on ties, hence the first index
    top = b1.gather(-1, winner).squeeze(-1)
    top_id = i1.gather(-1, winner).squeeze(-1).long()
    candidates = torch.cat([b1, b2], dim=-1)  # (N, 2S): the runner-up is one of these
    second = candidates.topk(2, dim=-1).values[:, 1]
    out = (top_id, torch.exp(top - lse), torch.exp(second - lse), entropy, lse)
    return SpanStats(*(x.reshape(lead) for x in out))


@functools.cache
def _kernel_for(interpret: bool):
    """JIT the kernel on first use: Triton reads TRITON_INTERPRET when a function is decorated."""
    import triton
    import triton.language as tl

    @triton.jit
    def span_stats_partial(
        x_ptr, stride_row, banned_ptr, part_ptr, part_stride, vocab, chunk, scale, skip_id,
        HAS_BANNED: tl.constexpr, BLOCK: tl.constexpr,
    ):
        """One (row, vocabulary chunk): running max m, s = sum e^(x-m), t = sum e^(x-m) x, best two."""
        row, split = tl.program_id(0), tl.program_id(1)
        splits = tl.num_programs(1)
        begin = split * chunk
        end = tl.minimum(begin + chunk, vocab)
        m = tl.full((), float("-inf"), tl.float32)
        s = tl.zeros((), tl.float32)
        t = tl.zeros((), tl.float32)
        b1 = tl.full((), float("-inf"), tl.float32)
        b2 = tl.full((), float("-inf"), tl.float32)
        i1 = tl.zeros((), tl.int32)
        offsets = tl.arange(0, BLOCK)
        for start in range(begin, end, BLOCK):
            cols = start + offsets
            inside = cols < end
            x = tl.load(x_ptr + row.to(tl.int64) * stride_row + cols, mask=inside, other=float("-inf"))
            x = x.to(tl.float32) * scale
            if HAS_BANNED:
                ban = tl.load(banned_ptr + cols, mask=inside, other=1)
                x = tl.where(ban != 0, float("-inf"), x)
            new_m = tl.maximum(m, tl.max(x, axis=0))
            safe = tl.where(new_m == float("-inf"), 0.0, new_m)
            e = tl.exp(x - safe)  # 0 at -inf
            alpha = tl.exp(m - safe)
            s = s * alpha + tl.sum(e, axis=0)
            t = t * alpha + tl.sum(e * tl.where(e > 0, x, 0.0), axis=0)  # 0 * -inf would be nan
            m = new_m
            ranked = tl.where(cols == skip_id, float("-inf"), x)
            best, at = tl.max(ranked, axis=0, return_indices=True, return_indices_tie_break_left=True)
            runner_up = tl.max(tl.where(offsets == at, float("-inf"), ranked), axis=0)
            better = best > b1
            b2 = tl.where(better, tl.maximum(b1, runner_up), tl.maximum(b2, best))
            i1 = tl.where(better, start + at, i1)
            b1 = tl.where(better, best, b1)
        slot = part_ptr + row * splits + split
        tl.store(slot, m)
        tl.store(slot + part_stride, s)
        tl.store(slot + 2 * part_stride, t)
        tl.store(slot + 3 * part_stride, b1)
        tl.store(slot + 4 * part_stride, b2)
        tl.store(slot + 5 * part_stride, i1.to(tl.float32))

    return span_stats_partial


def _kernel():
    return _kernel_for(kernels.interpreting())
