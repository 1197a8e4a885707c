"""DenoiseParams: how one request is denoised (steps, span length, strategy, sampling)."""

from __future__ import annotations

from dataclasses import dataclass

STRATEGIES = ("confidence",)
MODES = ("single", "multi")
DEFAULT_SPAN_TOKENS = {"single": 32, "multi": 96}


@dataclass
class DenoiseParams:
    steps: int = 16
    strategy: str = "confidence"
    mode: str = "multi"  # "single": the completion ends at the first newline
    span_tokens: int | None = None  # mask slots; None: DEFAULT_SPAN_TOKENS[mode]
    temperature: float = 0.0  # 0: greedy
    context_cache: bool = True  # recompute only the span after the first step (Fast-dLLM)
    refresh_every: int = 0  # with the cache: recompute everything every n steps (0: never; 1: exact)
    allow_pad: bool = True  # False: every slot is content (the span length is known, e.g. an oracle)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {self.strategy!r}")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.span_tokens is None:
            self.span_tokens = DEFAULT_SPAN_TOKENS[self.mode]
        if self.span_tokens < 1:
            raise ValueError(f"span_tokens must be >= 1, got {self.span_tokens}")
        if self.refresh_every < 0:
            raise ValueError(f"refresh_every must be >= 0, got {self.refresh_every}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
