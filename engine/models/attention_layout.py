"""Who may attend to whom: the block-causal fill-in-the-middle layout of the default model.

    [bos] prefix ............ | span (L slots) | suffix ..........
    prefix rows:  causal, as the pretrained base             (exact keys/values, reused across keystrokes)
    suffix rows:  the prefix and earlier suffix, never the span (exact keys/values, once per request)
    span block:   the prefix, the open part of the suffix, the span slots up to `lookahead` ahead

Every sequence is in natural order with its real positions. With shifted logits the first span token
is predicted at the last context position (the anchor), so the span block also holds a copy of the
anchor: a query at the anchor's position that sees what the span sees. The copy is never a key (at
inference its keys/values are not stored; the context's own anchor is the key at that position).

`view` in [0, 1] opens the span's view gradually (training anneals it from 0 to 1): the span block
sees the nearest round(view * |suffix|) suffix tokens and slots up to round(view * L) ahead. At view 0
the block is causal and blind to the suffix, so decoding one token per step from left to right is the
base model's greedy decoding, token for token.

Rows are described by per-row tensors (`Rows`), so the same rule builds the training mask (a whole
sequence plus two span copies) and each inference step's mask (the rows computed, over the cache).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

PREFIX, SUFFIX, SPAN = 0, 1, 2  # Rows.region


@dataclass
class Rows:
    """A set of rows (queries or keys), each field (B, N)."""

    position: torch.Tensor
    """Rotary position (long)."""
    region: torch.Tensor
    """PREFIX, SUFFIX or SPAN (long); the anchor copy is SPAN."""
    slot: torch.Tensor
    """SPAN rows: index in the span, -1 for the anchor copy (long); ignored elsewhere."""
    group: torch.Tensor
    """Which span copy a SPAN row belongs to (training holds two); 0 elsewhere (long)."""
    is_key: torch.Tensor
    """False for anchor copies and padding: no row attends to them (bool)."""


def openings(view: float, span_len: torch.Tensor | int, suffix_len: torch.Tensor
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """(lookahead, suffix_open) for a view: slots ahead and suffix tokens the span sees. (B,) each."""
    span = torch.as_tensor(span_len, device=suffix_len.device)
    lookahead = torch.round(view * span.float()).long().expand_as(suffix_len)
    return lookahead, torch.round(view * suffix_len.float()).long()


def may_attend(q: Rows, k: Rows, suffix_start: torch.Tensor, lookahead: torch.Tensor,
               suffix_open: torch.Tensor) -> torch.Tensor:
    """(B, Q, K) bool: query row i may attend to key row j.

    suffix_start (B,): the first suffix position; lookahead, suffix_open (B,): see `openings`.
    A query that may see nothing (padding) sees every key, so that attention never divides by zero;
    its output is never used.
    """
    qr, kr = q.region[:, :, None], k.region[:, None, :]  # (B, Q, 1), (B, 1, K)
    qp, kp = q.position[:, :, None], k.position[:, None, :]
    prefix_key = (kr == PREFIX) & ((qr != PREFIX) | (kp <= qp))
    suffix_seen = (kp - suffix_start[:, None, None]) < suffix_open[:, None, None]
    suffix_key = (kr == SUFFIX) & (((qr == SUFFIX) & (kp <= qp)) | ((qr == SPAN) & suffix_seen))
    ahead = k.slot[:, None, :] <= q.slot[:, :, None] + lookahead[:, None, None]
    span_key = (kr == SPAN) & (qr == SPAN) & (q.group[:, :, None] == k.group[:, None, :]) & ahead
    allowed = (prefix_key | suffix_key | span_key) & k.is_key[:, None, :]  # (B, Q, K)
    return allowed | ~allowed.any(-1, keepdim=True)


def sequence_rows(positions: torch.Tensor, start: int, span_len: int, key_valid: torch.Tensor | None,
                  batch: int, block_from: int | None = None) -> Rows:
    """Rows for positions (N,) of a sequence whose span is [start, start + span_len). key_valid (B, N)
    marks the rows that are keys (None: all). Rows from block_from on are the span block, the anchor copy
    (at start - 1, slot -1) included; without it every position is itself."""
    region = torch.where(positions < start, PREFIX, torch.where(positions < start + span_len, SPAN, SUFFIX))
    if block_from is not None:
        region[block_from:] = SPAN
    expand = lambda t: t[None].expand(batch, -1)  # noqa: E731  (N,) -> (B, N)
    is_key = key_valid if key_valid is not None else torch.ones(batch, len(positions), dtype=torch.bool,
                                                                 device=positions.device)
    return Rows(expand(positions), expand(region), expand(positions - start),
                torch.zeros(batch, len(positions), dtype=torch.long, device=positions.device), is_key)
