"""Revoked sessions, refused by every instance within a second, with no read per request.

Verifying an access token is an in-memory check (signature and expiry, cached), so a
session revoked on one instance would stay valid on the others until its access
tokens expire. Instead:

- Revoking a session (sign-out, revoke all, a password change, theft detection, user
  deletion) writes a row to `revoked_sessions` in the same transaction: the handle and
  when the last access token it may have handed out expires. (A sink of the event
  stream: every `SessionRevoked` event that is recorded writes it.)
- Every instance keeps the revoked handles in a dict (`RevokedSessions`) that
  verification looks up: no database read per request.
- Instances learn of rows as they are committed: PostgreSQL LISTEN/NOTIFY (the NOTIFY
  is sent inside the revoking transaction, so it is delivered if and only if it
  commits), or Redis pub/sub when `redis_url` is set (published right after the
  commit), or, for SQLite (one host, several processes sharing the file), by polling
  the table by its increasing ID every `POLL_FAST_S`: one indexed query, not one per
  request.
- A channel can lose messages (a connection drops; a process dies between its commit
  and its Redis publish). So an instance catches up from the table by ID whenever it
  (re)connects — after it is listening, so nothing falls between — polls fast while
  its channel is down, and reads the table every `POLL_SAFETY_S` even while it is up.

Rows are swept (core/housekeeping.py) once their access tokens have expired.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Protocol

from sqlalchemy import bindparam, insert, select, text
from sqlalchemy.engine import Connection

from doorkeep.core.common import now_ms
from doorkeep.core.events import Event, SessionRevoked
from doorkeep.storage import Database
from doorkeep.storage import tables as t

log = logging.getLogger("doorkeep.revocation")

POLL_FAST_S = 0.25  # SQLite, or while a channel is down
POLL_SAFETY_S = 5.0  # with a channel up: a lost message is noticed within this
GAP_WAIT_S = 10.0  # an ID still missing after this was rolled back (PostgreSQL sequences)
PRUNE_EVERY_S = 60.0
RECONNECT_EVERY_S = 2.0
BATCH = 1000
PG_CHANNEL = "doorkeep_revoked"
REDIS_CHANNEL = "doorkeep:revoked"
_NOTIFY_ROWS = 40  # revocations per NOTIFY: a payload stays under PostgreSQL's 8000 bytes

# (id or None when a message does not carry it, session handle, expiry in ms)
Revocation = tuple[int | None, str, int]

_r = t.revoked_sessions
_INSERT = insert(_r).returning(_r.c.id, _r.c.session_handle, _r.c.expires_at)
_SINCE = (
    select(_r.c.id, _r.c.session_handle, _r.c.expires_at)
    .where(_r.c.id > bindparam("after"))
    .order_by(_r.c.id)
    .limit(bindparam("batch"))
)
_NOTIFY = text("SELECT pg_notify(:channel, :payload)")


class RevokedSessions:
    """The handles this process refuses: handle -> when its last access token expires
    (ms). `handles` is a plain dict so that verification costs one lookup."""

    def __init__(self) -> None:
        self.handles: dict[str, int] = {}

    def add(self, handle: str, expires_at: int) -> None:
        if self.handles.get(handle, 0) < expires_at:
            self.handles[handle] = expires_at

    def refuse(self, events: Sequence[Event]) -> None:
        """Refuse the sessions these events revoke (here, at once)."""
        for event in events:
            if isinstance(event, SessionRevoked):
                self.add(event.session_handle, event.access_token_expiry or now_ms())

    def __contains__(self, handle: object) -> bool:
        return handle in self.handles

    def prune(self, now: int) -> int:
        """Forget handles whose access tokens have all expired; how many were forgotten."""
        expired = [h for h, expires in list(self.handles.items()) if expires <= now]
        for handle in expired:
            self.handles.pop(handle, None)
        return len(expired)


class Cursor:
    """The highest ID below which every row has been read. IDs of PostgreSQL's sequence
    may commit out of order (or never, when their transaction rolls back): an ID
    missing below one already seen is waited for `GAP_WAIT_S`, and re-read until then."""

    def __init__(self, gap_wait_s: float = GAP_WAIT_S) -> None:
        self.floor = 0
        self._seen: set[int] = set()
        self._gap_since: float | None = None
        self._gap_wait_s = gap_wait_s

    def see(self, ids: Sequence[int], *, clock: Callable[[], float] = time.monotonic) -> None:
        self._seen.update(i for i in ids if i > self.floor)
        self._advance()
        if not self._seen:
            self._gap_since = None
            return
        now = clock()
        if self._gap_since is None:
            self._gap_since = now
        elif now - self._gap_since >= self._gap_wait_s:
            self.floor = min(self._seen) - 1  # the missing IDs are not coming
            self._gap_since = None
            self._advance()

    def start_at(self, first_id: int) -> None:
        """Rows below the table's first one were swept: nothing to wait for there."""
        if self.floor == 0 and first_id > 1:
            self.floor = first_id - 1
            self._advance()

    def _advance(self) -> None:
        while self.floor + 1 in self._seen:
            self.floor += 1
            self._seen.discard(self.floor)


