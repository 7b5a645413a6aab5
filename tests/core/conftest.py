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
        self.now = time.time()

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr("doorkeep.core.common.time", fake)
    monkeypatch.setattr("doorkeep.core.jwt._time", fake.time)
    return fake
