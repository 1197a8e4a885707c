"""ContextStore: the context keys/values of each document's last request, reused by its next one.

Typing one character changes the end of the prefix and nothing before it. The next request of the
same document then starts with the same tokens, and their keys/values need not be computed again:
only the positions from the first differing token on are (the prefix's tail, the span, the suffix).
In a causal model, and in the block-causal layout (prefix rows see only the prefix before them), this
is exact. Under full attention the reused keys/values were computed while those positions saw the
previous request's span and suffix: an approximation of the same kind as Fast-dLLM's dual cache.

Least recently used documents are dropped beyond `capacity`.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from engine.models.kv_cache import KVCache


@dataclass
class StoredContext:
    ids: list[int]
    """The token ids the cache holds keys/values for."""
    cache: KVCache
    """Keys/values of a batch of one, filled by a full (or partly reused) pass over ids."""


def common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


class ContextStore:
    def __init__(self, capacity: int, min_reused: int) -> None:
        self.capacity, self.min_reused = capacity, min_reused
        self.entries: OrderedDict[str, StoredContext] = OrderedDict()

    def take(self, key: str | None, ids: list[int], limit: int) -> tuple[StoredContext | None, int]:
        """The stored context for key and how many leading positions of ids it can serve (<= limit).

        The entry leaves the store: the request that takes it fills its own cache, kept afterwards.
        """
        entry = self.entries.pop(key, None) if key is not None else None
        if entry is None:
            return None, 0
        reuse = min(common_prefix(entry.ids, ids), limit)
        return (entry, reuse) if reuse >= self.min_reused else (None, 0)

    def keep(self, key: str | None, ids: list[int], cache: KVCache) -> None:
        if key is None or not self.capacity:
            return
        self.entries.pop(key, None)
        self.entries[key] = StoredContext(ids, cache)
        while len(self.entries) > self.capacity:
            self.entries.popitem(last=False)

    def drop(self, key: str) -> None:
        self.entries.pop(key, None)
