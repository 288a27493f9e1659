"""A least-recently-used cache bounded by bytes (thread-safe).

A result stored at one location never changes, so a decoded result can be kept
and served again; the bound is on an estimate of the memory each entry holds.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["ByteLRU", "CacheStats"]

V = TypeVar("V")


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    bytes: int = 0
    entries: int = 0
    evictions: int = 0


class ByteLRU(Generic[V]):
    """``get``/``put`` with the total of entry sizes kept under ``max_bytes``.

    An entry larger than the whole budget is not stored; ``max_bytes=0`` turns
    the cache off.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.stats = CacheStats()
        self._data: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            item = self._data.get(key)
            if item is None:
                self.stats.misses += 1
                return None
            self._data.move_to_end(key)
            self.stats.hits += 1
            return item[0]

    def put(self, key: Hashable, value: V, size: int) -> None:
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self.stats.bytes -= old[1]
            self._data[key] = (value, size)
            self.stats.bytes += size
            while self.stats.bytes > self.max_bytes and self._data:
                _, (_, dropped) = self._data.popitem(last=False)
                self.stats.bytes -= dropped
                self.stats.evictions += 1
            self.stats.entries = len(self._data)

    def __len__(self) -> int:
        return len(self._data)
