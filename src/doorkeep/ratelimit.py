"""A per-key sliding-window limit, in process memory.

Used for failed attempts on one account (change password). Limits shared by
several doorkeep instances (database or Redis counters) belong here too when
they come; the interface stays `hit` / `reset`.
"""

from __future__ import annotations

import time
from collections import deque


class RateLimiter:
    def __init__(self, limit: int, window_seconds: float, *, max_keys: int = 100_000) -> None:
        if limit < 1 or window_seconds <= 0:
            raise ValueError("limit must be >= 1 and window_seconds > 0")
        self.limit = limit
        self.window = window_seconds
        self.max_keys = max_keys
        self._hits: dict[str, deque[float]] = {}

    def retry_after(self, key: str) -> float | None:
        """Seconds to wait if `key` is over its limit now, else None (records nothing)."""
        hits = self._recent(key)
        if hits is not None and len(hits) >= self.limit:
            return max(0.0, hits[0] + self.window - time.monotonic())
        return None

    def hit(self, key: str) -> None:
        """Record one event (e.g. a failed attempt) for `key`."""
        hits = self._recent(key)
        if hits is None:
            if len(self._hits) >= self.max_keys:  # bound memory: forget the oldest keys
                for old in list(self._hits)[: self.max_keys // 10]:
                    del self._hits[old]
            hits = self._hits[key] = deque()
        hits.append(time.monotonic())

    def reset(self, key: str) -> None:
        self._hits.pop(key, None)

    def _recent(self, key: str) -> deque[float] | None:
        hits = self._hits.get(key)
        if hits is not None:
            cutoff = time.monotonic() - self.window
            while hits and hits[0] <= cutoff:
                hits.popleft()
        return hits
