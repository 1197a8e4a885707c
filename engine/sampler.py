"""Pure tensor functions that decide, at each denoising step, which span positions to commit.

Sampler v1 (low-confidence remasking, LLaDA Alg. 1 / MaskGIT): at every step predict all masked
positions, keep the k most confident predictions, leave the rest masked. k follows a linear
schedule so that a span of L slots is fully committed after exactly K steps.

The pad rule. A span has more slots than the text needs; its tail is trained to be pad. Pad is the
easiest thing to predict, so a plain most-confident-first sampler commits pads everywhere first and
returns an empty line. Here the span's length is estimated once, at the first step, as the model's
expected number of content positions, n = round(sum_j (1 - p_j(pad))), and may later only grow (when
content is committed beyond it). Pad is allowed at positions >= n, or anywhere the model is sure of
it (p(pad) > STRONG_PAD), and only in a run that reaches the span's end (pads grow as a suffix,
right to left); committing a pad commits that run to its right with it. Anywhere else a position
competes with its best content token and that token's probability.
"""

from __future__ import annotations

import torch

STRONG_PAD = 0.9


def num_to_commit(num_masked: int, steps_left: int) -> int:
    """Linear schedule: spread what is still masked evenly over the steps left (at least one)."""
    return max(1, -(-num_masked // max(steps_left, 1)))


def suffix_run(flags: torch.Tensor) -> torch.Tensor:
    """(B, L) bool -> (B, L) bool: True at j when flags[j:] are all True."""
    return flags.flip(-1).int().cumprod(-1).flip(-1).bool()


def gumbel_like(logits: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    u = torch.rand(logits.shape, generator=generator, device=logits.device, dtype=torch.float32)
    return -torch.log(-torch.log(u.clamp_min(1e-10)).clamp_min(1e-10))


def propose(
    logits: torch.Tensor,
    span_ids: torch.Tensor,
    masked: torch.Tensor,
    pad_id: int,
    banned_ids: torch.Tensor,
    temperature: float = 0.0,
    generator: torch.Generator | None = None,
    length: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Best allowed token and its probability for every span position (pad only in the suffix run).

    logits: (B, L, V) span logits aligned to positions; banned_ids: (N,) ids never generated
    (mask, bos, ...; pad is handled by the pad rule); length: (B,) the span length estimated at an
    earlier step, None at the first. Returns tokens (B, L), confidence (B, L) with -inf at positions
    already committed, and the length estimate (B,) to pass to the next step.
    """
    logits = logits.float().index_fill(-1, banned_ids, float("-inf"))  # a copy: inputs stay intact
    probs = torch.softmax(logits / max(temperature, 1e-6) if temperature > 0 else logits, dim=-1)
    content_logits = logits.clone()
    content_logits[..., pad_id] = float("-inf")
    if temperature > 0:
        content_logits = content_logits / temperature + gumbel_like(content_logits, generator)
    content_tok = content_logits.argmax(-1)  # (B, L)
    content_conf = probs.gather(-1, content_tok.unsqueeze(-1)).squeeze(-1)  # (B, L)
    pad_conf = probs[..., pad_id]  # (B, L)
    committed_pad = ~masked & (span_ids == pad_id)
    committed_content = ~masked & (span_ids != pad_id)
    positions = torch.arange(span_ids.shape[-1], device=span_ids.device)  # (L,)
    if length is None:
        content_mass = torch.where(masked, 1.0 - pad_conf, committed_content.float())  # (B, L)
        length = content_mass.sum(-1).round().long()  # (B,)
    last_content = torch.where(committed_content, positions, -1).max(-1).values + 1  # (B,)
    length = torch.maximum(length, last_content)
    pad_allowed = (positions >= length[:, None]) | (pad_conf > STRONG_PAD)
    prefers_pad = masked & pad_allowed & (pad_conf > content_conf)
    use_pad = suffix_run(prefers_pad | committed_pad) & masked
    tokens = torch.where(use_pad, torch.full_like(content_tok, pad_id), content_tok)
    conf = torch.where(use_pad, pad_conf, content_conf)
    conf = conf.masked_fill(~masked, float("-inf"))
    return tokens, conf, length


def commit_most_confident(
    span_ids: torch.Tensor,
    masked: torch.Tensor,
    tokens: torch.Tensor,
    conf: torch.Tensor,
    num_to_commit: int,
    pad_id: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Commit the num_to_commit most confident masked positions of each row.

    A chosen pad brings the masked pad run to its right along, so pads stay a suffix.
    Returns new (span_ids, masked); committed positions are never touched again.
    """
    k = min(num_to_commit, int(masked.sum(-1).min()))
    if k <= 0:
        return span_ids, masked
    chosen = conf.topk(k, dim=-1).indices  # (B, k)
    select = torch.zeros_like(masked).scatter_(-1, chosen, True) & masked
    is_pad = masked & (tokens == pad_id)
    # Everything right of the leftmost chosen pad is in the pad run (propose guarantees it).
    select |= (select & is_pad).int().cummax(-1).values.bool() & masked
    return torch.where(select, tokens, span_ids), masked & ~select
