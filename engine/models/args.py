"""ModelArgs: the architecture of a model directory's config.json.

Field names follow Hugging Face's Qwen2/LLaMA configs so that their checkpoints load unchanged; the
diffusion-specific fields (shift_logits, mask_token_id) are extensions that those configs lack.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LAYOUTS = ("full", "block-causal")  # attention_layout; engine/models/attention_layout.py


@dataclass
class ModelArgs:
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int | None = None
    head_dim: int | None = None
    max_position_embeddings: int = 2048
    rms_norm_eps: float = 1e-6
    rope_theta: float = 10000.0
    tie_word_embeddings: bool = True
    attention_bias: bool = False
    # Qwen3: an RMSNorm over head_dim on every query and key head, before RoPE.
    qk_norm: bool = False
    model_type: str = "stipple"
    # True: the logit at position i predicts token i+1 (Dream, DiffuCoder; keeps an autoregressive
    # base's knowledge). False: position i predicts its own token (LLaDA, MDLM).
    shift_logits: bool = False
    bos_token_id: int | None = None
    eos_token_id: int | None = None
    pad_token_id: int | None = None
    mask_token_id: int | None = None
    # "full": every position sees every other (Dream, LLaDA, CoDA). "block-causal": causal context,
    # bidirectional span (engine/models/attention_layout.py), opened to span_view (1: fully).
    attention_layout: str = "full"
    span_view: float = 1.0
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.num_key_value_heads is None:
            self.num_key_value_heads = self.num_attention_heads
        if self.head_dim is None:
            if self.hidden_size % self.num_attention_heads:
                raise ValueError(
                    f"hidden_size {self.hidden_size} is not divisible by "
                    f"num_attention_heads {self.num_attention_heads}"
                )
            self.head_dim = self.hidden_size // self.num_attention_heads
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError(
                f"num_attention_heads {self.num_attention_heads} is not a multiple of "
                f"num_key_value_heads {self.num_key_value_heads}"
            )
        if self.attention_layout not in LAYOUTS:
            raise ValueError(f"attention_layout must be one of {LAYOUTS}, got {self.attention_layout!r}")
        if not 0.0 <= self.span_view <= 1.0:
            raise ValueError(f"span_view must be in [0, 1], got {self.span_view}")
        if self.attention_layout == "block-causal" and not self.shift_logits:
            raise ValueError("the block-causal layout predicts the span from the row before it: set shift_logits")
        for name in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> ModelArgs:
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        args = {k: v for k, v in config.items() if k in known}
        # Qwen2 configs imply q/k/v biases without naming them.
        if config.get("model_type") == "qwen2" and "attention_bias" not in config:
            args["attention_bias"] = True
        if isinstance(args.get("eos_token_id"), list):
            args["eos_token_id"] = args["eos_token_id"][0]
        extra = {k: v for k, v in config.items() if k not in known}
        return cls(**args, extra=extra)

    @classmethod
    def from_json(cls, path: Path) -> ModelArgs:
        try:
            config = json.loads(Path(path).read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON ({exc})") from exc
        try:
            return cls.from_dict(config)
        except TypeError as exc:
            raise ValueError(f"{path}: incomplete model config ({exc})") from exc

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        out.update(self.extra)
        return out

    @property
    def num_parameters(self) -> int:
        d, h, kv, hd = self.hidden_size, self.num_attention_heads, self.num_key_value_heads, self.head_dim
        attn = d * h * hd + 2 * d * kv * hd + h * hd * d
        if self.attention_bias:
            attn += h * hd + 2 * kv * hd
        mlp = 3 * d * self.intermediate_size
        layer = attn + mlp + 2 * d + (2 * hd if self.qk_norm else 0)
        embed = self.vocab_size * d * (1 if self.tie_word_embeddings else 2)
        return self.num_hidden_layers * layer + embed + d
