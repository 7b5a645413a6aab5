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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from functools import partial
from typing import Any, Protocol

from sqlalchemy import BigInteger, Table, bindparam, case, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from doorkeep.core import passwordless_secrets as sec
from doorkeep.core.common import sha256_hex
from doorkeep.core.events import Events, RateLimited
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
    # Completing a reset (POST /user/password/reset): per IP, so made-up tokens cannot
    # buy Argon2 work in bulk (a good token is one attempt; a typo a second).
    reset_password_per_ip: Limit = Limit(10, 60)
    verification_email_per_user: Limit = Limit(5, 60)
    email_exists_per_ip: Limit = Limit(30, 60)
    change_password_per_user: Limit = Limit(5, 300)
    # Passwordless. Sending codes costs money and SMS pumping is the classic abuse: one
    # contact (number or address) gets a handful of codes an hour, resends included,
    # whichever IP asks; a device waits between resends; consuming is limited per IP
    # (wrong codes are also counted per device, in the database: core/passwordless.py).
    passwordless_code_per_ip: Limit = Limit(20, 3600)
    passwordless_code_per_contact: Limit = Limit(5, 3600)
    passwordless_resend_per_device: Limit = Limit(1, 30)
    passwordless_consume_per_ip: Limit = Limit(30, 60)
    extra: dict[str, Limit] = field(default_factory=dict)

    @property
    def longest_window_seconds(self) -> int:
        """How long a counter can matter: older windows have ended for every limit."""
        limits: list[Limit] = [getattr(self, f.name) for f in fields(self) if f.name != "extra"]
        return max(limit.window_seconds for limit in [*limits, *self.extra.values()])


class CounterStore(Protocol):
    async def hit(self, counters: Sequence[tuple[str, int]]) -> list[tuple[int, float]]:
        """Count one attempt on each (key, window seconds), together; for each, returns
        (attempts in its window, seconds until the window ends)."""

    async def reset(self, keys: Sequence[str]) -> None: ...


