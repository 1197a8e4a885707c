"""A Qwen2/Qwen3/LLaMA-family transformer used bidirectionally (RMSNorm, RoPE, SwiGLU, GQA).

Parameter names match Hugging Face's Qwen2ForCausalLM/LlamaForCausalLM, so their state dicts load
as they are. Attention is full (no causal mask) unless asked for; `token_logits` hides the two
logit conventions so that callers always see "position i predicts token i".
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from engine.models.kv_cache import KVCache
from engine.models.args import ModelArgs


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        x = x.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dtype)


def rotary_cos_sin(
    positions: torch.Tensor, head_dim: int, theta: float, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin tables for HF's rotate-half RoPE. positions: (..., L) -> two (..., L, head_dim) tensors."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, device=positions.device).float() / head_dim))
    freqs = positions.float()[..., None] * inv_freq  # (..., L, head_dim/2)
    emb = torch.cat([freqs, freqs], dim=-1)  # (L, head_dim)
    return emb.cos().to(dtype), emb.sin().to(dtype)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x: (B, H, L, D); cos/sin: (L, D), or (B, 1, L, D) when each row has its own positions."""
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos + rotated * sin


class Attention(nn.Module):
    def __init__(self, args: ModelArgs) -> None:
        super().__init__()
        self.num_heads = args.num_attention_heads
        self.num_kv_heads = args.num_key_value_heads
        self.head_dim = args.head_dim
        d, hd = args.hidden_size, args.head_dim
        self.q_proj = nn.Linear(d, self.num_heads * hd, bias=args.attention_bias)
        self.k_proj = nn.Linear(d, self.num_kv_heads * hd, bias=args.attention_bias)
        self.v_proj = nn.Linear(d, self.num_kv_heads * hd, bias=args.attention_bias)
        self.o_proj = nn.Linear(self.num_heads * hd, d, bias=False)
        self.q_norm = RMSNorm(hd, args.rms_norm_eps) if args.qk_norm else None
        self.k_norm = RMSNorm(hd, args.rms_norm_eps) if args.qk_norm else None

    def forward(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        causal: bool,
        attn_mask: torch.Tensor | None,
        cache: KVCache | None = None,
        layer: int = 0,
        start: int = 0,
        placed: Placement | None = None,
    ) -> torch.Tensor:
        B, L, _ = x.shape
        q = self.q_proj(x).view(B, L, self.num_heads, self.head_dim)  # (B, L, H, D)
        k = self.k_proj(x).view(B, L, self.num_kv_heads, self.head_dim)  # (B, L, KV, D)
        if self.q_norm is not None:
            q, k = self.q_norm(q), self.k_norm(k)
        q, k = q.transpose(1, 2), k.transpose(1, 2)  # (B, H, L, D), (B, KV, L, D)
        v = self.v_proj(x).view(B, L, self.num_kv_heads, self.head_dim).transpose(1, 2)  # (B, KV, L, D)
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        if cache is not None and placed is not None:  # rows at scattered positions of a cached sequence
            k, v = cache.scatter(layer, placed.positions[placed.store], k[:, :, placed.store], v[:, :, placed.store])
        elif cache is not None:
            k, v = cache.write(layer, start, k, v)  # (B, KV, start+L, D)
            if cache.attend_len is not None:  # the span of a cached sequence sees all of it
                k = cache.k[layer][:, :, : cache.attend_len]  # (B, KV, T, D)
                v = cache.v[layer][:, :, : cache.attend_len]
            elif causal and attn_mask is None and start > 0:
                # New query i sits at position start+i and may see keys 0..start+i.
                keys = torch.arange(start + L, device=x.device)
                attn_mask = keys[None, :] <= (start + torch.arange(L, device=x.device))[:, None]
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask, is_causal=causal and attn_mask is None,
            enable_gqa=self.num_kv_heads != self.num_heads,
        )  # (B, H, L, D)
        return self.o_proj(out.transpose(1, 2).reshape(B, L, self.num_heads * self.head_dim))


