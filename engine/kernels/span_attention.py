"""span_attention: a span's queries over the cached keys/values (split-K, flash-decoding style).

A cached denoising step has few queries (a 64-slot span) and many keys (the whole context). Flash
attention parallelises over query blocks and heads: 1 query block x 12 heads is 12 programs on a
132-SM GPU. Here the keys are cut into chunks as well (Dao et al. 2023, Flash-Decoding), and the
heads of one GQA group are folded into the query rows, so each program reads its key/value chunk once
for the whole group. Each program leaves its partial output normalised by its own softmax sum, plus
that sum's log (lse); a few torch ops weigh the chunks by exp(lse_s - max lse).

valid_len (B,) masks keys at positions >= valid_len: the static-shape step attends over a fixed
cache capacity whose tail is unused.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F

from engine import kernels

BLOCK_K = 64  # keys per inner iteration


def span_attention_reference(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, valid_len: torch.Tensor | None = None
) -> torch.Tensor:
    """Full (bidirectional) attention. q (B, H, Lq, D), k/v (B, KV, T, D), valid_len (B,) -> (B, H, Lq, D)."""
    mask = None
    if valid_len is not None:
        keys = torch.arange(k.shape[2], device=k.device)
        mask = (keys[None, :] < valid_len[:, None])[:, None, None, :]  # (B, 1, 1, T)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=k.shape[1] != q.shape[1])


def span_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    valid_len: torch.Tensor | None = None,
    use_triton: bool | None = None,
    splits: int | None = None,
) -> torch.Tensor:
    """Triton on CUDA tensors (use_triton None), the torch reference elsewhere. Shapes as the reference."""
    if use_triton is None:
        use_triton = q.is_cuda and kernels.available(q.device)
    if not use_triton:
        return span_attention_reference(q, k, v, valid_len)
    return _launch(q, k, v, valid_len, splits)


def _launch(q, k, v, valid_len, splits) -> torch.Tensor:
    import triton

    assert q.dim() == 4 and k.dim() == 4 and v.shape == k.shape, \
        f"expected q (B, H, Lq, D) and k/v (B, KV, T, D), got {tuple(q.shape)} {tuple(k.shape)} {tuple(v.shape)}"
    B, H, Lq, D = q.shape
    KV, T = k.shape[1], k.shape[2]
    assert k.shape[0] == B and k.shape[3] == D and H % KV == 0, f"q {tuple(q.shape)} vs k {tuple(k.shape)}"
    assert D in (16, 32, 64, 128, 256), f"head_dim {D} must be a power of two in [16, 256]"
    assert q.stride(-1) == k.stride(-1) == v.stride(-1) == 1, \
        f"head_dim must be contiguous, strides q {q.stride()} k {k.stride()} v {v.stride()}"
    assert q.dtype == k.dtype == v.dtype, f"dtypes differ: {q.dtype} {k.dtype} {v.dtype}"
    if valid_len is None:
        valid_len = torch.full((B,), T, device=q.device, dtype=torch.int32)
    assert valid_len.shape == (B,), f"valid_len must be ({B},), got {tuple(valid_len.shape)}"
    group = H // KV
    rows = group * Lq  # a GQA group's heads folded into query rows
    block_q = 64 if rows >= 64 else max(16, triton.next_power_of_2(rows))
    row_blocks = triton.cdiv(rows, block_q)
    key_blocks = triton.cdiv(T, BLOCK_K)
    if splits is None:
        target = 2 * kernels.sm_count(q.device) if q.is_cuda else 1
        splits = triton.cdiv(target, row_blocks * B * KV)
    splits = max(1, min(splits, key_blocks))
    chunk = triton.cdiv(key_blocks, splits) * BLOCK_K
    splits = triton.cdiv(T, chunk)
    part = torch.empty((B, H, splits, Lq, D), device=q.device, dtype=torch.float32)
    lse = torch.empty((B, H, splits, Lq), device=q.device, dtype=torch.float32)
    _kernel()[(row_blocks, B * KV, splits)](
        q, k, v, valid_len.to(torch.int32), part, lse,
        *q.stride()[:3], *k.stride()[:3], *v.stride()[:3],
        KV, Lq, rows, T, chunk, splits, 1.0 / math.sqrt(D),
        D=D, BLOCK_Q=block_q, BLOCK_K=BLOCK_K, num_warps=4,
    )
    top = lse.amax(2, keepdim=True)  # (B, H, 1, Lq)
    weight = torch.exp(lse - top)  # (B, H, S, Lq); 0 for a chunk past valid_len
    out = (part * weight.unsqueeze(-1)).sum(2) / weight.sum(2).unsqueeze(-1)  # (B, H, Lq, D)
    return out.to(q.dtype)


@functools.cache
def _kernel_for(interpret: bool):
    """JIT the kernel on first use: Triton reads TRITON_INTERPRET when a function is decorated."""
    import triton
    import triton.language as tl

    @triton.jit
    def span_attention_partial(
        q_ptr, k_ptr, v_ptr, valid_ptr, part_ptr, lse_ptr,
        sq_b, sq_h, sq_l, sk_b, sk_h, sk_t, sv_b, sv_h, sv_t,
        num_kv, span, rows, keys, chunk, splits, scale,
        D: tl.constexpr, BLOCK_Q: tl.constexpr, BLOCK_K: tl.constexpr,
    ):
        """Rows r = g * span + i of kv head `kvh` (query head kvh * group + g, slot i) over one key chunk."""
        row_block, bkv, split = tl.program_id(0), tl.program_id(1), tl.program_id(2)
        b, kvh = bkv // num_kv, bkv % num_kv
        group = rows // span
        r = row_block * BLOCK_Q + tl.arange(0, BLOCK_Q)
        row_ok = r < rows
        head = kvh * group + r // span  # (BLOCK_Q,)
        slot = r % span
        d = tl.arange(0, D)
        q_off = b.to(tl.int64) * sq_b + head.to(tl.int64) * sq_h + slot.to(tl.int64) * sq_l
        qb = tl.load(q_ptr + q_off[:, None] + d[None, :], mask=row_ok[:, None], other=0.0)  # (BQ, D)
        valid = tl.minimum(tl.load(valid_ptr + b), keys)
        begin = split * chunk
        end = tl.minimum(begin + chunk, valid)
        m = tl.full((BLOCK_Q,), float("-inf"), tl.float32)
        l = tl.zeros((BLOCK_Q,), tl.float32)
        acc = tl.zeros((BLOCK_Q, D), tl.float32)
        k_base = k_ptr + b.to(tl.int64) * sk_b + kvh.to(tl.int64) * sk_h
        v_base = v_ptr + b.to(tl.int64) * sv_b + kvh.to(tl.int64) * sv_h
        for start in range(begin, end, BLOCK_K):
            t = start + tl.arange(0, BLOCK_K)
            t_ok = t < end
            kb = tl.load(k_base + t.to(tl.int64)[:, None] * sk_t + d[None, :], mask=t_ok[:, None], other=0.0)
            s = tl.dot(qb, tl.trans(kb)) * scale  # (BQ, BK)
            s = tl.where(t_ok[None, :], s, float("-inf"))
            new_m = tl.maximum(m, tl.max(s, axis=1))
            p = tl.exp(s - new_m[:, None])
            alpha = tl.exp(m - new_m)
            l = l * alpha + tl.sum(p, axis=1)
            vb = tl.load(v_base + t.to(tl.int64)[:, None] * sv_t + d[None, :], mask=t_ok[:, None], other=0.0)
            acc = acc * alpha[:, None] + tl.dot(p.to(vb.dtype), vb)
            m = new_m
        has = l > 0
        out = acc / tl.where(has, l, 1.0)[:, None]
        lse = tl.where(has, m + tl.log(tl.where(has, l, 1.0)), float("-inf"))
        # part (B, H, S, Lq, D) and lse (B, H, S, Lq), both contiguous
        bhs = (b * (num_kv * group) + head).to(tl.int64) * splits + split  # (BQ,)
        tl.store(lse_ptr + bhs * span + slot, lse, mask=row_ok)
        p_off = (bhs * span + slot) * D
        tl.store(part_ptr + p_off[:, None] + d[None, :], out, mask=row_ok[:, None])

    return span_attention_partial


def _kernel():
    return _kernel_for(kernels.interpreting())
