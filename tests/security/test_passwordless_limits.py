"""Passwordless abuse limits (issue 17, item 3): a phone number (or address) gets a
handful of codes an hour whatever IP asks and however it is spelt, resends share that
budget and wait a cool-down per device, consuming is limited per IP. Counted in the
database (SQLite, PostgreSQL) and in Redis, atomically: of parallel requests at most
the limit pass."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from doorkeep.ratelimit import (
    DatabaseCounters,
    RateLimitConfig,
    RateLimiter,
    RedisCounters,
    passwordless_code_checks,
    passwordless_consume_checks,
    passwordless_contact,
    passwordless_resend_checks,
)
from doorkeep.storage import Database

REDIS_URL = os.environ.get("DOORKEEP_TEST_REDIS_URL")
LIMITS = RateLimitConfig()


def spellings(digits: str) -> list[str]:
    """One US number (10 digits) in four spellings: one budget."""
    a, b, c = digits[:3], digits[3:6], digits[6:]
    return [f"+1{digits}", f"+1 {a} {b} {c}", f"+1 ({a}) {b}-{c}", f" +1-{a}-{b}-{c} "]


def fresh_number() -> str:
    return f"4152{uuid.uuid4().int % 1_000_000:06d}"  # San Francisco: valid, and new each run


@pytest.fixture(params=["sqlite", "postgresql", "redis"])
async def limiter(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[RateLimiter]:
    """Counters in the database (a migrated SQLite file, PostgreSQL) or in Redis."""
    if request.param == "redis":
        if not REDIS_URL:
            pytest.skip("Redis tests need DOORKEEP_TEST_REDIS_URL, e.g. redis://127.0.0.1:6379/0")
        counters = RedisCounters(REDIS_URL)
        yield RateLimiter(counters)
        await counters.close()
        return
    if request.param == "sqlite":
        path = tmp_path / "limits.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_database")
    db = Database(url)
    yield RateLimiter(DatabaseCounters(db))
    await db.dispose()


def unique_ip() -> str:
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"


async def test_a_number_gets_a_handful_of_codes_an_hour_from_any_ip(limiter: RateLimiter) -> None:
    """Mutant tried: keying the contact counter by the raw input (not E.164) lets the
    four spellings below through twice as often: fails here."""
    number = spellings(fresh_number())
    assert LIMITS.passwordless_code_per_contact.limit == 5
    assert LIMITS.passwordless_code_per_contact.window_seconds == 3600
    waits = []
    for n in range(8):  # a fresh IP each time: the per-IP limit never bites
        contact = passwordless_contact(phone_number=number[n % 4])
        waits.append(await limiter.attempt(*passwordless_code_checks(LIMITS, contact, unique_ip())))
    assert [w is None for w in waits] == [True] * 5 + [False] * 3
    assert all(w is not None and 3500 < w <= 3600 for w in waits[5:])


async def test_the_contact_key_is_the_stored_form() -> None:
    keys = {passwordless_contact(phone_number=s) for s in spellings("4155552671")}
    assert keys == {"phone:+14155552671"}
    assert passwordless_contact(email=" Ada@Example.COM") == "email:ada@example.com"
    assert passwordless_contact(phone_number="12") == "phone:12"  # unparsable: as given


async def test_resends_share_the_contacts_budget_and_wait_per_device(
    limiter: RateLimiter,
) -> None:
    contact = passwordless_contact(email=f"{uuid.uuid4().hex}@example.com")
    device = uuid.uuid4().hex
    first = await limiter.attempt(*passwordless_code_checks(LIMITS, contact, unique_ip()))
    assert first is None
    resend = await limiter.attempt(
        *passwordless_resend_checks(LIMITS, contact, device, unique_ip())
    )
    assert resend is None
    too_soon = await limiter.attempt(
        *passwordless_resend_checks(LIMITS, contact, device, unique_ip())
    )
    assert too_soon is not None and too_soon <= LIMITS.passwordless_resend_per_device.window_seconds
    for _ in range(2):  # other devices of the contact: two more codes, then the hour is used
        other = uuid.uuid4().hex
        assert (
            await limiter.attempt(*passwordless_resend_checks(LIMITS, contact, other, unique_ip()))
            is None
        )
    # Five messages (one blocked resend counted too) spent the contact's hour.
    assert (
        await limiter.attempt(*passwordless_code_checks(LIMITS, contact, unique_ip())) is not None
    )


async def test_parallel_code_requests_pass_at_most_the_limit(limiter: RateLimiter) -> None:
    contact = passwordless_contact(email=f"{uuid.uuid4().hex}@example.com")
    results = await asyncio.gather(
        *(
            limiter.attempt(*passwordless_code_checks(LIMITS, contact, unique_ip()))
            for _ in range(20)
        )
    )
    assert sum(wait is None for wait in results) == 5


async def test_consuming_is_limited_per_ip(limiter: RateLimiter) -> None:
    ip = unique_ip()
    waits = [await limiter.attempt(*passwordless_consume_checks(LIMITS, ip)) for _ in range(31)]
    assert waits.count(None) == 30 and waits[-1] is not None
