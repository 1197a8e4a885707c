"""Guide: the plain base's next-token view, mixed into left-to-right block-causal decoding.

The block-causal default decodes one slot a step from left to right (block_length 1). Its adapter
sees the suffix, but it saw few training tokens, and where the prefix alone decides the line the
pretrained base it was adapted from is still the better predictor. The guide runs that base beside
the span, autoregressively: its KV cache holds the prefix and then each token the span commits (one
new row a step, the cost of one autoregressive token). The slot decoded next is scored by the
product of the two experts (Hinton 2002), a weighted sum of log-probabilities:

    log p(x) = (1 - w) log p_span(x | prefix, span, suffix) + w log p_base(x | prefix, span so far)

so a token wins where the two agree, and the suffix still vetoes what does not fit it. Pad keeps the
span's probability (the base has no pad; the span alone decides where the text ends).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import torch

from engine.models.kv_cache import KVCache
from engine.weights.loader import load_model_dir


@dataclass
class GuideState:
    """One request's base-side view: the ids it wants, the ids whose keys/values its cache holds."""

    cache: KVCache
    prefix: list[int]
    fed: list[int] = field(default_factory=list)
    logprobs: torch.Tensor | None = None  # (V,) after the last id in fed


class Guide:
    def __init__(self, model_dir: Path | str, device: torch.device, dtype: torch.dtype, weight: float,
                 documents: int = 4) -> None:
        if not 0.0 < weight < 1.0:
            raise ValueError(f"guide weight must lie in (0, 1), got {weight}")
        self.loaded = load_model_dir(model_dir, device, dtype)
        if not self.loaded.args.shift_logits:
            raise ValueError(f"{model_dir}: a guide must be a next-token (shift_logits) model")
        self.model, self.weight, self.device, self.dtype = self.loaded.model, weight, device, dtype
        special = self.loaded.tokenizer.special
        self.document_start = special.eos if special.eos is not None else special.bos
        self.documents = documents
        self.kept: OrderedDict[str, GuideState] = OrderedDict()  # cache_key -> the last request's state

    def start(self, prefix_ids: list[int], span_len: int, cache_key: str | None = None) -> GuideState:
        """A request's state; a document's previous state lends its cache, whose positions up to where the
        two prefixes part stay exact (causal), so the next keystroke computes only what changed."""
        prefix = prefix_ids or [self.document_start]
        kept = self.kept.pop(cache_key, None) if cache_key is not None else None
        if kept is not None and kept.cache.max_len >= len(prefix) + span_len:
            state = GuideState(kept.cache, prefix, kept.fed)
        else:
            state = GuideState(KVCache(self.loaded.args, 1, len(prefix) + span_len + 64, self.device, self.dtype),
                               prefix)
        if cache_key is not None:
            self.kept[cache_key] = state
            while len(self.kept) > self.documents:
                self.kept.popitem(last=False)
        return state

    def forget(self, cache_key: str) -> None:
        self.kept.pop(cache_key, None)

    @torch.inference_mode()
    def next_logprobs(self, state: GuideState, written: list[int]) -> torch.Tensor:
        """(V,) float log-probabilities of the token after the prefix and the span's written ids; only the
        positions the cache lacks are computed (from where the ids part from those it holds)."""
        want = state.prefix + written
        same = 0
        while same < min(len(want), len(state.fed)) and want[same] == state.fed[same]:
            same += 1
        if state.logprobs is not None and same == len(want) == len(state.fed):
            return state.logprobs
        begin = min(same, len(want) - 1)  # at least one row: the logits after the last id
        ids = torch.tensor([want[begin:]], dtype=torch.long, device=self.device)  # (1, L)
        logits = self.model(ids, causal=True, cache=state.cache, start=begin, keep=slice(-1, None))[0, -1]
        state.fed, state.logprobs = want, logits.float().log_softmax(-1)
        return state.logprobs

    def mix(self, span_logits: torch.Tensor, base_logprobs: torch.Tensor, pad_id: int) -> torch.Tensor:
        """span_logits (V,) raw -> (V,) mixed log-probabilities, pad's kept from the span."""
        span = span_logits.float().log_softmax(-1)
        mixed = (1 - self.weight) * span + self.weight * base_logprobs[: span.shape[0]]
        mixed[pad_id] = span[pad_id]
        return mixed
