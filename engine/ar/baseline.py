"""ARCompleter: the prefix-only baseline's original call shape (model directory in, ARResult out).

The decoding itself is AREngine's (engine/ar/twin.py, fim=False): greedy, KV cache, the prefix's
last context_tokens tokens, a line-start cursor's first token forced to begin the line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from engine.ar.twin import AREngine
from engine.denoise.config import EngineConfig
from engine.denoise.params import DenoiseParams


@dataclass
class ARResult:
    text: str
    steps_done: int  # tokens generated
    timings_ms: dict[str, float] = field(default_factory=dict)


class ARCompleter:
    def __init__(self, model_dir: Path, device: str = "cpu", context_tokens: int = 384,
                 max_new_tokens: int = 48) -> None:
        self.engine = AREngine(EngineConfig(model_dir=model_dir, device=device,
                                            max_prefix_tokens=context_tokens), fim=False)
        self.loaded, self.model, self.tokenizer = self.engine.loaded, self.engine.model, self.engine.tokenizer
        self.max_new_tokens = max_new_tokens

    def complete(self, prefix: str, suffix: str = "", mode: str = "single") -> ARResult:
        """Greedy continuation of prefix; single mode returns one line (with its newline)."""
        request = self.engine.infill(prefix, suffix, DenoiseParams(mode=mode, span_tokens=self.max_new_tokens))
        return ARResult(request.text, len(request.span_ids), dict(request.timings_ms))
