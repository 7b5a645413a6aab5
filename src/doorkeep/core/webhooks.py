"""Webhooks: events POSTed to the endpoints an application registered, at least once.

- Endpoints (`add_endpoint`, `doorkeep webhooks add`) choose event types ("*": all).
- The outbox: every event an endpoint wants becomes a `webhook_deliveries` row, written
  in the transaction of the event where the core records it there (a sink of the event
  stream), else right after, by the subscriber. A process killed between the commit
  and the delivery loses nothing: the row is there.
- A worker in every instance claims due rows (a lease; `SKIP LOCKED` on PostgreSQL so
  instances share the work), POSTs them signed the Standard Webhooks way — headers
  `webhook-id` (the event's ID, stable across retries: receivers dedupe on it),
  `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`
  keyed with the endpoint's `whsec_` secret — and marks them delivered on a 2xx, else
  retries after `webhook_retry_delays`, then gives up (replayable).
- Which event types have an endpoint is re-read every second (and at once after a
  registration here): an event nobody wants costs no statement.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol
from urllib.parse import urlsplit

from sqlalchemy import bindparam, delete, insert, literal, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from doorkeep.core.common import PUBLIC, new_id, now_ms
from doorkeep.core.events import Event, EventKind
from doorkeep.storage import Database
from doorkeep.storage import tables as t

log = logging.getLogger("doorkeep.webhooks")

ANY = "*"
GAVE_UP = 2**62  # next_attempt_at of a delivery given up on (replay brings it back)
LEASE_MS = 15_000  # a claimed delivery is retried after this if its worker died
POLL_S = 1.0
CLAIM = 20

_e, _s, _d = t.webhook_endpoints, t.webhook_subscriptions, t.webhook_deliveries


class WebhookTransport(Protocol):
    """Sends one signed delivery; the HTTP client lives outside the core
    (`delivery/webhook_http.py`), which has no HTTP of its own."""

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        """The response's status code; raises `WebhookSendError` when nothing came back."""
        ...

    async def close(self) -> None: ...


class WebhookSendError(Exception):
    """The endpoint could not be reached or did not answer in time."""


@dataclass(frozen=True)
class Endpoint:
    id: str
    app_id: str
    url: str
    secret: str
    enabled: bool
    event_types: tuple[str, ...]


@dataclass(frozen=True)
class Delivery:
    id: int
    endpoint_id: str
    event_id: str
    event_type: str
    attempts: int
    next_attempt_at: int
    delivered_at: int | None
    last_status: int | None
    last_error: str | None

    @property
    def state(self) -> str:
        if self.delivered_at is not None:
            return "delivered"
        return "failed" if self.next_attempt_at >= GAVE_UP else "pending"


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The Standard Webhooks `webhook-signature` header of a body."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def payload(event: Event) -> str:
    """The body every endpoint gets for an event (fixed when the row is written)."""
    stamp = datetime.fromtimestamp(event.time / 1000, UTC).isoformat(timespec="milliseconds")
    body = {"type": str(event.kind), "timestamp": stamp, "data": event.to_json()}
    return json.dumps(body, separators=(",", ":"))


def _wanted_by(app_id: Any, event_type: Any) -> Any:
    """Enabled endpoints of the app whose subscriptions take this event type."""
    return (
        select(_e.c.id)
        .distinct()
        .join(_s, _s.c.endpoint_id == _e.c.id)
        .where(
            _e.c.enabled.is_(True),
            _e.c.app_id == app_id,
            or_(_s.c.event_type == event_type, _s.c.event_type == ANY),
        )
    )


def write_outbox(events: Sequence[Event], conn: Connection) -> int:
    """One delivery row per (wanting endpoint, event); an event already there is skipped."""
    now = now_ms()
    written = 0
    dialect = conn.dialect.name
    for event in events:
        source = _wanted_by(literal(event.app_id), literal(str(event.kind))).add_columns(
            literal(event.id),
            literal(str(event.kind)),
            literal(payload(event)),
            literal(now),
            literal(0),
            literal(now),
        )
        columns = [
            "endpoint_id",
            "event_id",
            "event_type",
            "payload",
            "created_at",
            "attempts",
            "next_attempt_at",
        ]
        statement: Any
        if dialect in ("postgresql", "sqlite"):
            from sqlalchemy.dialects.postgresql import insert as pg_insert
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            insert_ = pg_insert if dialect == "postgresql" else sqlite_insert
            statement = insert_(_d).from_select(columns, source).on_conflict_do_nothing()
        else:  # pragma: no cover - doorkeep speaks SQLite and PostgreSQL
            statement = insert(_d).from_select(columns, source)
        written += conn.execute(statement).rowcount or 0
    return written


