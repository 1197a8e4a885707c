"""The autoregressive twin's objective: FIM in PSM order at rate 0.5, plain next-token loss.

Bavarian et al. 2022 (FIM, sec. 3-4): with probability fim_rate a document is cut into prefix /
middle / suffix and trained as `<fim_prefix> P <fim_suffix> S <fim_middle> M <eos>` (engine/ar/fim.py);
otherwise a window of the plain document stream is trained as it is. The loss is cross-entropy of
every next token under causal attention, on the FIM and the plain sequences alike.

To make the comparison with the diffusion adaptation honest, the cuts are the diffusion objective's
own (`objective.cut_middle`: whole-line middles, line breaks healed as at inference) and the
prefix/suffix truncation follows the same rule; only the layout and the loss differ.
"""

from __future__ import annotations

import random

import torch
import torch.nn.functional as F

from engine.ar.fim import FimTokens, psm_ids
from engine.train.objective import cut_middle
from engine.weights.tokenizer import Tokenizer

IGNORE = -100  # F.cross_entropy's ignore_index: positions with no next token to predict


def fim_sequence(
    text: str, tokenizer: Tokenizer, fim: FimTokens, rng: random.Random, seq_len: int,
    max_middle_lines: int = 8,
) -> list[int] | None:
    """One PSM training sequence of at most seq_len tokens; None if text is too short or the middle too long."""
    pieces = cut_middle(text, tokenizer, rng, max_middle_lines)
    if pieces is None:
        return None
    prefix_text, middle, suffix_text = pieces
    middle.append(fim.end)
    room = seq_len - len(psm_ids(fim, [], [])) - len(middle)
    if room < 8:
        return None
    suffix = tokenizer.encode(suffix_text[: 8 * room])[: rng.randint(room // 4, room // 2)]
    prefix = tokenizer.encode(prefix_text[-8 * room :])
    prefix = prefix[max(0, len(prefix) - (room - len(suffix))) :]
    return psm_ids(fim, prefix, suffix) + middle


def draw_sequences(
    texts: list[str], stream: list[int], tokenizer: Tokenizer, fim: FimTokens, rng: random.Random,
    batch_size: int, seq_len: int, fim_rate: float,
) -> list[list[int]]:
    """A batch: FIM sequences with probability fim_rate, else seq_len-token windows of the stream."""
    sequences: list[list[int]] = []
    while len(sequences) < batch_size:
        if rng.random() < fim_rate:
            sequence = fim_sequence(rng.choice(texts), tokenizer, fim, rng, seq_len)
            if sequence is None:
                continue
        else:
            start = rng.randint(0, max(0, len(stream) - seq_len))
            sequence = stream[start : start + seq_len]
        sequences.append(sequence)
    return sequences


def collate(sequences: list[list[int]], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad to the longest; targets[i] = ids[i + 1] (IGNORE past each row's end)."""
    B, L = len(sequences), max(len(s) for s in sequences)
    input_ids = torch.full((B, L), pad_id, dtype=torch.long)
    targets = torch.full((B, L), IGNORE, dtype=torch.long)
    valid = torch.zeros((B, L), dtype=torch.bool)
    for row, ids in enumerate(sequences):
        n = len(ids)
        input_ids[row, :n] = torch.tensor(ids)
        targets[row, : n - 1] = torch.tensor(ids[1:], dtype=torch.long)
        valid[row, :n] = True
    return {"input_ids": input_ids, "targets": targets, "valid": valid}


def next_token_loss(logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """logits: (B, L, V) raw, position i scoring token i + 1. Mean CE over every predicted token."""
    B, L, V = logits.shape
    return F.cross_entropy(logits.float().reshape(B * L, V), batch["targets"].reshape(B * L),
                           ignore_index=IGNORE)