class MLP(nn.Module):
    def __init__(self, args: ModelArgs) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(args.hidden_size, args.intermediate_size, bias=False)
        self.up_proj = nn.Linear(args.hidden_size, args.intermediate_size, bias=False)
        self.down_proj = nn.Linear(args.intermediate_size, args.hidden_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


@dataclass(frozen=True)
class Placement:
    """Rows computed at explicit positions of a cached sequence (the block-causal layout's steps)."""

    positions: torch.Tensor
    """(L,) long: each row's position; its keys/values go to that cache slot."""
    store: torch.Tensor
    """(L,) bool: rows whose keys/values are stored (not the anchor copy, a query only)."""


class Block(nn.Module):
    def __init__(self, args: ModelArgs) -> None:
        super().__init__()
        self.input_layernorm = RMSNorm(args.hidden_size, args.rms_norm_eps)
        self.self_attn = Attention(args)
        self.post_attention_layernorm = RMSNorm(args.hidden_size, args.rms_norm_eps)
        self.mlp = MLP(args)

    def forward(self, x, cos, sin, causal, attn_mask, cache=None, layer=0, start=0, placed=None):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, causal, attn_mask, cache, layer, start, placed)
        return x + self.mlp(self.post_attention_layernorm(x))


class Backbone(nn.Module):
    def __init__(self, args: ModelArgs) -> None:
        super().__init__()
        # Built on the meta device (loading), there is nothing to initialise, and torch would run the
        # embedding's normal_ there through torch._dynamo, which imports Triton (+160 MB resident).
        on_meta = torch.empty(0).is_meta
        self.embed_tokens = nn.Embedding(args.vocab_size, args.hidden_size,
                                         _weight=torch.empty(args.vocab_size, args.hidden_size) if on_meta else None)
        self.layers = nn.ModuleList(Block(args) for _ in range(args.num_hidden_layers))
        self.norm = RMSNorm(args.hidden_size, args.rms_norm_eps)


class Transformer(nn.Module):
    def __init__(self, args: ModelArgs) -> None:
        super().__init__()
        self.args = args
        self.model = Backbone(args)
        self.lm_head = nn.Linear(args.hidden_size, args.vocab_size, bias=False)
        if args.tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight

    def forward(
        self,
        input_ids: torch.Tensor,
        causal: bool = False,
        attn_mask: torch.Tensor | None = None,
        cache: KVCache | None = None,
        start: int = 0,
        keep: slice | None = None,
        positions: torch.Tensor | None = None,
        placed: Placement | None = None,
    ) -> torch.Tensor:
        """input_ids: (B, L) -> raw logits (B, L, V) in the checkpoint's own convention.

        keep selects the positions whose logits are wanted (the vocabulary projection is the
        costliest single matmul of a small model; a span needs only its own rows).

        attn_mask, when given, is a boolean (L, L) or (B, 1, L, L) "may attend" mask and overrides
        causal. With a cache, input_ids sit at positions start..start+L and attend to everything the
        cache holds before them.

        positions (L,) or (B, L) gives each row its own rotary position (a block-causal training
        sequence); placed puts rows at scattered positions of a cache, every query seeing the cache's
        first cache.attend_len positions under attn_mask (a block-causal step, engine/denoise/runner.py).
        """
        assert input_ids.dim() == 2, f"input_ids must be (B, L), got {tuple(input_ids.shape)}"
        L = input_ids.shape[1]
        x = self.model.embed_tokens(input_ids)  # (B, L, d)
        if placed is not None:
            positions = placed.positions
        elif positions is None:
            positions = torch.arange(start, start + L, device=input_ids.device)
        cos, sin = rotary_cos_sin(positions, self.args.head_dim, self.args.rope_theta, x.dtype)
        if positions.dim() == 2:  # per-row positions: (B, L, D) -> (B, 1, L, D), broadcast over heads
            cos, sin = cos[:, None], sin[:, None]
        for i, layer in enumerate(self.model.layers):
            x = layer(x, cos, sin, causal, attn_mask, cache, i, start, placed)
        if keep is not None:
            x = x[:, keep]
        return self.lm_head(self.model.norm(x))  # (B, L or kept, V)

    def token_logits(
        self,
        input_ids: torch.Tensor,
        causal: bool = False,
        attn_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits aligned so that [:, i] scores token i, whatever the checkpoint's convention.

        With shifted logits, position 0 has no predictor; its row repeats row 0 of the raw output and
        must not be used (position 0 is always context: bos or prefix).
        """
        logits = self.forward(input_ids, causal=causal, attn_mask=attn_mask)  # (B, L, V)
        if not self.args.shift_logits:
            return logits
        return torch.cat([logits[:, :1], logits[:, :-1]], dim=1)  # (B, L, V)
