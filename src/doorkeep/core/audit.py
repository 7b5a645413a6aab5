"""The audit trail: security events persisted per user, append-only, tamper-evident.

A subscriber of the event stream queues the security events that concern a user
(`AUDITED`); a writer appends them in batches, each batch one transaction. Every row
carries `digest = SHA-256(prev_digest + canonical JSON of the row)` and the previous
row's digest as `prev_digest`, so that `verify()` (`doorkeep audit verify`) notices an
edited row (its digest no longer follows from its content), a rewritten one (the next
row recorded another digest for it), deleted rows (the next row recorded another
predecessor) and deleted newest rows (the anchor names a newer head), and names the
first bad row.

One chain for every instance: an append locks the chain's anchor row (`FOR UPDATE` on
PostgreSQL; SQLite's single writer does it there) and reads the head from it, so two
instances appending at once still form one chain, in ID order.

Retention (`audit_retention_days`): the sweep deletes the oldest rows and moves the
anchor's base (the last deleted row's ID and digest) in the same transaction, so the
remaining rows still verify from it.

The queue lives in memory: the trail is written right after the commit, not in the
same transaction (a crash in between loses the queued rows; the webhook outbox is the
durable channel).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.engine import Connection, Row

from doorkeep.core.events import Event, EventKind
from doorkeep.storage import Database
from doorkeep.storage import tables as t

log = logging.getLogger("doorkeep.audit")

CHAIN = "audit"
GENESIS = "0" * 64
BATCH = 500  # rows per append and per page of verification
MAX_QUEUED = 50_000  # beyond this (a database away for long) the oldest are dropped
RETRY_AFTER_S = 2.0
AUDITED = frozenset(
    {
        EventKind.USER_CREATED,
        EventKind.USER_DELETED,
        EventKind.SIGN_IN_SUCCEEDED,
        EventKind.SIGN_IN_FAILED,
        EventKind.SESSION_REVOKED,
        EventKind.TOKEN_THEFT_DETECTED,
        EventKind.PASSWORD_CHANGED,
        EventKind.EMAIL_CHANGED,
        EventKind.EMAIL_VERIFIED,
        EventKind.PASSWORD_RESET_REQUESTED,
        EventKind.PASSWORD_RESET_COMPLETED,
        EventKind.ROLE_CHANGED,
    }
)
# The columns a digest covers, in the canonical JSON (every column but id and digests).
CONTENT = (
    "event_id",
    "app_id",
    "tenant_id",
    "user_id",
    "kind",
    "time",
    "outcome",
    "ip",
    "user_agent",
    "request_id",
    "data",
)
_MAX = {"ip": 64, "user_agent": 300, "request_id": 128}

_a, _anchor = t.audit_log, t.audit_anchor
_INSERT = insert(_a)
_PAGE = (
    select(_a.c.id, _a.c.prev_digest, _a.c.digest, *(_a.c[name] for name in CONTENT))
    .where(_a.c.id > bindparam("after"))
    .order_by(_a.c.id)
    .limit(bindparam("batch"))
)


def canonical(row: dict[str, Any]) -> str:
    """The JSON a digest covers: the content columns, sorted keys, no spaces."""
    return json.dumps(
        {name: row[name] for name in CONTENT},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def chain_digest(prev_digest: str, row: dict[str, Any]) -> str:
    return hashlib.sha256((prev_digest + canonical(row)).encode()).hexdigest()


def row_of(event: Event) -> dict[str, Any]:
    """The audit row of an event (content columns only)."""
    details = {k: list(v) if isinstance(v, tuple) else v for k, v in event.details().items()}
    details.pop("access_token_expiry", None)  # bookkeeping, not what happened
    row: dict[str, Any] = {
        "event_id": event.id,
        "app_id": event.app_id,
        "tenant_id": event.tenant_id,
        "user_id": event.user_id,
        "kind": str(event.kind),
        "time": event.time,
        "outcome": event.outcome,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "request_id": event.request_id,
        "data": json.dumps(details, sort_keys=True, separators=(",", ":")),
    }
    for name, longest in _MAX.items():
        if isinstance(row[name], str):
            row[name] = row[name][:longest]
    return row


@dataclass(frozen=True)
class AuditEntry:
    """One row of the trail, as the account page and the CLI show it."""

    id: int
    kind: str
    time: int
    outcome: str
    tenant_id: str | None
    user_id: str | None
    ip: str | None
    user_agent: str | None
    data: dict[str, Any]


@dataclass(frozen=True)
class Verdict:
    """What `verify` found: ok, how many rows it checked, and the first bad row."""

    ok: bool
    rows: int
    bad_row: int | None = None
    reason: str = ""


# -- units of work (one transaction each) -------------------------------------------------


def _locked_anchor(conn: Connection) -> Row[Any]:
    """The chain's anchor row, locked until the transaction ends (made if missing)."""
    query = select(_anchor).where(_anchor.c.chain == CHAIN).with_for_update()
    found = conn.execute(query).first()
    if found is not None:
        return found
    start = {"base_id": 0, "base_digest": GENESIS, "head_id": 0, "head_digest": GENESIS}
    dialect = conn.dialect.name
    if dialect in ("postgresql", "sqlite"):
        from sqlalchemy.dialects.postgresql import insert as pg_insert
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        insert_ = pg_insert if dialect == "postgresql" else sqlite_insert
        conn.execute(insert_(_anchor).values(chain=CHAIN, **start).on_conflict_do_nothing())
    row = conn.execute(query).first()
    assert row is not None
    return row


