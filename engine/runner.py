"""Runner: the only code that touches the device. Loads the model and runs forward passes."""

from __future__ import annotations

import torch

from engine.config import EngineConfig
from engine.kv_cache import KVCache
from engine.loader import LoadedModel, load_model_dir


class Runner:
    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        if config.num_threads:
            torch.set_num_threads(config.num_threads)
        self.device = torch.device(config.device)
        self.loaded: LoadedModel = load_model_dir(config.model_dir, self.device, config.torch_dtype)
        self.model = self.loaded.model
        self.banned_ids = torch.tensor(
            sorted(self.loaded.tokenizer.special.ids - {self.loaded.tokenizer.special.pad}),
            dtype=torch.long, device=self.device,
        )

    def tensor(self, ids: list[int]) -> torch.Tensor:
        return torch.tensor([ids], dtype=torch.long, device=self.device)  # (1, L)

    def new_cache(self, length: int) -> KVCache:
        return KVCache(self.loaded.args, 1, length, self.device, self.config.torch_dtype)

    @torch.inference_mode()
    def span_logits(
        self,
        input_ids: torch.Tensor,
        start: int,
        length: int,
        cache: KVCache | None = None,
        refresh: bool = True,
    ) -> torch.Tensor:
        """Logits (B, length, V) aligned to span positions start..start+length.

        Without a cache, or with refresh, the whole sequence is recomputed (and cached). Otherwise
        only the span is, attending to the context keys/values cached at the last refresh: the
        dual-cache approximation of Fast-dLLM (Wu et al. 2025, sec. 3.2).
        """
        first = start - int(self.loaded.args.shift_logits)  # raw row that scores the first slot
        if cache is None or refresh:
            if cache is not None:
                cache.attend_len = None
            return self.model(input_ids, cache=cache, keep=slice(first, first + length))
        cache.attend_len = input_ids.shape[1]
        try:
            piece = input_ids[:, first : start + length]  # (B, shift + length)
            return self.model(piece, cache=cache, start=first, keep=slice(0, length))
        finally:
            cache.attend_len = None
