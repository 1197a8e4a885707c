"""Memory budget: what a model needs on a device, what the device has free, and a clear refusal.

A 7B model in bfloat16 needs ~15 GiB; finding out by an out-of-memory crash halfway through a
load (or by the OS killing the editor's language server) is the failure this module prevents.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from engine.weights.checkpoint import ModelDirError

GiB = 2**30
# Beyond the weights: activations of a 2k-token window, the span's logits, the context cache.
WORKING_FRACTION = 0.10
WORKING_FLOOR = 64 * 2**20


class InsufficientMemoryError(ModelDirError):
    """The model does not fit in the device's free memory; the message says how much is missing."""


def bytes_needed(num_parameters: int, dtype: torch.dtype) -> int:
    weights = num_parameters * torch.empty((), dtype=dtype).element_size()
    return weights + max(int(weights * WORKING_FRACTION), WORKING_FLOOR)


def available_bytes(device: str | torch.device) -> int | None:
    """Free memory on the device, or None when it cannot be known."""
    device = torch.device(device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            return None
        free, _total = torch.cuda.mem_get_info(device.index or 0)
        return int(free)
    if device.type == "cpu":
        return cpu_available_bytes()
    return None


def cpu_available_bytes() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_fits(num_parameters: int, dtype: torch.dtype, device: str | torch.device, what: str) -> None:
    """Raise InsufficientMemoryError if `what` cannot be loaded on device in dtype."""
    need = bytes_needed(num_parameters, dtype)
    free = available_bytes(device)
    if free is not None and need > free:
        raise InsufficientMemoryError(
            f"{what}: {num_parameters / 1e9:.2f}B parameters need {need / GiB:.1f} GiB in "
            f"{str(dtype).removeprefix('torch.')} on {device}, which has {free / GiB:.1f} GiB free; "
            "free memory, choose another --device, or use a smaller model"
        )