def append(rows: Sequence[dict[str, Any]], conn: Connection) -> int:
    """Append `rows` (content columns) to the chain, in order; the new head's ID."""
    anchor = _locked_anchor(conn)
    prev = anchor.head_digest
    head_id = anchor.head_id
    for row in rows:
        digest = chain_digest(prev, row)
        head_id = conn.execute(
            _INSERT.values(**row, prev_digest=prev, digest=digest).returning(_a.c.id)
        ).scalar_one()
        prev = digest
    conn.execute(
        update(_anchor).where(_anchor.c.chain == CHAIN).values(head_id=head_id, head_digest=prev)
    )
    return int(head_id)


def sweep(before_ms: int, batch: int, conn: Connection) -> int:
    """Delete up to `batch` of the oldest rows older than `before_ms`, moving the
    anchor's base past them; how many were deleted."""
    anchor = _locked_anchor(conn)
    oldest = conn.execute(_PAGE, {"after": anchor.base_id, "batch": batch}).all()
    doomed = []
    for row in oldest:  # only a prefix: the chain must stay whole after the base
        if row.time >= before_ms:
            break
        doomed.append(row)
    if not doomed:
        return 0
    last = doomed[-1]
    conn.execute(delete(_a).where(_a.c.id > anchor.base_id, _a.c.id <= last.id))
    conn.execute(
        update(_anchor)
        .where(_anchor.c.chain == CHAIN)
        .values(base_id=last.id, base_digest=last.digest)
    )
    return len(doomed)


def _read_anchor(conn: Connection) -> Row[Any] | None:
    return conn.execute(select(_anchor).where(_anchor.c.chain == CHAIN)).first()


def _page(after: int, batch: int, conn: Connection) -> list[Row[Any]]:
    return list(conn.execute(_PAGE, {"after": after, "batch": batch}).all())


def check_rows(
    rows: Sequence[Row[Any]], prev_id: int, prev_digest: str
) -> Iterator[tuple[int, str]]:
    """(bad row ID, reason) for each row that does not follow from its predecessor."""
    for row in rows:
        content = {name: getattr(row, name) for name in CONTENT}
        if chain_digest(row.prev_digest, content) != row.digest:
            yield row.id, f"row {row.id} was edited: its digest does not match its content"
        elif row.prev_digest != prev_digest and row.id != prev_id + 1:
            yield (
                prev_id + 1,
                (
                    f"rows {prev_id + 1} to {row.id - 1} were deleted: row {row.id} follows "
                    f"another row than row {prev_id}"
                ),
            )
        elif row.prev_digest != prev_digest:
            yield prev_id, f"row {prev_id} was rewritten: row {row.id} recorded another digest"
        prev_id, prev_digest = row.id, row.digest


# -- the trail ------------------------------------------------------------------------------


