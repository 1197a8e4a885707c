"""Triton kernels for the denoising step, each beside its launcher and a torch reference.

`span_stats` (one fused pass over the vocabulary: most likely token, its probability, the runner-up's,
entropy, log-normaliser) and `span_attention` (span queries over the cached context, split-K) run
Triton on CUDA tensors when Triton imports, and their torch reference everywhere else, so the CPU
path needs neither a GPU nor Triton. TRITON_INTERPRET=1 runs the Triton code on the CPU (tests).
"""

from __future__ import annotations

import functools
import os


@functools.cache
def triton_importable() -> bool:
    """Triton imports (it is a Linux x86-64 dependency; the CPU torch wheel does not pull it)."""
    try:
        import triton  # noqa: F401
        import triton.language  # noqa: F401
    except Exception:  # ImportError, or a broken install on an exotic platform
        return False
    return True


def interpreting() -> bool:
    """TRITON_INTERPRET=1: Triton kernels run on CPU tensors through the interpreter."""
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


@functools.cache
def sm_count(device) -> int:
    """Streaming multiprocessors of a CUDA device: how many programs keep it busy (split-K sizing)."""
    import torch

    return torch.cuda.get_device_properties(device).multi_processor_count


def available(device) -> bool:
    """Whether the Triton kernels can run on tensors of `device` (a torch.device or str)."""
    kind = getattr(device, "type", str(device).split(":")[0])
    return triton_importable() and (kind == "cuda" or (kind == "cpu" and interpreting()))


from engine.kernels.span_attention import span_attention, span_attention_reference  # noqa: E402
from engine.kernels.span_stats import SpanStats, span_stats, span_stats_reference  # noqa: E402

__all__ = ["SpanStats", "available", "span_attention", "span_attention_reference", "span_stats",
           "span_stats_reference", "triton_importable"]
