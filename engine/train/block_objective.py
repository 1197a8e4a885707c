"""The block-causal objective: span diffusion with complementary masks plus next-token loss on the context.

A training sequence is a fill-in-the-middle cut, laid out as at inference (engine/models/attention_layout.py):

    rows:  [bos] prefix | suffix | anchor, span copy 1 | anchor, span copy 2
    masks: copy 1 hides each slot with probability t ~ U(0, 1), or (a share `ordered_rate` of the
           sequences, 0 by default) the slots from a point j on, the states left-to-right decoding meets;
           copy 2 hides exactly the others

Both copies share the context rows (computed once) and see only themselves, so every span token is
learnt once masked and once visible in each sequence (complementary masking, as in Fast-dLLM v2 and
SDAR). The span loss is the cross-entropy of the masked slots, each predicted at the row before it
(shifted logits; slot 0 at the anchor copy); the context loss is the base's own next-token
cross-entropy on the prefix and suffix rows, which keeps the base what it was. The span's view of the
suffix and of later slots opens with `view` (annealed from 0, the base's causal pattern, to 1).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from engine.models.attention_layout import PREFIX, SPAN, SUFFIX, Rows, may_attend, openings
from engine.train.objective import cut_middle, span_slots
from engine.weights.tokenizer import Tokenizer

IGNORE = -100
NO_SUFFIX_RATE = 0.1  # cuts at the end of a file: the span sees no suffix, as in a prefix-only completion


@dataclass
class BlockExample:
    """One fill-in-the-middle cut, as token ids."""

    prefix: list[int]  # [bos] + prefix (never empty)
    span: list[int]  # the middle followed by pads
    suffix: list[int]


def block_example(text: str, tokenizer: Tokenizer, rng: random.Random, seq_len: int,
                  buckets: tuple[int, ...] = (32, 96), max_middle_lines: int = 8) -> BlockExample | None:
    """A cut of text at line boundaries (the inference line-break rule), fitted to seq_len positions."""
    pieces = cut_middle(text, tokenizer, rng, max_middle_lines)
    if pieces is None:
        return None
    prefix_text, middle, suffix_text = pieces
    slots = span_slots(len(middle), rng, buckets)
    special = tokenizer.special
    head = [special.bos] if special.bos is not None else []
    room = seq_len - len(head) - slots
    if room < 8:
        return None
    suffix: list[int] = []
    if rng.random() >= NO_SUFFIX_RATE:
        suffix = tokenizer.encode(suffix_text[: 8 * room])[: rng.randint(room // 4, room // 2)]
    prefix = tokenizer.encode(prefix_text[-8 * room :])
    prefix = head + prefix[max(0, len(prefix) - (room - len(suffix))) :]
    if not prefix:
        return None
    return BlockExample(prefix, middle + [special.pad] * (slots - len(middle)), suffix)


def _example_rows(e: BlockExample, masks: tuple[torch.Tensor, torch.Tensor], mask_id: int
                  ) -> tuple[list[int], list[int], list[int], list[int], list[int], list[int], list[int]]:
    """Row lists of one example: ids, position, region, slot, group, next-token target, span target."""
    P, S, X = len(e.prefix), len(e.span), len(e.suffix)
    ids = e.prefix + e.suffix
    position = list(range(P)) + list(range(P + S, P + S + X))
    region = [PREFIX] * P + [SUFFIX] * X
    slot = [-1] * (P + X)
    group = [0] * (P + X)
    ar = e.prefix[1:] + [IGNORE] + e.suffix[1:] + ([IGNORE] if X else [])
    span_target = [IGNORE] * (P + X)
    for copy, masked in enumerate(masks):
        inputs = [mask_id if m else t for t, m in zip(e.span, masked.tolist())]
        ids += [e.prefix[-1]] + inputs
        position += list(range(P - 1, P + S))
        region += [SPAN] * (S + 1)
        slot += list(range(-1, S))
        group += [copy] * (S + 1)
        ar += [IGNORE] * (S + 1)
        # The row at slot i - 1 (the anchor for slot 0) predicts slot i, scored where slot i is hidden.
        span_target += [t if m else IGNORE for t, m in zip(e.span, masked.tolist())] + [IGNORE]
    return ids, position, region, slot, group, ar, span_target


def span_mask(e: BlockExample, pad_id: int, generator: torch.Generator, ordered_rate: float) -> torch.Tensor:
    """(S,) bool, copy 1's hidden slots: with probability ordered_rate the slots from j on (j uniform in
    0..len(middle)), otherwise each slot with probability t ~ U(0, 1)."""
    S = len(e.span)
    if ordered_rate and float(torch.rand((), generator=generator)) < ordered_rate:
        middle = sum(1 for t in e.span if t != pad_id)
        j = int(torch.randint(0, middle + 1, (), generator=generator))
        return torch.arange(S) >= j
    t = torch.rand((), generator=generator)  # the draws, in order, of the recipe before ordered spans
    return torch.rand(S, generator=generator) < t


def collate(examples: list[BlockExample], pad_id: int, mask_id: int, generator: torch.Generator,
            view: float = 1.0, ordered_rate: float = 0.0) -> dict[str, torch.Tensor]:
    """Rows of every example, right-padded to the longest, and their (B, 1, N, N) attention mask."""
    rows = []
    for e in examples:
        first = span_mask(e, pad_id, generator, ordered_rate)  # (S,)
        rows.append(_example_rows(e, (first, ~first), mask_id))
    N = max(len(r[0]) for r in rows)
    fill = (pad_id, 0, PREFIX, -1, 0, IGNORE, IGNORE)  # padding rows: a prefix row at 0 that is no key
    fields = [torch.tensor([r[i] + [fill[i]] * (N - len(r[i])) for r in rows]) for i in range(7)]  # 7 x (B, N)
    ids, position, region, slot, group, ar_target, span_target = fields
    valid = torch.tensor([[True] * len(r[0]) + [False] * (N - len(r[0])) for r in rows])  # (B, N)
    is_key = valid & ~((region == SPAN) & (slot == -1))
    spans = torch.tensor([len(e.span) for e in examples])
    suffix_len = torch.tensor([len(e.suffix) for e in examples])
    suffix_start = torch.tensor([len(e.prefix) + len(e.span) for e in examples])
    lookahead, suffix_open = openings(view, spans, suffix_len)
    layout = Rows(position, region, slot, group, is_key)
    mask = may_attend(layout, layout, suffix_start, lookahead, suffix_open)[:, None]  # (B, 1, N, N)
    tokens = torch.tensor(sum(len(e.prefix) + len(e.span) + len(e.suffix) for e in examples))
    return {"input_ids": ids, "positions": position, "attn_mask": mask, "ar_target": ar_target,
            "span_target": span_target, "valid": valid, "tokens": tokens}


def block_loss(logits: torch.Tensor, batch: dict[str, torch.Tensor], context_weight: float = 0.5
               ) -> tuple[torch.Tensor, dict[str, float]]:
    """logits (B, N, V), raw (row i scores the token after it). Mean span CE + context_weight * mean next-token CE."""
    V = logits.shape[-1]
    flat = logits.float().reshape(-1, V)  # (B*N, V)
    span, context = (F.cross_entropy(flat, batch[name].reshape(-1), ignore_index=IGNORE, reduction="sum")
                     / (batch[name] != IGNORE).sum().clamp_min(1) for name in ("span_target", "ar_target"))
    return span + context_weight * context, {"span": span.item(), "context": context.item()}
