"""The training objective: masked diffusion (MDLM/MD4) mixed with span-length-teaching FIM.

Masked diffusion (Sahoo et al. 2024, MDLM eq. 10; Shi et al. 2024, MD4): draw t ~ U(0, 1] per
sequence, replace each token by [mask] with probability t, and minimise
    E_t [ (1/t) * sum_{masked i} -log p(x_i | x_t) ] / n
the ELBO's continuous-time form with the linear schedule alpha_t = 1 - t.

FIM with pad fillers (this project): a contiguous middle of whole lines is replaced by L >= len(middle)
slots, the middle's tokens followed by pads. The same mask-ratio draw applies to the slots only; the
context stays visible, exactly as at inference. This is what teaches the model where a span ends.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from engine.denoise.layout import heal, heal_middle
from engine.weights.tokenizer import Tokenizer

MIN_MASK_RATIO = 1e-3


@dataclass
class Example:
    """One training sequence before masking."""

    ids: list[int]  # [bos] + tokens, unmasked truth (pads in the span tail)
    maskable: list[bool]  # positions the noise may hide and the loss scores


def mdlm_example(window: list[int], bos: int | None) -> Example:
    head = [bos] if bos is not None else []
    return Example(head + window, [False] * len(head) + [True] * len(window))


def span_slots(middle_len: int, rng: random.Random, buckets: tuple[int, ...]) -> int:
    """Slot count for a middle: half the time the inference bucket it falls in, else len + slack."""
    fitting = [b for b in buckets if b >= middle_len]
    if fitting and rng.random() < 0.5:
        return fitting[0]
    return middle_len + rng.randint(0, max(1, middle_len))


def cut_at_lines(text: str, rng: random.Random, max_middle_lines: int = 8) -> tuple[str, str, str] | None:
    """Cut text into (prefix, middle, suffix) at line boundaries, line breaks healed; None if too short.

    The middle is whole lines (15% of the time it begins inside its first line). Shared with the
    autoregressive twin's objective (engine/train/ar_objective.py): both models see the same cuts.
    """
    lines = text.splitlines(keepends=True)
    if len(lines) < 3:
        return None
    n_mid = 1 if rng.random() < 0.5 else rng.randint(1, min(max_middle_lines, len(lines) - 2))
    start = rng.randint(1, len(lines) - n_mid - 1) if rng.random() < 0.95 else 0
    prefix_text = "".join(lines[:start])
    middle_text = "".join(lines[start : start + n_mid])
    suffix_text = "".join(lines[start + n_mid :])
    if rng.random() < 0.15:  # cursor mid-line: the middle begins inside the line
        cut = rng.randint(0, len(middle_text.rstrip("\n")))
        prefix_text, middle_text = prefix_text + middle_text[:cut], middle_text[cut:]
    layout = heal(prefix_text, suffix_text)  # the same line-break rule as at inference
    return layout.prefix, heal_middle(middle_text, layout), layout.suffix


def cut_middle(text: str, tokenizer: Tokenizer, rng: random.Random, max_middle_lines: int
               ) -> tuple[str, list[int], str] | None:
    """cut_at_lines, with the middle tokenized: (prefix text, middle ids, suffix text), or None."""
    pieces = cut_at_lines(text, rng, max_middle_lines)
    if pieces is None:
        return None
    prefix_text, middle_text, suffix_text = pieces
    middle = tokenizer.encode(middle_text)
    return (prefix_text, middle, suffix_text) if middle else None


def fim_example(
    text: str,
    tokenizer: Tokenizer,
    rng: random.Random,
    seq_len: int,
    buckets: tuple[int, ...] = (32, 96),
    max_middle_lines: int = 8,
) -> Example | None:
    """Cut text at line boundaries into prefix / middle / suffix; None if text is too short."""
    pieces = cut_middle(text, tokenizer, rng, max_middle_lines)
    if pieces is None:
        return None
    prefix_text, middle, suffix_text = pieces
    slots = span_slots(len(middle), rng, buckets)
    head = [tokenizer.special.bos] if tokenizer.special.bos is not None else []
    room = seq_len - len(head) - slots
    if room < 8:
        return None
    suffix = tokenizer.encode(suffix_text[: 8 * room])[: rng.randint(room // 4, room // 2)]
    prefix = tokenizer.encode(prefix_text[-8 * room :])
    prefix = prefix[max(0, len(prefix) - (room - len(suffix))) :]
    span = middle + [tokenizer.special.pad] * (slots - len(middle))
    ids = head + prefix + span + suffix
    maskable = [False] * (len(head) + len(prefix)) + [True] * len(span) + [False] * len(suffix)
    return Example(ids, maskable)


def collate(
    examples: list[Example], pad_id: int, mask_id: int, generator: torch.Generator
) -> dict[str, torch.Tensor]:
    """Right-pad to the longest example, draw t per row, mask. Padding is hidden from attention."""
    B, L = len(examples), max(len(e.ids) for e in examples)
    targets = torch.full((B, L), pad_id, dtype=torch.long)
    maskable = torch.zeros((B, L), dtype=torch.bool)
    valid = torch.zeros((B, L), dtype=torch.bool)
    for row, example in enumerate(examples):
        n = len(example.ids)
        targets[row, :n] = torch.tensor(example.ids)
        maskable[row, :n] = torch.tensor(example.maskable)
        valid[row, :n] = True
    t = torch.rand((B, 1), generator=generator).clamp_min(MIN_MASK_RATIO)  # (B, 1)
    noise = torch.rand((B, L), generator=generator)  # (B, L)
    masked = maskable & (noise < t)
    # At least one masked position per row, so every row contributes to the loss.
    first = maskable.float().argmax(-1)  # (B,)
    none = ~masked.any(-1) & maskable.any(-1)
    masked[none, first[none]] = True
    input_ids = torch.where(masked, torch.full_like(targets, mask_id), targets)
    return {"input_ids": input_ids, "targets": targets, "masked": masked,
            "maskable": maskable, "valid": valid, "t": t}


def attention_mask(valid: torch.Tensor, causal_fraction: float = 0.0) -> torch.Tensor:
    """(B, L) valid -> (B, 1, L, L) may-attend mask; padding keys hidden.

    causal_fraction in [0, 1] anneals from causal to full attention (DiffuLLaMA): a query may see
    future keys only within a window that grows as causal_fraction falls to 0.
    """
    B, L = valid.shape
    allowed = valid[:, None, None, :].expand(B, 1, L, L).clone()  # (B, 1, L, L)
    if causal_fraction > 0:
        q = torch.arange(L, device=valid.device)[:, None]
        k = torch.arange(L, device=valid.device)[None, :]
        lookahead = int(round((1.0 - causal_fraction) * L))
        allowed &= (k <= q + lookahead)[None, None]
    # A padding query with no visible key would give NaN; let it see itself.
    allowed |= torch.eye(L, dtype=torch.bool, device=valid.device)[None, None]
    return allowed


def masked_diffusion_loss(logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """logits: (B, L, V) aligned to positions. Per row: sum_masked CE / t / n_maskable; mean over rows."""
    B, L, V = logits.shape
    ce = F.cross_entropy(logits.float().reshape(B * L, V), batch["targets"].reshape(B * L),
                         reduction="none").view(B, L)  # (B, L)
    weighted = (ce * batch["masked"]).sum(-1) / batch["t"].squeeze(-1)  # (B,)
    return (weighted / batch["maskable"].sum(-1).clamp_min(1)).mean()
