"""Rate-limit windows (ratelimit.py) on SQLite, PostgreSQL and Redis: a window counts
attempts from its first one, refuses with the time left in it, ends after exactly
`window_seconds` and starts again at one; a success resets only its own counters.
Written against the survivors of the mutation run of `ratelimit.py` (docs/security.md):
no test let a window end before."""

from __future__ import annotations

import asyncio
import os
import time
import uuid

import pytest

from doorkeep import Doorkeep, Settings
from doorkeep.core.events import Event, EventKind, Events
from doorkeep.ratelimit import DatabaseCounters, Limit, RateLimiter, RedisCounters, counter_key
from tests.core.conftest import Clock

REDIS_URL = os.environ.get("DOORKEEP_TEST_REDIS_URL")


def key(kind: str) -> str:
    return counter_key(kind, uuid.uuid4().hex)  # Redis counters outlive a test


async def test_a_database_window_counts_refuses_and_ends_on_time(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Controlled clock. Fails if the time left is miscounted (units, sign), if a
    window ending exactly now is not over (`window_start < started_before`), or if a
    new window does not start again at one."""
    clock = Clock()
    monkeypatch.setattr("doorkeep.ratelimit.time", clock)
    async with Doorkeep(Settings(database_url=database_url)) as dk:
        heard: list[Event] = []
        events = Events()
        events.subscribe(heard.append, [EventKind.RATE_LIMITED])
        limiter = RateLimiter(DatabaseCounters(dk.core.db), events=events)
        guesses, other = key("sign-in-ip"), key("reset-ip")
        limit = Limit(2, 60)
        assert [await limiter.attempt((guesses, limit)) for _ in range(2)] == [None, None]
        assert await limiter.attempt((guesses, limit), (other, Limit(5, 60))) == 60.0
        clock.advance(30)
        assert await limiter.attempt((guesses, limit)) == 30.0  # the time left, not a new 60
        assert [e.limit for e in heard] == ["sign-in-ip", "sign-in-ip"]  # type: ignore[attr-defined]
        clock.advance(30)  # exactly 60 s after the window's first attempt: it is over
        assert [await limiter.attempt((guesses, limit)) for _ in range(3)] == [None, None, 60.0]
        # A success resets its own counters only.
        await limiter.succeeded(guesses)
        assert await limiter.attempt((guesses, limit)) is None
        assert await dk.limiter.store.count(other) == 1  # type: ignore[attr-defined]


@pytest.mark.skipif(not REDIS_URL, reason="needs DOORKEEP_TEST_REDIS_URL")
async def test_a_redis_window_ends_after_its_first_attempt_not_its_last() -> None:
    """Redis keeps the window in a key's expiry (real time, a 1 s window). Fails if
    every attempt pushed the expiry back (mutant: `expire(..., nx=False)`): a steady
    trickle of attempts would then never see the window end."""
    assert REDIS_URL is not None
    store = RedisCounters(REDIS_URL)
    try:
        limiter = RateLimiter(store)
        counter, limit = key("sign-in-ip"), Limit(2, 1)
        first = time.monotonic()
        assert await limiter.attempt((counter, limit)) is None
        await asyncio.sleep(0.6)
        assert await limiter.attempt((counter, limit)) is None
        await asyncio.sleep(max(0.0, first + 1.1 - time.monotonic()))
        # The window began at the first attempt and is over: counting starts again.
        assert await limiter.attempt((counter, limit)) is None
    finally:
        await store.close()


async def test_a_limiter_counts_unless_disabled(database_url: str) -> None:
    """Enabled unless told otherwise; a disabled limiter neither counts nor resets;
    a refusal with no event bus given still answers."""
    async with Doorkeep(Settings(database_url=database_url)) as dk:
        store = DatabaseCounters(dk.core.db)
        counter = key("sign-up-ip")
        assert await RateLimiter(store).attempt((counter, Limit(0, 60))) is not None
        await RateLimiter(store, enabled=False).succeeded(counter)
        assert await store.count(counter) == 1


def test_counter_keys_do_not_collide_across_parts() -> None:
    """The parts of a key are joined with a separator no email or IP holds."""
    assert counter_key("k", "a b", "c") != counter_key("k", "a", "b c")
    assert counter_key("k", "ab", "c") != counter_key("k", "a", "bc")


@pytest.mark.skipif(not REDIS_URL, reason="needs DOORKEEP_TEST_REDIS_URL")
async def test_a_redis_refusal_tells_the_time_left_in_its_window() -> None:
    """The wait comes from the counter's own expiry, in seconds (mutants: the reply of
    another counter, milliseconds taken for seconds)."""
    assert REDIS_URL is not None
    store = RedisCounters(REDIS_URL)
    try:
        limiter = RateLimiter(store)
        first, second = key("reset-ip"), key("reset-account")
        assert await limiter.attempt((first, Limit(1, 60)), (second, Limit(5, 600))) is None
        wait = await limiter.attempt((first, Limit(1, 60)), (second, Limit(5, 600)))
        assert wait is not None and 50 < wait <= 60
    finally:
        await store.close()
