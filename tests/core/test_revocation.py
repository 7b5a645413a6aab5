"""Revocation across instances (core/revocation.py), in one process: two Doorkeep
instances on one database, each with its own feed and its own set of revoked handles,
as two servers would have. On SQLite the second learns by polling, on PostgreSQL by
LISTEN/NOTIFY, with Redis by pub/sub; a lost message is caught up from the table.

Mutants tried: the sink skipped (no row written): every cross-instance test fails; the
safety poll off while a channel is up: test_a_lost_message_is_caught_up_from_the_table
fails with Redis. Two that survive, on purpose: the catch-up on (re)connect removed (the
fast poll while the channel was down already caught up), and listening after the
catch-up instead of before (a race no test here can time).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event, func, select, update

from doorkeep import Doorkeep, Settings
from doorkeep.core.common import now_ms
from doorkeep.core.housekeeping import purge_expired
from doorkeep.core.revocation import Cursor, RevokedSessions
from doorkeep.core.revocation_channels import PostgresChannel, RedisChannel
from doorkeep.core.session_models import (
    NewSession,
    TokenTheftDetectedError,
    UnauthorisedError,
    VerifiedSession,
)
from doorkeep.storage import tables as t

REDIS_URL = os.environ.get("DOORKEEP_TEST_REDIS_URL")
BOUND_S = 10.0  # how long a test waits for a flip before it fails (liveness, not speed)


# -- the pieces ------------------------------------------------------------------------------


def test_the_cursor_waits_for_a_gap_then_gives_up_on_it() -> None:
    now = [0.0]
    cursor = Cursor(gap_wait_s=10)
    cursor.see([1, 2, 4], clock=lambda: now[0])
    assert cursor.floor == 2  # 3 may still commit (PostgreSQL IDs commit out of order)
    now[0] = 5
    cursor.see([], clock=lambda: now[0])
    assert cursor.floor == 2
    cursor.see([3], clock=lambda: now[0])
    assert cursor.floor == 4  # it came
    cursor.see([6], clock=lambda: now[0])
    now[0] = 16
    cursor.see([], clock=lambda: now[0])
    assert cursor.floor == 6  # 5 never came: rolled back
    fresh = Cursor()
    fresh.start_at(100)  # rows below were swept
    assert fresh.floor == 99


def test_revoked_sessions_forget_what_has_expired() -> None:
    revoked = RevokedSessions()
    revoked.add("old", 1_000)
    revoked.add("new", 5_000)
    revoked.add("new", 2_000)  # an earlier expiry never shortens a later one
    assert revoked.prune(3_000) == 1
    assert "old" not in revoked and revoked.handles == {"new": 5_000}


# -- two instances ---------------------------------------------------------------------------


@pytest.fixture(params=["database", "redis"])
def channel(request: pytest.FixtureRequest) -> str | None:
    """How revocations travel: the database's way (NOTIFY or polling), or Redis."""
    if request.param == "database":
        return None
    if not REDIS_URL:
        pytest.skip("Redis tests need DOORKEEP_TEST_REDIS_URL, e.g. redis://127.0.0.1:6379/0")
    return REDIS_URL


@pytest.fixture
async def pair(database_url: str, channel: str | None) -> AsyncIterator[tuple[Doorkeep, Doorkeep]]:
    settings = Settings(database_url=database_url, redis_url=channel)
    a, b = Doorkeep(settings), Doorkeep(settings)
    await a.start()
    await b.start()
    try:
        yield a, b
    finally:
        await a.close()
        await b.close()


async def verified(dk: Doorkeep, created: NewSession) -> bool:
    result = await dk.session.get_session(created.access_token.token)
    if isinstance(result, VerifiedSession):
        return True
    assert isinstance(result, UnauthorisedError)
    return False


async def until(condition: Callable[[], Any], what: str) -> float:
    """Poll `condition` (a coroutine function) until true; seconds it took."""
    start = time.monotonic()
    while not await condition():
        if time.monotonic() - start > BOUND_S:
            raise AssertionError(f"{what}: not within {BOUND_S} s")
        await asyncio.sleep(0.01)
    return time.monotonic() - start


class Statements:
    """Every statement an instance sends its database (both of its engines)."""

    def __init__(self, dk: Doorkeep) -> None:
        self.count = 0
        engines = [dk.core.db.engine.sync_engine]
        if dk.core.db._unit_engine is not None:
            engines.append(dk.core.db._unit_engine)
        for engine in engines:
            event.listen(engine, "before_cursor_execute", self._counted)

    def _counted(self, *_args: Any) -> None:
        self.count += 1


async def test_a_session_revoked_on_one_instance_is_refused_on_the_other(
    pair: tuple[Doorkeep, Doorkeep],
) -> None:
    a, b = pair
    created = await a.session.create_new_session("user-1")
    assert await verified(b, created)
    statements = Statements(b)
    for _ in range(200):
        assert await verified(b, created)
    assert statements.count < 20  # only the feed's own reads, none per verification

    await a.session.revoke_session(created.session.handle)
    assert not await verified(a, created)  # at once where it happened
    await until(lambda: _refused(b, created), "B refuses the revoked session")


