"""Pure tensor functions that decide, at each denoising step, which span positions to commit.

Sampler v1 (low-confidence remasking, LLaDA Alg. 1 / MaskGIT): at every step predict all masked
positions, keep the k most confident predictions, leave the rest masked. k follows a linear
schedule so that a span of L slots is fully committed after exactly K steps. The other strategies
(engine/denoise/strategies.py) reuse these pieces and change only the score or the selection.

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
SCORES = ("confidence", "margin", "entropy")


def num_to_commit(num_masked: int, steps_left: int) -> int:
    """Linear schedule: spread what is still masked evenly over the steps left (at least one)."""
    return max(1, -(-num_masked // max(steps_left, 1)))


def suffix_run(flags: torch.Tensor) -> torch.Tensor:
    """(B, L) bool -> (B, L) bool: True at j when flags[j:] are all True."""
    return flags.flip(-1).int().cumprod(-1).flip(-1).bool()


def gumbel_like(logits: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """g = -log(-log u), u ~ U(0, 1): standard Gumbel noise shaped like logits, from `generator`."""
    u = torch.rand(logits.shape, generator=generator, device=logits.device, dtype=torch.float32)
    return -torch.log((-torch.log(u.clamp_min(1e-10))).clamp_min(1e-10))


def allowed_logits(logits: torch.Tensor, banned_ids: torch.Tensor) -> torch.Tensor:
    """(B, L, V) float copy with banned ids at -inf: inputs stay intact."""
    return logits.float().index_fill(-1, banned_ids, float("-inf"))


def sampling_probs(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """p = softmax(logits / T) (T = 0: greedy, plain softmax). (B, L, V) -> (B, L, V)."""
    return torch.softmax(logits / temperature if temperature > 0 else logits, dim=-1)


def token_score(probs: torch.Tensor, tokens: torch.Tensor, score: str = "confidence") -> torch.Tensor:
    """How sure the model is of `tokens`; higher commits first. probs (B, L, V), tokens (B, L) -> (B, L).

    confidence: p(x)                        LLaDA (Nie et al. 2025), Alg. 1 low-confidence remasking
    margin:     p(x) - max_{v != x} p(v)    top-1 minus top-2 when x is the argmax: Kim et al. 2025,
                                            "Train for the Worst, Plan for the Best" (top-prob margin)
    entropy:    -H(p) = sum_v p(v) log p(v) Dream 7B (Ye et al. 2025), the "entropy" decoding order
    """
    p_tok = probs.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)  # (B, L)
    if score == "confidence":
        return p_tok
    if score == "margin":
        return p_tok - probs.scatter(-1, tokens.unsqueeze(-1), 0.0).amax(-1)
    if score == "entropy":
        return torch.special.xlogy(probs, probs).sum(-1)  # 0 log 0 = 0 for banned ids
    raise ValueError(f"score must be one of {SCORES}, got {score!r}")


def propose(
    logits: torch.Tensor,
    span_ids: torch.Tensor,
    masked: torch.Tensor,
    pad_id: int,
    banned_ids: torch.Tensor,
    temperature: float = 0.0,
    generator: torch.Generator | None = None,
    length: torch.Tensor | None = None,
    score: str = "confidence",
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Best allowed token and its score for every span position (pad only in the suffix run).

    logits: (B, L, V) span logits aligned to positions; banned_ids: (N,) ids never generated
    (mask, bos, ...; pad is handled by the pad rule); length: (B,) the span length estimated at an
    earlier step, None at the first. With temperature T > 0 the content token is drawn by Gumbel-max,
    x = argmax_v (l_v / T + g_v), g ~ Gumbel(0, 1) from `generator` (the Gumbel-max trick), scored
    under p = softmax(l / T). Returns tokens (B, L), the token_score (B, L) with -inf at positions
    already committed, and the length estimate (B,) to pass to the next step.
    """
    logits = allowed_logits(logits, banned_ids)
    probs = sampling_probs(logits, temperature)
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
    conf = token_score(probs, tokens, score)
    conf = conf.masked_fill(~masked, float("-inf"))
    return tokens, conf, length


def select_top_k(conf: torch.Tensor, masked: torch.Tensor, k: int) -> torch.Tensor:
    """(B, L) bool: the k highest-scoring masked positions of each row (fewer if fewer are masked).

    conf must be -inf where a position may not be chosen.
    """
    k = min(k, conf.shape[-1])
    if k <= 0:
        return torch.zeros_like(masked)
    chosen = conf.topk(k, dim=-1).indices  # (B, k)
    return torch.zeros_like(masked).scatter_(-1, chosen, True) & masked & (conf > float("-inf"))


def commit_selected(
    span_ids: torch.Tensor,
    masked: torch.Tensor,
    tokens: torch.Tensor,
    select: torch.Tensor,
    pad_id: int,
    window: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Write tokens at the selected masked positions; returns new (span_ids, masked).

    A chosen pad brings the masked pad run to its right along (inside `window`, (B, L) bool, when
    given), so pads stay a suffix: propose only puts pads in a run that reaches the span's end.
    """
    select = select & masked
    is_pad = masked & (tokens == pad_id)
    run = (select & is_pad).int().cummax(-1).values.bool() & masked  # (B, L)
    select = select | (run if window is None else run & window)
    return torch.where(select, tokens, span_ids), masked & ~select


def seal_after_pad(
    span_ids: torch.Tensor, masked: torch.Tensor, pad_id: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Once a pad is committed with nothing masked to its left, the text has ended: pad the rest.

    Only semi-autoregressive blocks leave masks right of a committed pad (a pad run is committed
    inside its block); elsewhere this is a no-op. (B, L) -> (B, L).
    """
    before_first_mask = masked.int().cummax(-1).values == 0  # (B, L)
    ended = (before_first_mask & ~masked & (span_ids == pad_id)).any(-1, keepdim=True)  # (B, 1)
    seal = masked & ended
    return torch.where(seal, torch.full_like(span_ids, pad_id), span_ids), masked & ~seal
