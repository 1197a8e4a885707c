"""Denoising strategies: one step of the loop, composed from the pure functions in sampler.py.

A step: propose (a token and a score for every masked slot, under the pad rule) -> select the slots
to commit inside the active block -> commit them (a pad brings its run) -> seal (a finished prefix
that ends in pad ends the text) -> optionally take back committed tokens the model no longer backs.

Selection (DenoiseParams.strategy):
- confidence / margin / entropy: the linear schedule k = ceil(m / s) over the active block's m
  masked slots and its s steps left, ranked by that score (sampler.token_score). A span takes
  exactly K steps when every block has at least as many slots as steps.
- threshold: confidence-aware parallel decoding (Fast-dLLM, Wu et al. 2025, sec. 3.3): commit
  every masked slot i with p_i(x_i) > tau. The schedule's top-k is the floor (so at least one slot
  per step), which keeps K an upper bound that still ends with no mask; easy spans finish early.
  With blocks of one slot (left to right, the block-causal default's order) the step commits the
  leftmost masked slot and then the run of content slots right after it, in order, while each clears
  tau: the order that decodes well is kept, and a step writes several tokens where the model is sure
  of them (`)`, `:`, the end of a name) without ever skipping ahead of a slot it is unsure of.

Semi-autoregressive blocks (LLaDA's semi-AR remasking, Nie et al. 2025): the span is cut into
blocks of block_length slots, decoded left to right; block b (of N) owns steps up to
E_b = floor(K (b + 1) / N) and only its slots are committed until it is complete. Blocks are widened
to ceil(L / K) slots when there are more blocks than steps. A pad committed inside a block brings
its run to the block's end; the blocks after it are sealed as pad once the block is complete.

Remasking (in the spirit of ReMDM-conf, Wang et al. 2025): after the commit, up to the budget left,
content tokens committed at earlier steps of the active block whose probability under this step's
logits is below remask_floor are masked again, least probable first. Never on a block's last step
and never once the block is complete, so blocks still end by E_b and the span by K with no mask;
pads are never taken back, so they stay a suffix run. The objective trains predictions at masked
slots only, so this probability is the model's untrained view of an unmasked slot: a heuristic.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from engine.denoise import sampler
from engine.denoise.params import DenoiseParams


@dataclass
class DenoiseState:
    """One request's span between steps (a batch of one: the schedule is kept in host ints)."""

    span: torch.Tensor  # (1, L) ids; the mask id at masked slots
    masked: torch.Tensor  # (1, L) bool
    num_masked: int
    steps_done: int = 0
    length: torch.Tensor | None = None  # the pad rule's span-length estimate (1,), set at step 0
    remask_left: int = 0  # take-backs still allowed
    num_remasked: int = 0  # take-backs so far


def initial_state(span: torch.Tensor, params: DenoiseParams) -> DenoiseState:
    """span: (1, L), all mask ids."""
    assert span.dim() == 2 and span.shape[0] == 1, f"expected a (1, L) span, got {tuple(span.shape)}"
    masked = torch.ones_like(span, dtype=torch.bool)  # (1, L)
    length = span.shape[-1]
    return DenoiseState(span, masked, length, remask_left=params.remask_budget(length))


