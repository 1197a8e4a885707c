"""Scheduler: which waiting requests run together. Keeps books only; never imports torch.

Requests from several documents or editors wait here; the engine's worker takes a batch at a time:
the oldest waiting request and, in arrival order, every other waiting one that can share its
forward passes (the same batch key: span length and cache settings, see engine.denoise.engine.batch_key),
up to max_batch. Cancelled requests are dropped without running. A request that arrives while a
batch runs waits for the next one: a running batch's context cache was filled for its own rows.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Hashable, Protocol


class Schedulable(Protocol):
    @property
    def batch_key(self) -> Hashable: ...

    @property
    def cancelled(self) -> bool: ...


class Scheduler:
    def __init__(self, max_batch: int = 8) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        self.max_batch = max_batch
        self._waiting: deque[Schedulable] = deque()
        self._lock = threading.Lock()  # add() runs on the event loop, next_batch() on the worker

    def add(self, item: Schedulable) -> None:
        with self._lock:
            self._waiting.append(item)

    @property
    def num_waiting(self) -> int:
        return len(self._waiting)

    def next_batch(self) -> list[Schedulable]:
        """Take the next batch off the queue (empty when nothing live is waiting)."""
        with self._lock:
            live = [item for item in self._waiting if not item.cancelled]
            if not live:
                self._waiting.clear()
                return []
            key = live[0].batch_key
            batch = [item for item in live if item.batch_key == key][: self.max_batch]
            chosen = {id(item) for item in batch}
            self._waiting = deque(item for item in live if id(item) not in chosen)
            return batch
