"""Runner: the only code that touches the device. Loads the model and runs forward passes."""

from __future__ import annotations

import torch

from engine.config import EngineConfig
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

    @torch.inference_mode()
    def span_logits(self, input_ids: torch.Tensor, start: int, length: int) -> torch.Tensor:
        """Full bidirectional pass; logits (B, length, V) for positions start..start+length."""
        logits = self.model.token_logits(input_ids)  # (B, L, V)
        return logits[:, start : start + length]

    @torch.inference_mode()
    def warm_up(self) -> None:
        self.span_logits(self.tensor([0] * 16), 1, 8)