async def _refused(dk: Doorkeep, created: NewSession) -> bool:
    return not await verified(dk, created)


async def test_every_way_of_revoking_reaches_the_other_instance(
    pair: tuple[Doorkeep, Doorkeep],
) -> None:
    a, b = pair
    signed_up = await a.emailpassword.sign_up("ada@example.com", "correct horse battery")
    user_id = signed_up.user.id  # type: ignore[union-attr]
    # Theft: a superseded refresh token replayed after its child was used.
    stolen = await a.session.create_new_session(user_id)
    child = await a.session.refresh_session(stolen.refresh_token.token)
    assert isinstance(child, NewSession)
    await a.session.refresh_session(child.refresh_token.token)
    theft = await a.session.refresh_session(stolen.refresh_token.token)
    assert isinstance(theft, TokenTheftDetectedError)
    # Revoke all (what a password change does), and deleting the user.
    all_of_them = [await a.session.create_new_session(user_id) for _ in range(2)]
    await a.session.revoke_all_sessions_for_user(user_id)
    other = await a.emailpassword.sign_up("bob@example.com", "correct horse battery")
    deleted_session = await a.session.create_new_session(other.user.id)  # type: ignore[union-attr]
    await a.delete_user(other.user.id)  # type: ignore[union-attr]

    for created in [child, *all_of_them, deleted_session]:
        await until(lambda c=created: _refused(b, c), "B refuses it")  # type: ignore[misc]
    async with a.core.db.read() as conn:
        rows = (await conn.execute(select(func.count()).select_from(t.revoked_sessions))).scalar()
    assert rows == 4  # one row per revoked session, written with its revoke


async def test_an_instance_started_after_the_revoke_refuses_it_at_once(
    database_url: str, channel: str | None
) -> None:
    settings = Settings(database_url=database_url, redis_url=channel)
    async with Doorkeep(settings) as a:
        created = await a.session.create_new_session("user-1")
        await a.session.revoke_session(created.session.handle)
        async with Doorkeep(settings) as b:
            assert not await verified(b, created)  # read from the table while starting


async def test_a_lost_message_is_caught_up_from_the_table(
    pair: tuple[Doorkeep, Doorkeep],
) -> None:
    """A's process dies between its commit and its message (Redis), or its NOTIFY never
    reaches B: B reads the table on its own and still refuses the session."""
    a, b = pair
    b.core.revocations.poll_safety_s = 0.2
    b.core.revocations.wake()
    channel = a.core.revocations.channel
    if isinstance(channel, RedisChannel):

        async def lost(revocations: Any) -> None:
            return None

        channel.publish = lost  # type: ignore[method-assign]
    else:  # NOTIFY, or nothing (SQLite): B drops whatever message reaches it
        b.core.revocations._on_message = lambda rows: None  # type: ignore[method-assign]
    created = await a.session.create_new_session("user-1")
    assert await verified(b, created)
    await a.session.revoke_session(created.session.handle)
    await until(lambda: _refused(b, created), "B refuses it without the message")


async def test_a_lost_channel_is_caught_up_after_reconnecting(postgres_database: str) -> None:
    """PostgreSQL: B's listening connection is killed; a revoke while it is down is
    refused once B polls or reconnects, and B listens again afterwards."""
    from tests.conftest import reset_postgres

    await reset_postgres(postgres_database)
    settings = Settings(database_url=postgres_database)
    async with Doorkeep(settings) as a, Doorkeep(settings) as b:
        b.core.revocations.poll_safety_s = 0.2
        b.core.revocations.wake()
        channel = b.core.revocations.channel
        assert isinstance(channel, PostgresChannel) and channel.connected
        conn = await asyncpg.connect(channel._dsn)
        try:
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE query LIKE 'LISTEN%' AND datname = current_database()"
            )
        finally:
            await conn.close()
        created = await a.session.create_new_session("user-1")
        await a.session.revoke_session(created.session.handle)
        await until(lambda: _refused(b, created), "B refuses it after losing its channel")

        async def listening_again() -> bool:
            return channel.connected

        await until(listening_again, "B listens again")
        before = b.core.revocations.stats.messages
        again = await a.session.create_new_session("user-2")
        await a.session.revoke_session(again.session.handle)

        async def notified() -> bool:
            return b.core.revocations.stats.messages > before

        await until(notified, "B is notified again")


async def test_revocations_are_swept_once_their_tokens_have_expired(dk: Doorkeep) -> None:
    created = await dk.session.create_new_session("user-1")
    await dk.session.revoke_session(created.session.handle)
    r = t.revoked_sessions
    async with dk.core.db.read() as conn:
        expires = (await conn.execute(select(r.c.expires_at))).scalar_one()
    validity_ms = dk.settings.access_token_validity * 1000
    assert expires >= now_ms() + validity_ms - 5_000  # the last token's expiry, not less
    purged = await purge_expired(dk.core.db, now=now_ms(), counters_before=0)
    assert purged.revoked_sessions == 0
    async with dk.core.db.transaction() as conn:
        await conn.execute(update(r).values(expires_at=now_ms() - 1))
    purged = await purge_expired(dk.core.db, now=now_ms(), counters_before=0)
    assert purged.revoked_sessions == 1
