"""Rate limits: fixed-window counters in the database (default), Redis, or memory.

Every attempt is counted *before* it is evaluated (an atomic increment), so of
200 parallel password guesses at most the limit are ever checked. A success
resets the counters of its account. Limits on an account are kept per account
AND per account+IP: an attacker's guesses from one address throttle that
address, and only a large spread of failures (NIST's 100) slows the account
everywhere — for a window, never a permanent lock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import case, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from doorkeep.core.common import sha256_hex
from doorkeep.storage import Database
from doorkeep.storage import tables as t


@dataclass(frozen=True)
class Limit:
    limit: int
    window_seconds: int


@dataclass(frozen=True)
class RateLimitConfig:
    """Attempts allowed per window. Defaults follow django-allauth's and NIST 800-63B."""

    sign_in_per_ip: Limit = Limit(30, 60)
    sign_in_per_account_ip: Limit = Limit(5, 300)
    sign_in_per_account: Limit = Limit(100, 3600)
    sign_up_per_ip: Limit = Limit(20, 60)
    reset_per_account: Limit = Limit(5, 60)
    reset_per_ip: Limit = Limit(20, 60)
    verification_email_per_user: Limit = Limit(5, 60)
    email_exists_per_ip: Limit = Limit(30, 60)
    change_password_per_user: Limit = Limit(5, 300)
    extra: dict[str, Limit] = field(default_factory=dict)


class CounterStore(Protocol):
    async def hit(self, key: str, window_seconds: int) -> tuple[int, float]:
        """Count one attempt; returns (attempts in this window, seconds until it ends)."""

    async def reset(self, key: str) -> None: ...


class MemoryCounters:
    """One process only: for tests and single-instance development."""

    def __init__(self) -> None:
        self._windows: dict[str, tuple[float, int]] = {}

    async def hit(self, key: str, window_seconds: int) -> tuple[int, float]:
        now = time.time()
        start, count = self._windows.get(key, (now, 0))
        if now - start >= window_seconds:
            start, count = now, 0
        self._windows[key] = (start, count + 1)
        return count + 1, start + window_seconds - now

    async def reset(self, key: str) -> None:
        self._windows.pop(key, None)


class DatabaseCounters:
    """Shared by every instance on one database; one UPSERT per attempt."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def hit(self, key: str, window_seconds: int) -> tuple[int, float]:
        now = int(time.time() * 1000)
        window_ms = window_seconds * 1000
        table = t.rate_limit_counters
        insert_ = pg_insert if self.db.dialect == "postgresql" else sqlite_insert
        expired = table.c.window_start <= now - window_ms
        statement = insert_(table).values(key=key, window_start=now, count=1)
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                # A window that has ended starts again at this attempt.
                "count": _case(expired, 1, table.c.count + 1),
                "window_start": _case(expired, now, table.c.window_start),
            },
        ).returning(table.c.count, table.c.window_start)
        async with self.db.transaction() as conn:
            count, start = (await conn.execute(statement)).one()
        return int(count), (start + window_ms - now) / 1000

    async def reset(self, key: str) -> None:
        table = t.rate_limit_counters
        async with self.db.transaction() as conn:
            await conn.execute(table.delete().where(table.c.key == key))

    async def count(self, key: str) -> int:
        table = t.rate_limit_counters
        async with self.db.read() as conn:
            found = (await conn.execute(select(table.c.count).where(table.c.key == key))).scalar()
        return int(found or 0)


class RedisCounters:
    """Shared through Redis (`DOORKEEP_REDIS_URL`): INCR with an expiry per window."""

    def __init__(self, url: str, *, max_connections: int = 50) -> None:
        import redis.asyncio as redis

        # A blocking pool queues bursts instead of failing them ("Too many connections").
        pool = redis.BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=10
        )
        self.client = redis.Redis(connection_pool=pool)

    async def hit(self, key: str, window_seconds: int) -> tuple[int, float]:
        name = f"doorkeep:rl:{key}"
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.incr(name)
            pipe.expire(name, window_seconds, nx=True)
            pipe.pttl(name)
            count, _, ttl_ms = await pipe.execute()
        return int(count), max(0.0, ttl_ms / 1000)

    async def reset(self, key: str) -> None:
        await self.client.delete(f"doorkeep:rl:{key}")

    async def close(self) -> None:
        await self.client.aclose()


class RateLimiter:
    def __init__(self, store: CounterStore, *, enabled: bool = True) -> None:
        self.store = store
        self.enabled = enabled

    async def attempt(self, *checks: tuple[str, Limit]) -> float | None:
        """Count an attempt against each (key, limit); seconds to wait if any is exceeded."""
        if not self.enabled:
            return None
        wait: float | None = None
        for key, limit in checks:
            count, remaining = await self.store.hit(key, limit.window_seconds)
            if count > limit.limit:
                wait = max(wait or 0.0, remaining)
        return wait

    async def succeeded(self, *keys: str) -> None:
        if self.enabled:
            for key in keys:
                await self.store.reset(key)


def _case(condition: Any, when_true: Any, otherwise: Any) -> Any:
    return case((condition, when_true), else_=otherwise)


def counter_key(kind: str, *parts: str) -> str:
    """A counter's key: the kind in clear, the subject (emails, IPs) only as a digest."""
    return f"{kind}:{sha256_hex(chr(31).join(parts))[:40]}"