class AuditTrail:
    """Subscribe `on_event` to the stream, `start()` the writer; read and verify here."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._queue: list[dict[str, Any]] = []
        self._queued = asyncio.Event()
        self._writing = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0

    @property
    def queue_depth(self) -> int:
        return len(self._queue)

    def on_event(self, event: Event) -> None:
        """Subscriber: queue a security event that concerns a user."""
        if event.kind not in AUDITED or event.user_id is None:
            return
        self._queue.append(row_of(event))
        if len(self._queue) > MAX_QUEUED:
            excess = len(self._queue) - MAX_QUEUED
            del self._queue[:excess]
            self.dropped += excess
            log.error("audit queue full: %d oldest events dropped", excess)
        self._queued.set()

    def start(self) -> None:
        if self._task is None:
            # Made on the loop that runs the writer (an instance may be started again on
            # another loop after a close): asyncio's primitives belong to one loop.
            self._queued, self._writing = asyncio.Event(), asyncio.Lock()
            if self._queue:
                self._queued.set()
            self._task = asyncio.get_running_loop().create_task(self._write_forever())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        with contextlib.suppress(Exception):
            async with asyncio.timeout(5):
                await self.flush()

    async def flush(self) -> None:
        """Write everything queued so far (tests, shutdown), one batch at a time: the
        writer and a caller never write the same rows, and rows keep their order."""
        async with self._writing:
            while self._queue:
                batch = self._queue[:BATCH]
                del self._queue[: len(batch)]
                try:
                    await self.db.run(partial(append, batch), write=True)
                except BaseException:
                    self._queue[:0] = batch  # kept, in order, for the next try
                    raise

    async def _write_forever(self) -> None:
        while True:
            await self._queued.wait()
            self._queued.clear()
            try:
                await self.flush()
            except Exception as exc:  # the database may be away: keep the queue, retry
                log.warning("writing the audit trail failed (will retry): %s", exc)
                await asyncio.sleep(RETRY_AFTER_S)
                self._queued.set()

    # -- reading

    async def recent(self, app_id: str, user_id: str, limit: int = 20) -> list[AuditEntry]:
        """The user's newest entries first."""
        query = (
            select(_a)
            .where(_a.c.app_id == app_id, _a.c.user_id == user_id)
            .order_by(_a.c.id.desc())
            .limit(limit)
        )
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [_entry(row) for row in rows]

    async def verify(self) -> Verdict:
        """Walk the chain from the anchor's base to its head; the first bad row, if any."""
        anchor = await self.db.run(_read_anchor)
        if anchor is None:
            rows = await self.db.run(partial(_page, 0, 1))
            if rows:
                return Verdict(False, 0, rows[0].id, "the anchor row of the chain is missing")
            return Verdict(True, 0)
        prev_id, prev_digest, checked = anchor.base_id, anchor.base_digest, 0
        while True:
            rows = await self.db.run(partial(_page, prev_id, BATCH))
            for bad, reason in check_rows(rows, prev_id, prev_digest):
                return Verdict(False, checked, bad, reason)
            if not rows:
                break
            checked += len(rows)
            prev_id, prev_digest = rows[-1].id, rows[-1].digest
        if (prev_id, prev_digest) != (anchor.head_id, anchor.head_digest):
            if prev_id < anchor.head_id:
                reason = f"rows after row {prev_id} up to row {anchor.head_id} were deleted"
                return Verdict(False, checked, anchor.head_id, reason)
            return Verdict(False, checked, prev_id, f"row {prev_id} is not the chain's head")
        return Verdict(True, checked)

    async def sweep(self, before_ms: int, *, batch: int = 1000) -> int:
        """Delete rows older than `before_ms` (oldest first); how many."""
        total = 0
        while True:
            count = await self.db.run(partial(sweep, before_ms, batch), write=True)
            total += count
            if count < batch:
                return total


def _entry(row: Row[Any]) -> AuditEntry:
    try:
        data = json.loads(row.data)
    except ValueError:
        data = {}
    return AuditEntry(
        id=row.id,
        kind=row.kind,
        time=row.time,
        outcome=row.outcome,
        tenant_id=row.tenant_id,
        user_id=row.user_id,
        ip=row.ip,
        user_agent=row.user_agent,
        data=data if isinstance(data, dict) else {},
    )