class MemoryCounters:
    """One process only: for tests and single-instance development."""

    def __init__(self) -> None:
        self._windows: dict[str, tuple[float, int]] = {}

    async def hit(self, counters: Sequence[tuple[str, int]]) -> list[tuple[int, float]]:
        now = time.time()
        counted = []
        for key, window_seconds in counters:
            start, count = self._windows.get(key, (now, 0))
            if now - start >= window_seconds:
                start, count = now, 0
            self._windows[key] = (start, count + 1)
            counted.append((count + 1, start + window_seconds - now))
        return counted

    async def reset(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._windows.pop(key, None)


class DatabaseCounters:
    """Shared by every instance on one database; one transaction of UPSERTs per attempt."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._upsert = _counter_upsert(pg_insert if db.dialect == "postgresql" else sqlite_insert)

    async def hit(self, counters: Sequence[tuple[str, int]]) -> list[tuple[int, float]]:
        now = int(time.time() * 1000)
        return await self.db.run(partial(self._hit, counters, now), write=True)

    def _hit(
        self, counters: Sequence[tuple[str, int]], now: int, conn: Connection
    ) -> list[tuple[int, float]]:
        counted = []
        for key, window_seconds in counters:
            window_ms = window_seconds * 1000
            params = {"counter": key, "now": now, "started_before": now - window_ms}
            count, start = conn.execute(self._upsert, params).one()
            counted.append((int(count), (start + window_ms - now) / 1000))
        return counted

    async def reset(self, keys: Sequence[str]) -> None:
        await self.db.run(partial(_delete_counters, list(keys)), write=True)

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

    async def hit(self, counters: Sequence[tuple[str, int]]) -> list[tuple[int, float]]:
        async with self.client.pipeline(transaction=True) as pipe:
            for key, window_seconds in counters:
                name = f"doorkeep:rl:{key}"
                pipe.incr(name)
                pipe.expire(name, window_seconds, nx=True)
                pipe.pttl(name)
            replies = await pipe.execute()
        # Three replies a counter: the count, the expiry's outcome, the time left.
        return [
            (int(replies[i]), max(0.0, replies[i + 2] / 1000)) for i in range(0, len(replies), 3)
        ]

    async def reset(self, keys: Sequence[str]) -> None:
        if keys:
            await self.client.delete(*(f"doorkeep:rl:{key}" for key in keys))

    async def close(self) -> None:
        await self.client.aclose()


class RateLimiter:
    def __init__(
        self, store: CounterStore, *, enabled: bool = True, events: Events | None = None
    ) -> None:
        self.store = store
        self.enabled = enabled
        self.events = events or Events()  # a refused attempt is reported (RateLimited)

    async def attempt(self, *checks: tuple[str, Limit]) -> float | None:
        """Count an attempt against each (key, limit); seconds to wait if any is exceeded."""
        if not self.enabled or not checks:
            return None
        counted = await self.store.hit([(key, limit.window_seconds) for key, limit in checks])
        exceeded = [
            (key, remaining)
            for (key, limit), (count, remaining) in zip(checks, counted, strict=True)
            if count > limit.limit
        ]
        if not exceeded:
            return None
        # One event per refused attempt, naming the counters' kinds, never their
        # subjects (IPs, emails are in the keys only as digests anyway).
        kinds = ",".join(dict.fromkeys(key.partition(":")[0] for key, _ in exceeded))
        self.events.publish(RateLimited(limit=kinds))
        return max(remaining for _, remaining in exceeded)

    async def succeeded(self, *keys: str) -> None:
        if self.enabled and keys:
            await self.store.reset(keys)


def _counter_upsert(insert_: Callable[[Table], Any]) -> Any:
    """Count an attempt: a window that has ended starts again at this attempt."""
    table = t.rate_limit_counters
    now = bindparam("now", type_=BigInteger)
    expired = table.c.window_start <= bindparam("started_before", type_=BigInteger)
    statement = insert_(table).values(key=bindparam("counter"), window_start=now, count=1)
    return statement.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={
            "count": _case(expired, 1, table.c.count + 1),
            "window_start": _case(expired, now, table.c.window_start),
        },
    ).returning(table.c.count, table.c.window_start)


def _delete_counters(keys: list[str], conn: Connection) -> None:
    table = t.rate_limit_counters
    conn.execute(table.delete().where(table.c.key.in_(keys)))


def _case(condition: Any, when_true: Any, otherwise: Any) -> Any:
    return case((condition, when_true), else_=otherwise)


def counter_key(kind: str, *parts: str) -> str:
    """A counter's key: the kind in clear, the subject (emails, IPs) only as a digest."""
    return f"{kind}:{sha256_hex(chr(31).join(parts))[:40]}"


# -- passwordless: the checks the flow counts (it calls RateLimiter.attempt with them) -------

Checks = tuple[tuple[str, Limit], ...]


def passwordless_contact(email: object = None, phone_number: object = None) -> str:
    """The subject of a contact's counters: the email or the E.164 number as stored, so
    that "+1 415 555 2671" and "+14155552671" share one budget (what cannot be parsed is
    counted as given, trimmed and lowercased)."""
    if email is not None:
        return "email:" + (sec.normalise_contact_email(email) or str(email).strip().lower())
    return "phone:" + (sec.normalise_phone_number(phone_number) or str(phone_number).strip())


def passwordless_code_checks(limits: RateLimitConfig, contact: str, ip: str) -> Checks:
    """Creating a code (POST /signinup/code): per IP and per contact, in every tenant
    (a number costs the same whichever tenant texts it)."""
    return (
        (counter_key("pl-code-ip", ip), limits.passwordless_code_per_ip),
        (counter_key("pl-code-contact", contact), limits.passwordless_code_per_contact),
    )


def passwordless_resend_checks(
    limits: RateLimitConfig, contact: str, pre_auth_session_id: str, ip: str
) -> Checks:
    """Resending (POST /signinup/code/resend): the creation's budgets (a resend is one
    more message to the contact) and the device's cool-down."""
    return (
        *passwordless_code_checks(limits, contact, ip),
        (
            counter_key("pl-resend-device", pre_auth_session_id),
            limits.passwordless_resend_per_device,
        ),
    )


def passwordless_consume_checks(limits: RateLimitConfig, ip: str) -> Checks:
    """Consuming (POST /signinup/code/consume): per IP."""
    return ((counter_key("pl-consume-ip", ip), limits.passwordless_consume_per_ip),)