def block_length_for(span_len: int, block_length: int | None, steps: int) -> int:
    """Slots per block: block_length (None: the whole span), widened so there are at most K blocks."""
    block = min(block_length or span_len, span_len)
    if -(-span_len // block) > steps:
        block = -(-span_len // steps)
    return block


def remask_low_probability(
    span_ids: torch.Tensor,
    masked: torch.Tensor,
    prob: torch.Tensor,
    eligible: torch.Tensor,
    floor: float,
    budget: int,
    pad_id: int,
) -> torch.Tensor:
    """(B, L) bool: at most `budget` eligible committed content slots with prob < floor, lowest first.

    prob: (B, L) the current probability of each slot's committed token.
    """
    candidates = eligible & ~masked & (span_ids != pad_id) & (prob < floor)
    return sampler.select_top_k((-prob).masked_fill(~candidates, float("-inf")), candidates, budget)


def confident_run(conf: torch.Tensor, masked: torch.Tensor, tokens: torch.Tensor, slot: int, tau: float,
                  pad_id: int) -> torch.Tensor:
    """(1, L) bool: the masked content slots right after `slot`, in order, up to the first that does not
    clear tau (conf (1, L) the token scores, tokens (1, L) the proposals)."""
    sure = masked & (conf > tau) & (tokens != pad_id)  # (1, L)
    after = torch.arange(conf.shape[-1], device=conf.device) > slot  # (L,)
    return (sure | ~after).int().cumprod(-1).bool() & after


def denoise_step(
    logits: torch.Tensor,
    state: DenoiseState,
    params: DenoiseParams,
    pad_id: int,
    mask_id: int,
    banned_ids: torch.Tensor,
    generator: torch.Generator | None = None,
) -> DenoiseState:
    """One denoising step: logits (1, L, V) for the span as it stands -> the next state."""
    span, masked = state.span, state.masked
    assert logits.shape[:2] == span.shape, f"logits {tuple(logits.shape)} vs span {tuple(span.shape)}"
    span_len = span.shape[-1]
    block_len = block_length_for(span_len, params.block_length, params.steps)
    num_blocks = -(-span_len // block_len)
    block_of = torch.arange(span_len, device=span.device) // block_len  # (L,)
    per_block = torch.zeros(num_blocks, dtype=torch.long, device=span.device)
    per_block = per_block.index_add_(0, block_of, masked[0].long()).tolist()  # the step's host sync
    block = next(b for b, n in enumerate(per_block) if n)
    block_end = params.steps * (block + 1) // num_blocks
    window = (block_of == block).unsqueeze(0)  # (1, L)

    score = "confidence" if params.strategy == "threshold" else params.strategy
    tokens, conf, length = sampler.propose(logits, span, masked, pad_id, banned_ids, params.temperature,
                                           generator, state.length, score)
    in_window = conf.masked_fill(~window, float("-inf"))  # (1, L)
    k = sampler.num_to_commit(per_block[block], block_end - state.steps_done)
    select = sampler.select_top_k(in_window, masked, k)
    if params.strategy == "threshold" and block_len == 1:
        select |= confident_run(conf, masked, tokens, block, params.threshold, pad_id)
    elif params.strategy == "threshold":
        select |= masked & (in_window > params.threshold)
    new_span, new_masked = sampler.commit_selected(span, masked, tokens, select, pad_id, window)
    new_span, new_masked = sampler.seal_after_pad(new_span, new_masked, pad_id)

    remask_left, num_remasked = state.remask_left, state.num_remasked
    if remask_left and state.steps_done + 1 < block_end and bool((new_masked & window).any()):
        probs = sampler.sampling_probs(sampler.allowed_logits(logits, banned_ids), params.temperature)
        prob = probs.gather(-1, span.unsqueeze(-1)).squeeze(-1)  # (1, L)
        eligible = window & ~masked  # committed before this step, so `logits` saw them
        take = remask_low_probability(new_span, new_masked, prob, eligible, params.remask_floor,
                                      remask_left, pad_id)
        new_span = new_span.masked_fill(take, mask_id)
        new_masked = new_masked | take
        taken = int(take.sum())
        remask_left, num_remasked = remask_left - taken, num_remasked + taken
    return DenoiseState(new_span, new_masked, int(new_masked.sum()), state.steps_done + 1, length,
                        remask_left, num_remasked)


def seal(state: DenoiseState, pad_id: int) -> DenoiseState:
    """End the denoising: every slot still masked becomes pad (the text is settled before them)."""
    span = state.span.masked_fill(state.masked, pad_id)
    return DenoiseState(span, torch.zeros_like(state.masked), 0, state.steps_done, state.length,
                        state.remask_left, state.num_remasked)