def _active_types(conn: Connection) -> set[str]:
    query = (
        select(_s.c.event_type)
        .distinct()
        .join(_e, _e.c.id == _s.c.endpoint_id)
        .where(_e.c.enabled.is_(True))
    )
    return set(conn.execute(query).scalars())


def _anything_due(now: int, conn: Connection) -> bool:
    """A read (no write lock) before claiming: most seconds nothing is due."""
    due = select(_d.c.id).where(_d.c.delivered_at.is_(None), _d.c.next_attempt_at <= now)
    return conn.execute(due.limit(1)).first() is not None


def _claim(now: int, conn: Connection) -> list[Any]:
    """Take up to CLAIM due deliveries for LEASE_MS; with their endpoint's URL and secret."""
    due = (
        select(_d.c.id)
        .where(_d.c.delivered_at.is_(None), _d.c.next_attempt_at <= now)
        .order_by(_d.c.next_attempt_at, _d.c.id)
        .limit(CLAIM)
        .with_for_update(skip_locked=True)
    )
    ids = list(conn.execute(due).scalars())
    if not ids:
        return []
    conn.execute(update(_d).where(_d.c.id.in_(ids)).values(next_attempt_at=now + LEASE_MS))
    query = (
        select(_d.c.id, _d.c.event_id, _d.c.payload, _d.c.attempts, _e.c.url, _e.c.secret)
        .join(_e, _e.c.id == _d.c.endpoint_id)
        .where(_d.c.id.in_(ids))
        .order_by(_d.c.id)
    )
    return list(conn.execute(query).all())


_RESULT = (
    update(_d)
    .where(_d.c.id == bindparam("delivery"), _d.c.delivered_at.is_(None))
    .values(
        attempts=_d.c.attempts + 1,
        delivered_at=bindparam("delivered_at"),
        next_attempt_at=bindparam("next_at"),
        last_status=bindparam("status"),
        last_error=bindparam("error"),
    )
)


def _record(results: list[dict[str, Any]], conn: Connection) -> None:
    conn.execute(_RESULT, results)


