"""The sweep of expired rows, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select, update

from doorkeep import Doorkeep, Settings
from doorkeep.core.common import now_ms
from doorkeep.core.housekeeping import Purged, purge_expired
from doorkeep.ratelimit import DatabaseCounters, Limit, RateLimitConfig
from doorkeep.storage import tables as t

HOUR_MS = 3600 * 1000


async def count(dk: Doorkeep, table: Any) -> int:
    async with dk.core.db.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def backdate(dk: Doorkeep, table: Any, column: Any, key: Any, value: Any, ms: int) -> None:
    """Move one row's expiry (or window start) to `ms`, as if time had passed."""
    async with dk.core.db.transaction() as conn:
        await conn.execute(update(table).where(key == value).values({column.name: ms}))


async def test_a_sweep_deletes_what_expired_and_keeps_what_lives(dk: Doorkeep) -> None:
    core = dk.core.public
    signed_up = await dk.emailpassword.sign_up("sweep@example.com", "correct horse battery")
    user_id = signed_up.user.id  # type: ignore[union-attr]
    live = await core.sessions.create(user_id)
    expired = await core.sessions.create(user_id)
    for _ in range(2):
        await core.emailverification.create_token(user_id, "sweep@example.com")
        await core.passwordreset.create_token(user_id, "sweep@example.com")
    counters = DatabaseCounters(dk.core.db)
    await counters.hit([("recent", 60), ("old", 60)])

    past = now_ms() - HOUR_MS
    s = t.sessions
    await backdate(dk, s, s.c.expires_at, s.c.session_handle, expired.session.handle, past)
    for table in (t.email_verification_tokens, t.password_reset_tokens):
        async with dk.core.db.read() as conn:
            first = (await conn.execute(select(table.c.token_hash).limit(1))).scalar_one()
        await backdate(dk, table, table.c.expires_at, table.c.token_hash, first, past)
    rl = t.rate_limit_counters
    await backdate(dk, rl, rl.c.window_start, rl.c.key, "old", now_ms() - 2 * HOUR_MS)

    now = now_ms()
    purged = await purge_expired(dk.core.db, now=now, counters_before=now - HOUR_MS)

    assert purged == Purged(
        sessions=1, email_verification_tokens=1, password_reset_tokens=1, rate_limit_counters=1
    )
    assert await core.sessions.get(live.session.handle) is not None
    async with dk.core.db.read() as conn:
        handles = (await conn.execute(select(t.refresh_tokens.c.session_handle))).scalars()
        assert set(handles) == {live.session.handle}  # the expired one's went with it
        keys = (await conn.execute(select(rl.c.key))).scalars().all()
    assert keys == ["recent"]
    assert await count(dk, t.email_verification_tokens) == 1
    assert await count(dk, t.password_reset_tokens) == 1
    # The live session still refreshes; nothing else was touched.
    refreshed = await core.sessions.refresh(live.refresh_token.token)
    assert refreshed.status == "OK"
    assert await count(dk, t.users) == 1


async def test_a_sweep_deletes_a_backlog_in_batches(dk: Doorkeep) -> None:
    core = dk.core.public
    for _ in range(7):
        await core.sessions.create("someone")
    async with dk.core.db.transaction() as conn:
        await conn.execute(update(t.sessions).values(expires_at=now_ms() - HOUR_MS))
    now = now_ms()
    purged = await purge_expired(dk.core.db, now=now, counters_before=0, batch=3)
    assert purged.sessions == 7  # batches of 3, 3 and 1
    assert await count(dk, t.sessions) == 0
    assert await count(dk, t.refresh_tokens) == 0


async def test_a_started_doorkeep_sweeps_on_its_own_and_stops_on_close(settings: Settings) -> None:
    dk = Doorkeep(settings.with_overrides(purge_interval_seconds=0.2))
    async with dk:
        created = await dk.core.public.sessions.create("someone")
        s = t.sessions
        handle = created.session.handle
        await backdate(dk, s, s.c.expires_at, s.c.session_handle, handle, now_ms() - 1)
        for _ in range(100):  # up to 10 s for a sweep every 0.2 s
            if await count(dk, t.sessions) == 0:
                break
            await asyncio.sleep(0.1)
        assert await count(dk, t.sessions) == 0
        task = dk.housekeeping._task
        assert task is not None and not task.done()
    assert task.done() and dk.housekeeping._task is None


async def test_the_sweep_is_off_when_its_interval_is_zero(settings: Settings) -> None:
    async with Doorkeep(settings.with_overrides(purge_interval_seconds=0)) as dk:
        assert dk.housekeeping._task is None


def test_counters_are_kept_for_the_longest_window_of_any_limit() -> None:
    assert RateLimitConfig().longest_window_seconds == 3600
    longer = RateLimitConfig(extra={"exports": Limit(3, 86400)})
    assert longer.longest_window_seconds == 86400
