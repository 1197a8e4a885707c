"""SpanRequest: one fill-in-the-middle request and the state of its denoising."""

from __future__ import annotations

import asyncio
import enum
import itertools
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any

from engine.denoise.params import DenoiseParams

_ids = itertools.count(1)


class RequestStatus(enum.Enum):
    WAITING = "waiting"
    RUNNING = "running"
    FINISHED = "finished"
    CANCELLED = "cancelled"


@contextmanager
def timed(totals: dict[str, float], name: str) -> Iterator[None]:
    """Add the block's wall time in ms to totals[name] (a request's stages, a server span's)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        totals[name] = totals.get(name, 0.0) + (time.perf_counter() - started) * 1000


def resolve_future(future: asyncio.Future, result: Any, error: Exception | None) -> None:
    """Settle an awaited future from a worker thread's answer (via loop.call_soon_threadsafe): the
    language server's bridge and a deployment replica's worker both answer their callers this way."""
    if future.done():  # the awaiting task was cancelled meanwhile
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


@dataclass
class SpanRequest:
    prefix: str
    suffix: str
    params: DenoiseParams = field(default_factory=DenoiseParams)
    request_id: str = field(default_factory=lambda: f"r{next(_ids)}")
    status: RequestStatus = RequestStatus.WAITING
    prefix_ids: list[int] = field(default_factory=list)
    suffix_ids: list[int] = field(default_factory=list)
    span_ids: list[int] = field(default_factory=list)  # the span after denoising (pads included)
    steps_done: int = 0
    num_masked: int = 0
    text: str = ""  # the completion, post-processed for the mode
    ended_line: bool = False  # the span broke the line before writing on it (single-line: nothing to insert)
    timings_ms: dict[str, float] = field(default_factory=dict)  # stage -> duration
    steps_ms: list[float] = field(default_factory=list)  # each denoising step, the first being prefill
    # The document this request completes in: its context keys/values may serve the next request of
    # the same document (across keystrokes). None: nothing is kept or reused.
    cache_key: str | None = None
    reused_tokens: int = 0  # context positions whose keys/values came from the previous request

    def stage(self, name: str) -> AbstractContextManager[None]:
        """Add the block's wall time to timings_ms[name]."""
        return timed(self.timings_ms, name)

    @property
    def latency_ms(self) -> float:
        return sum(self.timings_ms.values())
