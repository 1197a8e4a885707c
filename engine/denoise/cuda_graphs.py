"""CudaGraphStep: the cached denoising step at static shapes, captured once per bucket in a CUDA graph.

A cached step (Fast-dLLM's dual cache; engine/denoise/runner.py) recomputes only the span's rows over the
context keys/values. Its shapes vary per request (span length, context length) and its positions are
Python ints, so it cannot be replayed as it is. Here:
- the span piece is padded to a span-length bucket (SPAN_BUCKETS), the keys read are a prefix of a
  preallocated cache cut at a context bucket (powers of two up to the capacity);
- positions, cache write slots and the number of valid keys are device tensors in static buffers:
  a padded row writes its key/value into a scratch slot past the capacity and every key at or past the
  sequence's length is masked (kernels.span_attention's valid_len), so padding changes nothing;
- on CUDA each (span bucket, context bucket) is captured once and replayed; launches cost nothing and
  the step has no host-device synchronisation. Elsewhere the same static forward runs eagerly, which
  is how the CPU tests check it against Runner.span_logits.
The full pass (refresh) stays eager: it runs once per request (or every refresh_every steps).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from engine import kernels
from engine.models.kv_cache import KVCache
from engine.models.transformer import Transformer, apply_rotary, rotary_cos_sin

SPAN_BUCKETS = (1, 8, 16, 32, 64, 128, 256, 512)
MIN_CONTEXT_BUCKET = 256


def bucket_for(n: int, buckets: tuple[int, ...]) -> int:
    """The smallest bucket >= n."""
    for bucket in sorted(buckets):
        if bucket >= n:
            return bucket
    raise ValueError(f"{n} exceeds the largest bucket {max(buckets)}")


def context_buckets(capacity: int) -> tuple[int, ...]:
    """Powers of two from MIN_CONTEXT_BUCKET below capacity, then capacity itself."""
    if capacity < 1:
        raise ValueError(f"capacity must be >= 1, got {capacity}")
    out, size = [], MIN_CONTEXT_BUCKET
    while size < capacity:
        out.append(size)
        size *= 2
    return (*out, capacity)


@dataclass
class _Buffers:
    """Static inputs of one span bucket (rows = the bucket's size)."""

    ids: torch.Tensor  # (1, rows) token ids
    positions: torch.Tensor  # (rows,) RoPE positions
    write_at: torch.Tensor  # (rows,) cache slot each row's key/value goes to
    valid: torch.Tensor  # (1,) int32: keys at positions >= valid are masked


class CudaGraphStep:
    """Drop-in for Runner.span_logits that owns its context cache; batch 1 (as the engine)."""

    def __init__(self, model: Transformer, capacity: int, span_buckets: tuple[int, ...] = SPAN_BUCKETS,
                 graphs: bool | None = None) -> None:
        self.model, self.args = model, model.args
        weight = model.lm_head.weight
        self.device, self.dtype = weight.device, weight.dtype
        if capacity > self.args.max_position_embeddings:
            raise ValueError(f"capacity {capacity} exceeds the model's {self.args.max_position_embeddings} positions")
        self.capacity, self.span_buckets = capacity, tuple(sorted(span_buckets))
        self.context_buckets = context_buckets(capacity)
        self.use_graphs = self.device.type == "cuda" if graphs is None else graphs
        if self.use_graphs and self.device.type != "cuda":
            raise ValueError("CUDA graphs need a model on a CUDA device")
        with torch.inference_mode():
            # Scratch slots past the capacity take the padded rows' keys/values; nothing reads them.
            self.cache = KVCache(self.args, 1, capacity + self.span_buckets[-1], self.device, self.dtype)
            self._buffers = {b: self._new_buffers(b) for b in self.span_buckets}
        self._graphs: dict[tuple[int, int], tuple[torch.cuda.CUDAGraph, torch.Tensor]] = {}
        self._pool = torch.cuda.graph_pool_handle() if self.use_graphs else None

    @torch.inference_mode()
    def span_logits(self, input_ids: torch.Tensor, start: int, length: int, cache: KVCache | None = None,
                    refresh: bool = True, reuse_from: int = 0, key_valid: torch.Tensor | None = None
                    ) -> torch.Tensor:
        """Runner.span_logits' contract for a batch of one; `cache` is ignored (this object's own is used).

        A refresh runs eagerly (from reuse_from, keeping the cached positions before it). The result of
        a cached step is a view of a static buffer, valid until the next call.
        """
        first = start - int(self.args.shift_logits)  # raw row that scores the first slot
        total = input_ids.shape[1]
        if input_ids.shape[0] != 1 or key_valid is not None:
            raise ValueError(f"CudaGraphStep runs a batch of one, got {input_ids.shape[0]} rows")
        if total > self.capacity:
            raise ValueError(f"sequence of {total} tokens exceeds the cache capacity {self.capacity}")
        if not 0 <= reuse_from <= first:
            raise ValueError(f"reuse_from {reuse_from} must lie in the context before {first}")
        if refresh:
            self.cache.attend_len = total if reuse_from else None
            try:
                return self.model(input_ids[:, reuse_from:], cache=self.cache, start=reuse_from,
                                  keep=slice(first - reuse_from, first - reuse_from + length))
            finally:
                self.cache.attend_len = None
        return self.forward_rows(input_ids[:, first : start + length], first, total)[:, :length]

    @torch.inference_mode()
    def forward_rows(self, piece: torch.Tensor, first: int, valid_len: int) -> torch.Tensor:
        """Raw logits (1, bucket, V) of tokens `piece` (1, n) at positions first..first+n.

        They attend to the cached keys/values of positions [0, valid_len), their own included (written
        first). Left-to-right decoding is the case n = 1, valid_len = first + 1.
        """
        n = piece.shape[1]
        assert piece.dim() == 2 and piece.shape[0] == 1, f"piece must be (1, n), got {tuple(piece.shape)}"
        assert 0 <= first and first + n <= valid_len <= self.capacity, \
            f"rows [{first}, {first + n}) and {valid_len} valid keys do not fit a capacity of {self.capacity}"
        rows = bucket_for(n, self.span_buckets)
        buf = self._buffers[rows]
        index = torch.arange(rows, device=self.device)
        real = index < n
        buf.ids[:, :n].copy_(piece)
        buf.positions.copy_(torch.where(real, first + index, 0))
        buf.write_at.copy_(torch.where(real, first + index, self.capacity + index))
        buf.valid.fill_(valid_len)
        keys = bucket_for(valid_len, self.context_buckets)
        if not self.use_graphs:
            return self._forward(buf, keys)
        graph, out = self._graph(rows, keys)
        graph.replay()
        return out

    def capture(self, span_lengths: tuple[int, ...] | None = None) -> int:
        """Capture ahead of use (server warm-up): every context bucket for each span bucket. -> graphs."""
        if not self.use_graphs:
            return 0
        with torch.inference_mode():
            for rows in span_lengths or self.span_buckets:
                for keys in self.context_buckets:
                    self._graph(bucket_for(rows, self.span_buckets), keys)
        return len(self._graphs)

    def _new_buffers(self, rows: int) -> _Buffers:
        index = torch.arange(rows, device=self.device)
        return _Buffers(torch.zeros((1, rows), dtype=torch.long, device=self.device), torch.zeros_like(index),
                        self.capacity + index, torch.ones(1, dtype=torch.int32, device=self.device))

    def _graph(self, rows: int, keys: int) -> tuple[torch.cuda.CUDAGraph, torch.Tensor]:
        if (rows, keys) not in self._graphs:
            buf = self._buffers[rows]
            side = torch.cuda.Stream(self.device)
            side.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(side):  # warm-up: Triton compiles, cuBLAS picks its kernels
                for _ in range(2):
                    self._forward(buf, keys)
            torch.cuda.current_stream(self.device).wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, pool=self._pool):
                out = self._forward(buf, keys)
            self._graphs[rows, keys] = (graph, out)
        return self._graphs[rows, keys]

    def _forward(self, buf: _Buffers, keys: int) -> torch.Tensor:
        """The model's forward at static shapes (engine/models/transformer.py, layer by layer)."""
        args, backbone = self.args, self.model.model
        rows = buf.ids.shape[1]
        x = backbone.embed_tokens(buf.ids)  # (1, rows, d)
        cos, sin = rotary_cos_sin(buf.positions, args.head_dim, args.rope_theta, x.dtype)
        for i, layer in enumerate(backbone.layers):
            attn = layer.self_attn
            h = layer.input_layernorm(x)
            q = attn.q_proj(h).view(1, rows, attn.num_heads, attn.head_dim).transpose(1, 2)  # (1, H, rows, D)
            k = attn.k_proj(h).view(1, rows, attn.num_kv_heads, attn.head_dim).transpose(1, 2)  # (1, KV, rows, D)
            v = attn.v_proj(h).view(1, rows, attn.num_kv_heads, attn.head_dim).transpose(1, 2)  # (1, KV, rows, D)
            if getattr(attn, "q_norm", None) is not None:  # Qwen3: RMSNorm over head_dim, before RoPE
                q, k = attn.q_norm(q), attn.k_norm(k)
            q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
            self.cache.k[i].index_copy_(2, buf.write_at, k)
            self.cache.v[i].index_copy_(2, buf.write_at, v)
            out = kernels.span_attention(q, self.cache.k[i][:, :, :keys], self.cache.v[i][:, :, :keys],
                                         buf.valid)  # (1, H, rows, D)
            x = x + attn.o_proj(out.transpose(1, 2).reshape(1, rows, attn.num_heads * attn.head_dim))
            x = x + layer.mlp(layer.post_attention_layernorm(x))
        return self.model.lm_head(backbone.norm(x))  # (1, rows, V)
