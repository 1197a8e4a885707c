"""Timers that synchronise the device (CUDA events) or use the wall clock on the CPU, and bandwidth."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def time_ms(fn: Callable[[], object], device: str, repeat: int = 10, warmup: int = 2) -> float:
    """Median milliseconds of fn() over `repeat` calls after `warmup`."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        sync(device)
        started = time.perf_counter()
        fn()
        sync(device)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def memory_bandwidth_gbs(device: str, megabytes: int) -> float:
    """A large device-to-device copy: (bytes read + bytes written) / time, in GB/s."""
    src = torch.empty(megabytes * 2**20, dtype=torch.uint8, device=device)
    src.fill_(1)
    dst = torch.empty_like(src)
    ms = time_ms(lambda: dst.copy_(src), device, repeat=10, warmup=3)
    return 2 * src.numel() / (ms / 1000) / 1e9
