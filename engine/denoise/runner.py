"""Runner: the only code that touches the device. Loads the model and runs forward passes."""

from __future__ import annotations

import torch

from engine.denoise.config import EngineConfig
from engine.models.kv_cache import KVCache
from engine.models.attention_layout import PREFIX, SPAN, SUFFIX, Rows, may_attend, openings, sequence_rows
from engine.models.transformer import Placement
from engine.weights.loader import LoadedModel, load_model_dir

SINGLE_THREAD_PARAMETERS = 30_000_000  # below this, the CPU runs one torch thread unless told otherwise


class Runner:
    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        if config.num_threads:
            torch.set_num_threads(config.num_threads)
        self.device = torch.device(config.device)
        self.loaded: LoadedModel = load_model_dir(config.model_dir, self.device, config.torch_dtype)
        if not config.num_threads and self.device.type == "cpu" \
                and self.loaded.args.num_parameters < SINGLE_THREAD_PARAMETERS:
            # A small model's matmuls are too small to split: a second thread only adds barrier waits,
            # which turn into seconds when another process holds the other core (measured: the tiny
            # model's demo 81 ms on one thread, 7.5 s on two beside a busy process).
            torch.set_num_threads(1)
        self.model = self.loaded.model
        self.banned_ids = torch.tensor(
            sorted(self.loaded.tokenizer.special.ids - {self.loaded.tokenizer.special.pad}),
            dtype=torch.long, device=self.device,
        )

    def tensor(self, ids: list[int] | list[list[int]]) -> torch.Tensor:
        rows = ids if ids and isinstance(ids[0], list) else [ids]
        return torch.tensor(rows, dtype=torch.long, device=self.device)  # (B, L)

    def new_cache(self, length: int, batch: int = 1) -> KVCache:
        return KVCache(self.loaded.args, batch, length, self.device, self.config.torch_dtype)

    @torch.inference_mode()
    def span_logits(
        self,
        input_ids: torch.Tensor,
        start: int,
        length: int,
        cache: KVCache | None = None,
        refresh: bool = True,
        reuse_from: int = 0,
        key_valid: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits (B, length, V) aligned to span positions start..start+length.

        Without a cache, or with refresh, the whole sequence is recomputed (and cached). Otherwise
        only the span is, attending to the context keys/values cached at the last refresh: the
        dual-cache approximation of Fast-dLLM (Wu et al. 2025, sec. 3.2). reuse_from > 0 makes a
        refresh keep the cached positions before it (an earlier request's context, across
        keystrokes) and recompute the rest. key_valid (B, T) bool marks real tokens in a padded
        batch; padding is never attended to.
        """
        if self.loaded.args.attention_layout == "block-causal":
            if cache is None:  # exact either way: the context is recomputed at every step
                cache, refresh = self.new_cache(input_ids.shape[1], input_ids.shape[0]), True
            return self.block_span_logits(input_ids, start, length, cache, refresh, reuse_from, key_valid)
        first = start - int(self.loaded.args.shift_logits)  # raw row that scores the first slot
        assert 0 <= reuse_from <= first, f"reuse_from {reuse_from} must lie in the context before {first}"
        mask = None if key_valid is None else key_valid[:, None, None, :]  # (B, 1, 1, T)
        if cache is None or (refresh and not reuse_from):
            if cache is not None:
                cache.attend_len = None
            return self.model(input_ids, attn_mask=mask, cache=cache, keep=slice(first, first + length))
        cache.attend_len = input_ids.shape[1]
        # A refresh recomputes everything from reuse_from (the suffix too); a cached step the span only.
        begin, end = (reuse_from, input_ids.shape[1]) if refresh else (first, start + length)
        try:
            piece = input_ids[:, begin:end]  # (B, recomputed positions)
            return self.model(piece, attn_mask=mask, cache=cache, start=begin,
                              keep=slice(first - begin, first - begin + length))
        finally:
            cache.attend_len = None

    def block_span_logits(self, input_ids: torch.Tensor, start: int, length: int, cache: KVCache,
                          refresh: bool, reuse_from: int, key_valid: torch.Tensor | None) -> torch.Tensor:
        """Raw logits (B, length, V) of a block-causal step (engine/models/attention_layout.py).

        A refresh (the request's first step) also computes the context rows the cache lacks: the prefix
        from reuse_from on (causal) and the suffix (prefix + earlier suffix). Their keys/values are
        exact, never touched again, and a later request of the same document may reuse the prefix's.
        Every step computes the span block: the anchor copy (the last context position, a query only:
        with shifted logits it scores slot 0) and the span slots.
        """
        B, T = input_ids.shape
        device = input_ids.device
        context = torch.cat([torch.arange(reuse_from, start), torch.arange(start + length, T)]) if refresh \
            else torch.zeros(0, dtype=torch.long)
        positions = torch.cat([context, torch.arange(start - 1, start + length)]).to(device)  # (Q,)
        store = torch.ones(len(positions), dtype=torch.bool, device=device)
        store[len(context)] = False  # the anchor copy: the context's anchor keeps its keys/values
        queries = sequence_rows(positions, start, length, None, B, block_from=len(context))
        keys = sequence_rows(torch.arange(T, device=device), start, length, key_valid, B)
        suffix_len = keys.is_key[:, start + length :].sum(-1)  # (B,)
        lookahead, suffix_open = openings(self.loaded.args.span_view, length, suffix_len)
        suffix_start = torch.full((B,), start + length, device=device)
        mask = may_attend(queries, keys, suffix_start, lookahead, suffix_open)[:, None]  # (B, 1, Q, T)
        cache.attend_len = T
        try:
            return self.model(input_ids[:, positions], attn_mask=mask, cache=cache,
                              placed=Placement(positions, store), keep=slice(len(context), len(context) + length))
        finally:
            cache.attend_len = None

    @torch.inference_mode()
    def prefill_prefix(self, input_ids: torch.Tensor, begin: int, end: int, start: int, length: int,
                       cache: KVCache) -> None:
        """Block-causal: store the exact keys/values of prefix positions [begin, end) (causal rows over the
        cached [0, begin)), no logits. The engine prefills a long prefix in such pieces so that a request
        can be cancelled between them and keep what it computed (engine/denoise/engine.py)."""
        B, T = input_ids.shape
        positions = torch.arange(begin, end, device=input_ids.device)  # (Q,)
        queries = sequence_rows(positions, start, length, None, B)
        keys = sequence_rows(torch.arange(T, device=input_ids.device), start, length, None, B)
        none = torch.zeros(B, dtype=torch.long, device=input_ids.device)  # prefix rows never see a span or suffix
        mask = may_attend(queries, keys, none + start + length, none, none)[:, None]  # (B, 1, Q, T)
        cache.attend_len = T
        try:
            self.model(input_ids[:, positions], attn_mask=mask, cache=cache,
                       placed=Placement(positions, torch.ones_like(positions, dtype=torch.bool)), keep=slice(0, 0))
        finally:
            cache.attend_len = None

    @torch.inference_mode()
    def slot_logits(self, input_ids: torch.Tensor, slots: torch.Tensor) -> torch.Tensor:
        """Raw logits (R, V) that score token slots[r] of row r, each row a block-causal sequence whose span
        is that one (masked) slot: an anchor copy of position slots[r] - 1 is appended as the span block's
        query. input_ids (R, T), slots (R,) >= 1. What token scoring (p(x_i | rest)) reads."""
        R, T = input_ids.shape
        device = input_ids.device
        anchor = slots - 1  # (R,)
        tokens = torch.cat([input_ids, input_ids.gather(1, anchor[:, None])], 1)  # (R, T + 1)
        position = torch.cat([torch.arange(T, device=device).expand(R, T), anchor[:, None]], 1)  # (R, T + 1)
        at = slots[:, None]
        region = torch.where(position < at, PREFIX, torch.where(position == at, SPAN, SUFFIX))
        region[:, T] = SPAN
        is_key = torch.ones_like(position, dtype=torch.bool)
        is_key[:, T] = False
        rows = Rows(position, region, position - at, torch.zeros_like(position), is_key)
        lookahead, suffix_open = openings(self.loaded.args.span_view, 1, T - slots - 1)
        mask = may_attend(rows, rows, slots + 1, lookahead, suffix_open)[:, None]  # (R, 1, T + 1, T + 1)
        return self.model(tokens, attn_mask=mask, positions=position, keep=slice(T, T + 1))[:, 0]  # (R, V)