# -- storage --------------------------------------------------------------------------------


def write_revocations(conn: Connection, events: Sequence[Event], *, notify: bool) -> None:
    """The sink: one row per revoked session (and, on PostgreSQL, its NOTIFY), in the
    transaction that revokes it."""
    now = now_ms()
    rows = [
        {
            "app_id": e.app_id,
            "session_handle": e.session_handle,
            "revoked_at": now,
            "expires_at": e.access_token_expiry or now,
        }
        for e in events
        if isinstance(e, SessionRevoked)
    ]
    if not rows:
        return
    written = [tuple(r) for r in conn.execute(_INSERT, rows).all()]
    if notify:
        for start in range(0, len(written), _NOTIFY_ROWS):
            payload = json.dumps(written[start : start + _NOTIFY_ROWS])
            conn.execute(_NOTIFY, {"channel": PG_CHANNEL, "payload": payload})


def rows_since(after: int, batch: int, conn: Connection) -> list[Revocation]:
    """Rows with an ID above `after`, oldest first."""
    found = conn.execute(_SINCE, {"after": after, "batch": batch}).all()
    return [(row.id, row.session_handle, row.expires_at) for row in found]


def decode(payload: str | bytes) -> list[Revocation]:
    """A channel message: a JSON list of [id or null, handle, expiry]."""
    items = json.loads(payload)
    if not isinstance(items, list):
        raise ValueError("a revocation message is a list")
    decoded: list[Revocation] = []
    for item in items:
        row_id, handle, expires = item
        if not isinstance(handle, str) or not isinstance(expires, int):
            raise ValueError("a revocation is [id, handle, expiry]")
        decoded.append((row_id if isinstance(row_id, int) else None, handle, expires))
    return decoded


# -- channels -------------------------------------------------------------------------------

OnMessage = Callable[[list[Revocation]], None]


class Channel(Protocol):
    """How revocations reach the other instances at once."""

    @property
    def connected(self) -> bool: ...

    @property
    def notifies_in_transaction(self) -> bool:
        """True: the sink sends the message inside the transaction (PostgreSQL NOTIFY)."""

    async def connect(self, on_message: OnMessage) -> None:
        """Listen (when this returns, every later message reaches `on_message`)."""

    async def check(self) -> None:
        """Raise if the connection is gone (a dead one may not say so by itself)."""

    async def publish(self, revocations: list[Revocation]) -> None:
        """Send after the commit (channels that do not notify in the transaction)."""

    async def disconnect(self) -> None:
        """Drop the connection (`connect` makes a new one)."""

    async def close(self) -> None:
        """For good: the process is done with the channel."""


# -- the feed -------------------------------------------------------------------------------


@dataclass
class FeedStats:
    """What the feed did (metrics, tests): reads of the table, and messages taken."""

    reads: int = 0
    messages: int = 0


