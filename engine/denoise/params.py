"""DenoiseParams: how one request is denoised (steps, span length, strategy, sampling)."""

from __future__ import annotations

from dataclasses import dataclass

# confidence/margin/entropy: a fixed linear schedule ranked by that score (exactly K steps);
# threshold: commit every slot whose confidence exceeds `threshold` (at most K steps). See strategies.py.
STRATEGIES = ("confidence", "margin", "entropy", "threshold")
MODES = ("single", "multi")
# How completions are generated: the masked-diffusion Engine, or an autoregressive model through the
# same interface (engine/ar/twin.py): the FIM twin, or a next-token model from the prefix only.
COMPLETERS = ("diffusion", "ar-fim", "ar-prefix")
DTYPES = ("auto", "float32", "bfloat16", "float16")  # EngineConfig.dtype
DEFAULT_SPAN_TOKENS = {"single": 32, "multi": 96}
REMASK_DEFAULT_FRACTION = 4  # remask=True: at most span_tokens // 4 take-backs per request


@dataclass
class DenoiseParams:
    steps: int = 16  # the fixed schedules take exactly K steps (fewer if the span has < K slots)
    strategy: str = "confidence"
    mode: str = "multi"  # "single": the completion ends at the first newline
    span_tokens: int | None = None  # mask slots; None: DEFAULT_SPAN_TOKENS[mode]
    temperature: float = 0.0  # 0: greedy
    context_cache: bool = True  # recompute only the span after the first step (Fast-dLLM)
    refresh_every: int = 0  # with the cache: recompute everything every n steps (0: never; 1: exact)
    reuse_context: bool = True  # with a cache_key: reuse the previous request's context keys/values
    allow_pad: bool = True  # False: every slot is content (the span length is known, e.g. an oracle)
    heal_cursor: bool = True  # token healing: the prefix's last pre-token moves into the span (layout.py)
    seed: int = 0
    threshold: float = 0.9  # "threshold": commit every masked slot with p(token) > threshold
    block_length: int | None = None  # semi-autoregressive blocks of this many slots; None: one block
    remask: bool | int = False  # take back committed tokens below remask_floor: True or a budget
    remask_floor: float = 0.3  # a committed token whose current probability is below this may be re-masked

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
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {self.threshold}")
        if self.block_length is not None and self.block_length < 1:
            raise ValueError(f"block_length must be >= 1 or None, got {self.block_length}")
        if not isinstance(self.remask, (bool, int)) or self.remask < 0:
            raise ValueError(f"remask must be a bool or a budget >= 0, got {self.remask!r}")
        if not 0.0 < self.remask_floor <= 1.0:
            raise ValueError(f"remask_floor must be in (0, 1], got {self.remask_floor}")

    def remask_budget(self, span_len: int) -> int:
        """How many committed tokens one request may take back in all (0: remasking is off)."""
        if isinstance(self.remask, bool):
            return max(1, span_len // REMASK_DEFAULT_FRACTION) if self.remask else 0
        return self.remask
