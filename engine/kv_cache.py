"""KVCache: per-layer key/value tensors preallocated once and filled as positions are computed."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:  # models import this module; a runtime import would be circular
    from engine.models.args import ModelArgs


class KVCache:
    def __init__(self, args: ModelArgs, batch: int, max_len: int, device: torch.device | str,
                 dtype: torch.dtype) -> None:
        shape = (batch, args.num_key_value_heads, max_len, args.head_dim)  # (B, KV, T, D)
        self.k = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(args.num_hidden_layers)]
        self.v = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(args.num_hidden_layers)]
        self.max_len = max_len
        # Set to T when a middle piece (the span) is recomputed over a fully cached sequence of T
        # positions; None for left-to-right use, where a query sees the positions before it.
        self.attend_len: int | None = None

    def write(self, layer: int, start: int, k: torch.Tensor, v: torch.Tensor
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """Store k/v (B, KV, L, D) at [start, start+L); return keys/values of [0, start+L)."""
        end = start + k.shape[2]
        assert end <= self.max_len, f"cache of {self.max_len} positions cannot hold position {end - 1}"
        self.k[layer][:, :, start:end] = k
        self.v[layer][:, :, start:end] = v
        return self.k[layer][:, :, :end], self.v[layer][:, :, :end]