class RevocationFeed:
    """Keeps `revoked` up to date from the table and the channel (see the module)."""

    def __init__(
        self,
        db: Database,
        revoked: RevokedSessions,
        channel: Channel | None,
        *,
        poll_fast_s: float = POLL_FAST_S,
        poll_safety_s: float = POLL_SAFETY_S,
    ) -> None:
        self.db = db
        self.revoked = revoked
        self.channel = channel
        self.cursor = Cursor()
        self.stats = FeedStats()
        self.poll_fast_s = poll_fast_s
        self.poll_safety_s = poll_safety_s
        self._task: asyncio.Task[None] | None = None
        self._wakeup = asyncio.Event()
        self._last_prune = time.monotonic()
        self._last_connect_try = 0.0

    # -- the event stream's side

    def sink(self, conn: Connection, events: Sequence[Event]) -> None:
        notify = self.channel is not None and self.channel.notifies_in_transaction
        write_revocations(conn, events, notify=notify)

    def on_revoked(self, event: Event) -> Awaitable[None] | None:
        """Subscriber: refuse the session here at once; tell the others if the channel
        did not go with the transaction."""
        if not isinstance(event, SessionRevoked):
            return None
        self.revoked.add(event.session_handle, event.access_token_expiry or now_ms())
        channel = self.channel
        if channel is None or channel.notifies_in_transaction or not channel.connected:
            return None  # a poll will bring it to the others
        return self._publish(channel, [(None, event.session_handle, event.access_token_expiry)])

    @staticmethod
    async def _publish(channel: Channel, revocations: list[Revocation]) -> None:
        try:
            await channel.publish(revocations)
        except Exception as exc:  # the others catch up from the table
            log.warning("publishing a revocation failed: %s", exc)

    # -- running

    async def start(self) -> None:
        """Read every live revocation, start listening, and keep following."""
        await self.catch_up()
        await self._connect()
        if self._task is None:
            self._wakeup = asyncio.Event()  # on the loop that runs the feed
            self._task = asyncio.get_running_loop().create_task(self._follow())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if self.channel is not None:
            with contextlib.suppress(Exception):
                await self.channel.close()

    async def catch_up(self) -> int:
        """Read the rows after the cursor; how many were read."""
        total = 0
        while True:
            rows = await self.db.run(partial(rows_since, self.cursor.floor, BATCH))
            self.stats.reads += 1
            if rows and self.cursor.floor == 0:
                first = rows[0][0]
                assert first is not None
                self.cursor.start_at(first)
            self._take(rows)
            total += len(rows)
            if len(rows) < BATCH:
                return total

    def _take(self, rows: list[Revocation]) -> None:
        now = now_ms()
        for _, handle, expires in rows:
            if expires > now:
                self.revoked.add(handle, expires)
        self.cursor.see([row_id for row_id, _, _ in rows if row_id is not None])

    def _on_message(self, rows: list[Revocation]) -> None:
        self.stats.messages += 1
        self._take(rows)

    async def _connect(self) -> None:
        channel = self.channel
        if channel is None or channel.connected:
            return
        self._last_connect_try = time.monotonic()
        try:
            # Late-bound, so that a test can stand in for the handler (a lost message).
            await channel.connect(lambda rows: self._on_message(rows))
        except Exception as exc:
            log.warning("revocation channel unavailable (polling meanwhile): %s", exc)
            return
        await self.catch_up()  # what was committed before we listened

    def wake(self) -> None:
        """Poll now instead of at the next interval (after changing an interval)."""
        self._wakeup.set()

    async def _follow(self) -> None:
        while True:
            channel = self.channel
            up = channel is not None and channel.connected
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._wakeup.wait(), self.poll_safety_s if up else self.poll_fast_s
                )
            self._wakeup.clear()
            try:
                await self._tick(channel)
            except Exception as exc:  # the database may be away: try again next time
                log.warning("following revocations failed: %s", exc)

    async def _tick(self, channel: Channel | None) -> None:
        if channel is not None and channel.connected:
            try:
                await channel.check()
            except Exception as exc:
                log.warning("revocation channel lost (polling meanwhile): %s", exc)
                with contextlib.suppress(Exception):
                    await channel.disconnect()
        if (
            channel is not None
            and not channel.connected
            and time.monotonic() - self._last_connect_try >= RECONNECT_EVERY_S
        ):
            await self._connect()
        await self.catch_up()
        if time.monotonic() - self._last_prune >= PRUNE_EVERY_S:
            self._last_prune = time.monotonic()
            self.revoked.prune(now_ms())
