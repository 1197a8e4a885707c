"""Token scores: p(x_i | everything else) for tokens of a text, read from a masked diffusion model.

The objective only trains predictions at masked positions, so p(x_i | rest) is read by masking x_i:
row g of a batch masks the tokens i with i % G == g. G >= n (groups=None) is one row per token, the
exact pseudo-likelihood of Salazar et al. 2020 ("Masked Language Model Scoring", eq. 1); a smaller G
trades exactness for G forward passes instead of n.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from engine.denoise.engine import Cancelled
from engine.denoise.sampler import allowed_logits

MAX_ROWS = 16  # rows per forward: bounds activation memory for long selections


@dataclass
class Window:
    """The selection with its context cut to a budget, tokenized as one text."""

    text: str
    start: int
    end: int
    ids: list[int]
    offsets: list[tuple[int, int]]

    @property
    def selected(self) -> list[int]:
        """Indices of tokens overlapping the selection."""
        return [j for j, (a, b) in enumerate(self.offsets) if a < self.end and b > self.start]


def cut_context(engine, prefix: str, suffix: str, budget: tuple[int, int]) -> tuple[str, str]:
    """The last budget[0] tokens of prefix and the first budget[1] of suffix, at line boundaries."""
    hf = engine.tokenizer.hf
    before, after = budget
    offsets = hf.encode(prefix, add_special_tokens=False).offsets
    if len(offsets) > before:
        cut = offsets[len(offsets) - before][0]
        line = prefix.find("\n", cut)
        prefix = prefix[line + 1 :] if line >= 0 else prefix[cut:]
    offsets = hf.encode(suffix, add_special_tokens=False).offsets
    if len(offsets) > after:
        cut = offsets[after][0]
        line = suffix.rfind("\n", 0, cut)
        suffix = suffix[: line + 1] if line >= 0 else suffix[:cut]
    return prefix, suffix


def make_window(engine, prefix: str, selection: str, suffix: str, budget: tuple[int, int]) -> Window:
    """The selection with budget[0] tokens of context before it and budget[1] after, as one text."""
    prefix, suffix = cut_context(engine, prefix, suffix, budget)
    text = prefix + selection
    encoding = engine.tokenizer.hf.encode(text + suffix, add_special_tokens=False)
    return Window(text + suffix, len(prefix), len(text), list(encoding.ids), list(encoding.offsets))


@torch.inference_mode()
def token_probs(engine, ids: list[int], positions: list[int], groups: int | None = None,
                should_stop: Callable[[], bool] | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For each of positions in ids: p(ids[i] | the rest, i masked), the best token and its probability.

    Returns three (n,) tensors: probability of the original token, best allowed token, its probability.
    """
    runner, special = engine.runner, engine.special
    sequence, end = engine.sequence(ids, 0, [])  # the family's framing around the text
    row = runner.tensor(sequence)  # (1, T)
    slots = torch.tensor(positions, device=row.device) + end - len(ids)  # (n,)
    n, shift = len(positions), int(runner.loaded.args.shift_logits)
    first, last = int(slots.min()) - shift, int(slots.max()) - shift + 1  # raw logit rows that score them
    block_causal = runner.loaded.args.attention_layout == "block-causal"
    num_rows = n if block_causal else min(groups or n, n)  # a block-causal span is one slot here: exact only
    group_of = torch.arange(n, device=row.device) % num_rows  # (n,)
    banned = torch.cat([runner.banned_ids, runner.banned_ids.new_tensor([special.pad])])
    original = row[0, slots]  # (n,)
    p_orig = torch.zeros(n, device=row.device)
    best = torch.zeros(n, dtype=torch.long, device=row.device)
    p_best = torch.zeros(n, device=row.device)
    for g0 in range(0, num_rows, MAX_ROWS):
        if should_stop is not None and should_stop():
            raise Cancelled("scoring")
        rows = torch.arange(g0, min(g0 + MAX_ROWS, num_rows), device=row.device)  # (R,)
        masked = group_of[None, :] == rows[:, None]  # (R, n): row r masks the slots of its group
        batch = row.repeat(len(rows), 1)  # (R, T)
        batch[:, slots] = torch.where(masked, special.mask, batch[:, slots])
        r, j = masked.nonzero(as_tuple=True)  # each masked slot once: (row, slot index)
        if block_causal:  # row r masks slot j = g0 + r alone
            at = torch.softmax(allowed_logits(runner.slot_logits(batch, slots[j]), banned), dim=-1)  # (m, V)
        else:
            logits = runner.model(batch, keep=slice(first, last))  # (R, last - first, V)
            at = torch.softmax(allowed_logits(logits, banned), dim=-1)[r, slots[j] - shift - first]  # (m, V)
        p_orig[j] = at.gather(-1, original[j, None]).squeeze(-1)
        p_best[j], best[j] = at.max(-1)
    return p_orig, best, p_best
