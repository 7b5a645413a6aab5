"""A controllable clock for the core's lifetimes (sessions, signing keys)."""

from __future__ import annotations

import time

import pytest


class Clock:
    """doorkeep's wall clock under the test's control: `core.common.now_ms` (sessions,
    keys, single-use tokens) and the JWT verifier's expiry check. Lifetimes of minutes
    are tested without waiting for them. (The key reload cooldown uses the monotonic
    clock and is not moved.)"""

    def __init__(self) -> None:
        self.ms = int(time.time() * 1000)  # whole milliseconds, as doorkeep stores them

    def time(self) -> float:
        # Half a millisecond in: `int(time() * 1000)` gives back exactly `ms`, whatever
        # the rounding of the division.
        return (self.ms + 0.5) / 1000

    @property
    def now(self) -> float:
        """The time in seconds, as `time.time()` would give it."""
        return self.time()

    def advance(self, seconds: float) -> None:
        self.ms += round(seconds * 1000)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr("doorkeep.core.common.time", fake)
    monkeypatch.setattr("doorkeep.core.jwt._time", fake.time)
    return fake