class Webhooks:
    """Registration, the outbox (sink + subscriber) and the delivery worker."""

    def __init__(
        self, db: Database, retry_delays: Sequence[float], transport: WebhookTransport
    ) -> None:
        self.db = db
        self.transport = transport
        self.retry_delays = tuple(retry_delays)
        self.active: set[str] = set()  # event types some enabled endpoint wants
        self.delivered = 0
        self.failed = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def _wanted(self, event: Event) -> bool:
        return ANY in self.active or str(event.kind) in self.active

    # -- the event stream's side

    def sink(self, conn: Connection, events: Sequence[Event]) -> None:
        wanted = [e for e in events if self._wanted(e)]
        if wanted and write_outbox(wanted, conn):
            self._wake.set()

    def on_event(self, event: Event) -> Awaitable[None] | None:
        """Subscriber: an event the core did not record in its transaction is written now."""
        if event.recorded or not self._wanted(event):
            return None
        return self._write_after(event)

    async def _write_after(self, event: Event) -> None:
        if await self.db.run(partial(write_outbox, [event]), write=True):
            self._wake.set()

    # -- registration

    async def add_endpoint(
        self, url: str, event_types: Sequence[str], *, app_id: str = PUBLIC
    ) -> Endpoint:
        """Register `url` for `event_types` (names of EventKind, or "*"); ValueError for a
        URL that is not http(s) or an unknown type."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("the URL must be http:// or https:// with a host")
        known = {str(kind) for kind in EventKind} | {ANY}
        types = tuple(dict.fromkeys(event_types)) or (ANY,)
        unknown = [name for name in types if name not in known]
        if unknown:
            raise ValueError(f"unknown event types: {', '.join(unknown)}")
        endpoint = Endpoint(new_id(), app_id, url, new_secret(), True, types)
        await self.db.run(partial(_insert_endpoint, endpoint), write=True)
        await self.refresh()
        return endpoint

    async def remove_endpoint(self, endpoint_id: str) -> bool:
        def unit(conn: Connection) -> bool:
            return bool(conn.execute(delete(_e).where(_e.c.id == endpoint_id)).rowcount)

        removed = await self.db.run(unit, write=True)
        await self.refresh()
        return removed

    async def list_endpoints(self) -> list[Endpoint]:
        return await self.db.run(_list_endpoints)

    async def refresh(self) -> None:
        self.active = await self.db.run(_active_types)

    # -- deliveries

    async def deliveries(
        self,
        *,
        endpoint_id: str | None = None,
        event_id: str | None = None,
        pending: bool = False,
        limit: int = 50,
    ) -> list[Delivery]:
        query = select(_d).order_by(_d.c.id.desc()).limit(limit)
        if endpoint_id is not None:
            query = query.where(_d.c.endpoint_id == endpoint_id)
        if event_id is not None:
            query = query.where(_d.c.event_id == event_id)
        if pending:
            query = query.where(_d.c.delivered_at.is_(None))
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [_delivery(row) for row in rows]

    async def replay(self, delivery_ids: Sequence[int] = (), *, event_id: str | None = None) -> int:
        """Deliver again (delivered or given up on alike); how many were queued."""
        chosen: list[ColumnElement[bool]] = []
        if delivery_ids:
            chosen.append(_d.c.id.in_(list(delivery_ids)))
        if event_id is not None:
            chosen.append(_d.c.event_id == event_id)
        if not chosen:
            return 0
        values = {
            "delivered_at": None,
            "attempts": 0,
            "next_attempt_at": now_ms(),
            "last_error": None,
        }

        def unit(conn: Connection) -> int:
            return int(conn.execute(update(_d).where(or_(*chosen)).values(**values)).rowcount)

        count = await self.db.run(unit, write=True)
        self._wake.set()
        return count

    # -- the worker

    def start(self) -> None:
        if self._task is None:
            self._wake = asyncio.Event()  # on the loop that runs the worker
            self._task = asyncio.get_running_loop().create_task(self._work_forever())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self.transport.close()

    def wake(self) -> None:
        self._wake.set()

    async def _work_forever(self) -> None:
        while True:
            try:
                await self.refresh()
                while await self.deliver_due():
                    pass
            except Exception as exc:  # the database may be away: try again next time
                log.warning("webhook deliveries failed to run: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_S)
            self._wake.clear()

    async def deliver_due(self) -> int:
        """Claim and send what is due now; how many were attempted."""
        now = now_ms()
        if not await self.db.run(partial(_anything_due, now)):
            return 0
        claimed = await self.db.run(partial(_claim, now), write=True)
        if not claimed:
            return 0
        results = await asyncio.gather(*(self._send(row) for row in claimed))
        await self.db.run(partial(_record, list(results)), write=True)
        return len(claimed)

    async def _send(self, row: Any) -> dict[str, Any]:
        body = row.payload.encode()
        stamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "webhook-id": row.event_id,
            "webhook-timestamp": str(stamp),
            "webhook-signature": signature(row.secret, row.event_id, stamp, body),
        }
        status: int | None = None
        error: str | None = None
        try:
            status = await self.transport.post(row.url, body, headers)
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except WebhookSendError as exc:
            error = str(exc)[:500]
        now = now_ms()
        result = {"delivery": row.id, "status": status, "error": error}
        if error is None:
            self.delivered += 1
            return {**result, "delivered_at": now, "next_at": now}
        self.failed += 1
        attempt = row.attempts  # retries so far
        delay = self.retry_delays[attempt] if attempt < len(self.retry_delays) else None
        next_at = GAVE_UP if delay is None else now + int(delay * 1000)
        return {**result, "delivered_at": None, "next_at": next_at}


def _insert_endpoint(endpoint: Endpoint, conn: Connection) -> None:
    conn.execute(
        insert(_e).values(
            id=endpoint.id,
            app_id=endpoint.app_id,
            url=endpoint.url,
            secret=endpoint.secret,
            enabled=endpoint.enabled,
            created_at=now_ms(),
        )
    )
    conn.execute(
        insert(_s),
        [{"endpoint_id": endpoint.id, "event_type": name} for name in endpoint.event_types],
    )


def _list_endpoints(conn: Connection) -> list[Endpoint]:
    rows = conn.execute(select(_e).order_by(_e.c.created_at, _e.c.id)).all()
    types: dict[str, list[str]] = {}
    for endpoint_id, event_type in conn.execute(select(_s.c.endpoint_id, _s.c.event_type)):
        types.setdefault(endpoint_id, []).append(event_type)
    return [
        Endpoint(
            r.id, r.app_id, r.url, r.secret, bool(r.enabled), tuple(sorted(types.get(r.id, [])))
        )
        for r in rows
    ]


def _delivery(row: Any) -> Delivery:
    return Delivery(
        id=row.id,
        endpoint_id=row.endpoint_id,
        event_id=row.event_id,
        event_type=row.event_type,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        delivered_at=row.delivered_at,
        last_status=row.last_status,
        last_error=row.last_error,
    )
