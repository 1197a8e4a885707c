"""KVCache: per-layer key/value tensors preallocated once and filled as positions are computed."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:  # the transformer imports this module; a runtime import would be circular
    from engine.models.args import ModelArgs


class KVCache:
    def __init__(self, args: ModelArgs, batch: int, max_len: int, device: torch.device | str,
                 dtype: torch.dtype) -> None:
        shape = (batch, args.num_key_value_heads, max_len, args.head_dim)  # (B, KV, T, D)
        self.k = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(args.num_hidden_layers)]
        self.v = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(args.num_hidden_layers)]
        self.max_len = max_len
        self.batch = batch
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

    def scatter(self, layer: int, positions: torch.Tensor, k: torch.Tensor, v: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Store k/v (B, KV, L, D) at positions (L,); return keys/values of [0, attend_len)."""
        assert self.attend_len is not None, "a scattered write attends to attend_len positions"
        self.k[layer].index_copy_(2, positions, k)
        self.v[layer].index_copy_(2, positions, v)
        return self.k[layer][:, :, : self.attend_len], self.v[layer][:, :, : self.attend_len]

    def select_rows(self, rows: list[int]) -> None:
        """Keep only these batch rows (a finished or cancelled request's memory goes at once)."""
        index = torch.tensor(rows, dtype=torch.long, device=self.k[0].device)
        self.k = [k.index_select(0, index) for k in self.k]
        self.v = [v.index_select(0, index) for v in self.v]
        self.batch = len(rows)

    def copy_prefix_from(self, other: KVCache, length: int) -> None:
        """Take positions [0, length) from other (same model, batch of one)."""
        assert length <= min(self.max_len, other.max_len), f"{length} positions do not fit"
        for layer in range(len(self.k)):
            self.k[layer][:, :, :length] = other.k[layer][:, :, :length]
            self.v[layer][:, :, :length] = other.v[layer][:, :, :length]
