"""EngineConfig: one per process. Which model, on which device, in which dtype, with what budgets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from engine.denoise.params import DTYPES
from engine.weights.default_model import resolve_model


def cpu_bf16() -> bool:
    """Whether this CPU multiplies bf16 natively (AVX512-BF16 or AMX), about 4x its fp32 rate here."""
    return torch.backends.mkldnn.is_available() and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def default_dtype(device: str) -> str:
    """bf16 on GPUs and on CPUs with native bf16, else fp32 (smollm2-dllm, K = 32, 2 cores: 3.6 s -> 1.3 s)."""
    return "bfloat16" if device.startswith("cuda") or (device == "cpu" and cpu_bf16()) else "float32"


@dataclass
class EngineConfig:
    model_dir: Path | str | None = None  # a directory, or a shipped model's name; None: the default
    device: str = "auto"  # "auto" | "cpu" | "cuda" | "cuda:N"
    dtype: str = "auto"  # "auto" (default_dtype) | "float32" | "bfloat16" | "float16"
    max_prefix_tokens: int = 384
    max_suffix_tokens: int = 128
    max_span_tokens: int = 256
    num_threads: int | None = None  # torch CPU threads; None keeps torch's default
    cuda_graphs: bool = True  # on CUDA: replay the cached denoising step from CUDA graphs (cuda_graphs.py)
    reuse_documents: int = 4  # documents whose context keys/values are kept for their next request
    min_reused_tokens: int = 16  # a shorter common prefix is recomputed rather than reused
    # Left-to-right decoding mixed with a next-token model's view (engine/denoise/guide.py): "auto" takes
    # the guide the model's config.json names (smollm2-block: its base), None or "none" none, else a model.
    guide: str | None = "auto"
    guide_weight: float = 0.5  # w in (1 - w) log p_span + w log p_guide

    def __post_init__(self) -> None:
        self.model_dir = resolve_model(self.model_dir)
        if self.device == "auto":
            self.device = "cuda" if torch.cuda.is_available() else "cpu"
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"device {self.device!r} requested but CUDA is not available")
        if self.dtype == "auto":
            self.dtype = default_dtype(self.device)
        if self.dtype not in DTYPES[1:]:
            raise ValueError(f"dtype must be one of {DTYPES}, got {self.dtype!r}")
        for name in ("max_prefix_tokens", "max_suffix_tokens", "max_span_tokens", "reuse_documents",
                     "min_reused_tokens"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if self.max_span_tokens < 1:
            raise ValueError("max_span_tokens must be >= 1")
        if self.guide == "none":
            self.guide = None
        if not 0.0 < self.guide_weight < 1.0:
            raise ValueError(f"guide_weight must lie in (0, 1), got {self.guide_weight}")

    @property
    def torch_dtype(self) -> torch.dtype:
        return getattr(torch, self.dtype)
