"""Token healing's vocabulary side: the tokens that may open a span that must begin with a text.

engine/denoise/layout.py takes the prefix's last pre-token off (Layout.lead) and the span must write it
back. A token may fill the first slot not yet past the lead when its text starts with the lead
still to write (" radius" for " ", "area" for "ar"), or is a proper prefix of it ("\\n   " for
"\\n    "): the next slot then continues the rest (" return"). Guidance's token healing
(Lundberg 2023) for a left-to-right decoder; for a span denoised in any order, `constrain_span`
restricts one slot per step and `keep_lead` takes back a neighbour committed in the same step that
strays from the lead.

`Vocabulary` holds each id's text once per tokenizer, sorted, so "starts with" is one bisect and
"prefix of" one lookup per prefix length; the (V,) masks are cached per text.
"""

from __future__ import annotations

import dataclasses
from bisect import bisect_left
from collections.abc import Sequence

import torch

from engine.denoise.strategies import DenoiseState

MAX_CACHED_MASKS = 256


class Vocabulary:
    """Token texts (decode([id]) for every id; "" for special ids) and the masks healing needs."""

    def __init__(self, texts: Sequence[str], device: torch.device | str = "cpu") -> None:
        self.texts = tuple(texts)
        self.device = torch.device(device)
        pairs = sorted((text, i) for i, text in enumerate(self.texts) if text)
        self.sorted_texts = [text for text, _ in pairs]
        self.sorted_ids = [i for _, i in pairs]
        self._masks: dict[tuple[str, bool], torch.Tensor | None] = {}

    def starting_with(self, text: str) -> list[int]:
        """Ids whose text starts with text (text itself included)."""
        lo = bisect_left(self.sorted_texts, text)
        hi = bisect_left(self.sorted_texts, text + "\U0010ffff", lo)
        return self.sorted_ids[lo:hi]

    def prefixes_of(self, text: str) -> list[int]:
        """Ids whose text is a non-empty proper prefix of text."""
        found = []
        for k in range(1, len(text)):
            i = bisect_left(self.sorted_texts, text[:k])
            while i < len(self.sorted_texts) and self.sorted_texts[i] == text[:k]:
                found.append(self.sorted_ids[i])
                i += 1
        return found

    def allowed(self, text: str, prefixes: bool = True) -> torch.Tensor | None:
        """(V,) bool: tokens that may begin `text` (starting with it; with prefixes, also a proper
        prefix of it); None when no token may (the span is left free rather than left empty)."""
        key = (text, prefixes)
        if key not in self._masks:
            if len(self._masks) >= MAX_CACHED_MASKS:
                self._masks.clear()
            ids = self.starting_with(text) + (self.prefixes_of(text) if prefixes else [])
            mask = None
            if ids:
                mask = torch.zeros(len(self.texts), dtype=torch.bool, device=self.device)  # (V,)
                mask[torch.tensor(ids, device=self.device)] = True
            self._masks[key] = mask
        return self._masks[key]


@dataclasses.dataclass(frozen=True)
class LeadPosition:
    """How far a span's tokens, read from slot 0, have written the lead."""

    slot: int
    """The first slot past the written lead: where `rest` goes, or the first slot after the lead."""
    rest: str
    """Lead text still to write ("" once written)."""
    beyond: str = ""
    """Text the tokens wrote past the lead (the covering token's tail)."""
    strayed: bool = False
    """A committed token at `slot` disagrees with the lead (the span ended inside it, or a neighbour
    was committed in the same step as a token that covered only part of it)."""


def lead_position(lead: str, texts: Sequence[str | None]) -> LeadPosition:
    """Walk the slots' texts (None: still masked) from slot 0 against the lead."""
    rest = lead
    for slot, text in enumerate(texts):
        if not rest:
            return LeadPosition(slot, "")
        if text is None:
            return LeadPosition(slot, rest)
        if text.startswith(rest):
            return LeadPosition(slot + 1, "", text[len(rest):])
        if not text or not rest.startswith(text):
            return LeadPosition(slot, rest, strayed=True)
        rest = rest[len(text):]
    return LeadPosition(len(texts), rest)


def slot_texts(vocab: Vocabulary, state: DenoiseState, count: int) -> list[str | None]:
    """The first `count` slots' texts, None where masked (one small host copy)."""
    ids, masked = state.span[0, :count].tolist(), state.masked[0, :count].tolist()
    return [None if m else vocab.texts[i] for i, m in zip(ids, masked)]


def constrain_span(logits: torch.Tensor, state: DenoiseState, lead: str, vocab: Vocabulary,
                   last_step: bool, newline_first: torch.Tensor | None = None) -> None:
    """Restrict one row's span logits (1, L, V), in place, so that the span begins with `lead`.

    The slot the lead continues at may take a token that starts with the rest, or, while its right
    neighbour is still masked and another step will follow, one that covers only part of it.
    newline_first (V,), given for a single line at a line start: the first token past the lead may
    not break the line again while the line is still blank.
    """
    span_len = logits.shape[1]
    at = lead_position(lead, slot_texts(vocab, state, min(span_len, len(lead) + 2)))
    if at.strayed:
        return
    if at.rest and at.slot < span_len:
        after_open = at.slot + 1 < span_len and bool(state.masked[0, at.slot + 1])
        allowed = vocab.allowed(at.rest, prefixes=after_open and not last_step)
        if allowed is None:
            allowed = vocab.allowed(at.rest, prefixes=True)
        if allowed is not None:
            logits[:, at.slot] = logits[:, at.slot].masked_fill(~allowed, float("-inf"))
    line_slot = at.slot + 1 if at.rest else at.slot
    if newline_first is not None and not at.beyond.strip() and line_slot < span_len \
            and bool(state.masked[0, line_slot]):
        logits[:, line_slot] = logits[:, line_slot].masked_fill(newline_first, float("-inf"))


def keep_lead(before: DenoiseState, after: DenoiseState, lead: str, vocab: Vocabulary, pad_id: int,
              steps_left: int) -> DenoiseState:
    """Mask again a slot this step committed that strays from the lead (with a pad, its pad run), so
    that a later step writes the rest of the lead there; the last step's choice stands."""
    if not lead or not steps_left:
        return after
    count = min(after.span.shape[-1], len(lead) + 2)
    at = lead_position(lead, slot_texts(vocab, after, count))
    if not at.strayed or not bool(before.masked[0, at.slot]):
        return after
    take = torch.zeros_like(after.masked)  # (1, L)
    take[0, at.slot] = True
    if int(after.span[0, at.slot]) == pad_id:  # the pads committed with it (pads stay a suffix run)
        take[0, at.slot :] = (after.span[0, at.slot :] == pad_id) & before.masked[0, at.slot :]
    masked = after.masked | take
    span = torch.where(take, before.span, after.span)  # the mask id: these slots were masked before
    return dataclasses.replace(after, span=span, masked=masked, num_masked=int(masked.sum()))
