"""The channels that carry revocations between instances (core/revocation.py):
PostgreSQL LISTEN/NOTIFY on a dedicated connection, or Redis pub/sub."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from sqlalchemy.engine import make_url

from doorkeep.core.revocation import (
    PG_CHANNEL,
    REDIS_CHANNEL,
    Channel,
    OnMessage,
    Revocation,
    decode,
)

log = logging.getLogger("doorkeep.revocation")
CONNECT_TIMEOUT_S = 10.0
CHECK_TIMEOUT_S = 3.0


def _deliver(on_message: OnMessage, payload: str | bytes) -> None:
    try:
        rows = decode(payload)
    except (ValueError, TypeError) as exc:
        log.warning("ignoring a malformed revocation message: %s", exc)
        return
    on_message(rows)


class PostgresChannel:
    """LISTEN on a connection of its own. The NOTIFY goes out inside the revoking
    transaction (the sink sends it), so it is delivered exactly when that commits."""

    notifies_in_transaction = True

    def __init__(self, database_url: str) -> None:
        # asyncpg takes a libpq URL: postgresql://user:pass@host:port/db?...
        url = make_url(database_url).set(drivername="postgresql")
        self._dsn = url.render_as_string(hide_password=False)
        self._conn: Any = None

    @property
    def connected(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    async def connect(self, on_message: OnMessage) -> None:
        import asyncpg

        conn = await asyncpg.connect(self._dsn, timeout=CONNECT_TIMEOUT_S)

        def notified(_conn: Any, _pid: int, _channel: str, payload: object) -> None:
            if isinstance(payload, str | bytes):
                _deliver(on_message, payload)

        await conn.add_listener(PG_CHANNEL, notified)  # listening once this returns
        self._conn = conn

    async def check(self) -> None:
        if self._conn is None:
            raise ConnectionError("not connected")
        await self._conn.execute("SELECT 1", timeout=CHECK_TIMEOUT_S)

    async def publish(self, revocations: list[Revocation]) -> None:
        return None  # sent by the revoking transaction itself

    async def close(self) -> None:
        await self.disconnect()

    async def disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), CHECK_TIMEOUT_S)
            if not conn.is_closed():
                conn.terminate()


class RedisChannel:
    """Redis pub/sub: published right after the commit (a message lost then is caught up
    from the table by the safety poll)."""

    notifies_in_transaction = False

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        self._client = redis.Redis.from_url(
            url, socket_connect_timeout=CONNECT_TIMEOUT_S, health_check_interval=10
        )
        self._pubsub: Any = None
        self._reader: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        return self._reader is not None and not self._reader.done()

    async def connect(self, on_message: OnMessage) -> None:
        pubsub = self._client.pubsub()
        try:
            await pubsub.subscribe(REDIS_CHANNEL)
            # Wait for the server's confirmation: from then on, every publish reaches us.
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None and message["type"] == "subscribe":
                        break
        except BaseException:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]
            raise
        self._pubsub = pubsub
        self._reader = asyncio.get_running_loop().create_task(self._read(pubsub, on_message))

    async def _read(self, pubsub: Any, on_message: OnMessage) -> None:
        try:
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is not None and message["type"] == "message":
                    _deliver(on_message, message["data"])
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the connection is gone: the feed polls and reconnects
            log.warning("revocation channel (Redis) lost: %s", exc)

    async def check(self) -> None:
        if not self.connected:
            raise ConnectionError("not subscribed")
        await asyncio.wait_for(self._client.ping(), CHECK_TIMEOUT_S)

    async def publish(self, revocations: list[Revocation]) -> None:
        await asyncio.wait_for(
            self._client.publish(REDIS_CHANNEL, json.dumps(revocations)), CHECK_TIMEOUT_S
        )

    async def disconnect(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    async def close(self) -> None:
        await self.disconnect()
        with contextlib.suppress(Exception):
            await self._client.aclose()


def channel_for(database_url: str, dialect: str, redis_url: str | None) -> Channel | None:
    """Redis when configured, else NOTIFY on PostgreSQL, else none (SQLite: polling)."""
    if redis_url:
        return RedisChannel(redis_url)
    if dialect == "postgresql":
        return PostgresChannel(database_url)
    return None
