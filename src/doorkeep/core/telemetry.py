"""How long things take and how often they happen, recorded off the hot path.

The core times sign-ins, refreshes and (sampled) session verifications here, and counts
the statements it sends the database; `GET /metrics` (web/metrics.py) reads it all at
scrape time. Recording takes no lock: each thread adds to cells of its own (a thread
makes its cell once, under a lock, the first time it records), and a scrape sums the
cells. Verification is the hottest path of all (a cached in-memory check of about a
microsecond), so only one verification in `VERIFY_SAMPLE_EVERY` is timed.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

# Upper bounds of the buckets (seconds); the last bucket is everything above.
FAST_BUCKETS = (0.000_005, 0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.001, 0.01, 0.1)
SLOW_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
VERIFY_SAMPLE_EVERY = 16  # a power of two


class _Cell:
    __slots__ = ("counts", "sum")

    def __init__(self, size: int) -> None:
        self.counts = [0] * size
        self.sum = 0.0


@dataclass(frozen=True)
class HistogramSnapshot:
    """Cumulative counts per upper bound (the last is +Inf), their sum and count."""

    bounds: tuple[float, ...]
    cumulative: tuple[int, ...]
    sum: float

    @property
    def count(self) -> int:
        return self.cumulative[-1] if self.cumulative else 0


class Histogram:
    """Observations into fixed buckets, per thread; `sampled()` says whether to time this
    call (every `every`-th call; 0: never, when timing is off)."""

    def __init__(self, name: str, bounds: Sequence[float], *, every: int = 1) -> None:
        if every and every & (every - 1):
            raise ValueError("every must be a power of two (or 0)")
        self.name = name
        self.bounds = tuple(bounds)
        self._mask = every - 1 if every else -1
        self._ticks = 0
        self._local = threading.local()
        self._cells: list[_Cell] = []
        self._lock = threading.Lock()

    def sampled(self) -> bool:
        # Racy across threads on purpose: a lost tick only moves which call is timed.
        self._ticks = ticks = self._ticks + 1
        return self._mask >= 0 and ticks & self._mask == 0

    def observe(self, seconds: float) -> None:
        cell: _Cell | None = getattr(self._local, "cell", None)
        if cell is None:
            cell = self._new_cell()
        cell.counts[bisect_left(self.bounds, seconds)] += 1
        cell.sum += seconds

    def _new_cell(self) -> _Cell:
        cell = _Cell(len(self.bounds) + 1)
        with self._lock:
            self._cells.append(cell)
        self._local.cell = cell
        return cell

    def snapshot(self) -> HistogramSnapshot:
        with self._lock:
            cells = list(self._cells)
        counts = [0] * (len(self.bounds) + 1)
        total = 0.0
        for cell in cells:
            for i, n in enumerate(cell.counts):
                counts[i] += n
            total += cell.sum
        cumulative, running = [], 0
        for n in counts:
            running += n
            cumulative.append(running)
        return HistogramSnapshot(self.bounds, tuple(cumulative), total)


class Counter:
    """A count, per thread (no lock when counting)."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._cells: list[list[int]] = []
        self._lock = threading.Lock()

    def add(self, n: int = 1) -> None:
        cell: list[int] | None = getattr(self._local, "cell", None)
        if cell is None:
            cell = [0]
            with self._lock:
                self._cells.append(cell)
            self._local.cell = cell
        cell[0] += n

    @property
    def value(self) -> int:
        with self._lock:
            return sum(cell[0] for cell in self._cells)


class Telemetry:
    """Everything the core records for metrics. `enabled=False` times nothing."""

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled
        every = 1 if enabled else 0
        self.sign_in = Histogram("sign_in", SLOW_BUCKETS, every=every)
        self.refresh = Histogram("session_refresh", SLOW_BUCKETS, every=every)
        self.verify = Histogram(
            "session_verify", FAST_BUCKETS, every=VERIFY_SAMPLE_EVERY if enabled else 0
        )
        self.statements = Counter()
        self._engines: list[Engine] = []

    def count_statements(self, engine: Engine) -> None:
        """Count every statement `engine` sends (the test of "no read per request")."""
        if not self.enabled or engine in self._engines:
            return
        self._engines.append(engine)
        event.listen(engine, "before_cursor_execute", self._statement)

    def _statement(self, *_args: Any) -> None:
        self.statements.add()
