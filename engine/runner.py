"""Runner: the only code that touches the device. Loads the model and runs forward passes."""

from __future__ import annotations

import torch

from engine.config import EngineConfig
from engine.kv_cache import KVCache
from engine.loader import LoadedModel, load_model_dir

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
