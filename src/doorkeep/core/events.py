"""The event stream: what happened, reported once by the core, recipes and flows.

Every security-relevant thing that happens (a user created, a sign-in that failed, a
session revoked, ...) is one typed, immutable `Event`, published on one `Events` bus.
Logs, metrics, the audit trail, webhooks and cross-instance revocation all hang off
it; none of them is wired into a flow by hand. Applications subscribe too:

    def on_event(event: Event) -> None:          # or `async def`
        if isinstance(event, SignInFailed):
            ...

    dk.events.subscribe(on_event, kinds=[EventKind.SIGN_IN_FAILED])

Two ways in:

- `publish(event)`: after the fact (after the commit). Synchronous and cheap: with no
  subscriber for the kind it is a dict lookup and returns; sync subscribers run
  inline, async ones are scheduled as tasks. A subscriber that raises is logged and
  never breaks the operation that published.
- `record(conn, events)` / `record_async(conn, events)`: inside the transaction that
  made it happen, for the sinks that must commit or roll back with it (the revocation
  table, the webhook outbox). It returns the events marked `recorded`, to publish
  after the commit. A sink that raises fails the transaction: what it writes is part
  of the operation.

Who did it (IP, user agent, request ID) comes from the request being answered, which
the web layer puts in `request_origin` (doorkeep.logs.ScopeOrigin, set by the middleware).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from typing import Any, ClassVar, Literal, Protocol, TypeVar

from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from doorkeep.core.common import PUBLIC, new_id, now_ms

log = logging.getLogger("doorkeep.events")

Outcome = Literal["success", "failure"]


class EventKind(StrEnum):
    """Event names (stable: webhooks and audit rows carry them)."""

    USER_CREATED = "user.created"
    USER_DELETED = "user.deleted"
    SIGN_IN_SUCCEEDED = "sign_in.succeeded"
    SIGN_IN_FAILED = "sign_in.failed"
    SESSION_CREATED = "session.created"
    SESSION_REFRESHED = "session.refreshed"
    SESSION_REVOKED = "session.revoked"
    TOKEN_THEFT_DETECTED = "session.theft_detected"
    PASSWORD_CHANGED = "password.changed"
    EMAIL_CHANGED = "email.changed"
    EMAIL_VERIFICATION_SENT = "email_verification.sent"
    EMAIL_VERIFIED = "email_verification.confirmed"
    PASSWORD_RESET_REQUESTED = "password_reset.requested"
    PASSWORD_RESET_COMPLETED = "password_reset.completed"
    RATE_LIMITED = "rate_limit.exceeded"
    PASSWORDLESS_CODE_SENT = "passwordless.code_sent"
    ROLE_CHANGED = "role.changed"


# -- who did it ------------------------------------------------------------------------------


class Origin(Protocol):
    """Who is asking: the client's address, user agent and request ID (read when an
    event is made, so that a web layer may work them out only then)."""

    @property
    def ip(self) -> str | None: ...

    @property
    def user_agent(self) -> str | None: ...

    @property
    def request_id(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class RequestOrigin:
    """The request being answered: the client's address, user agent and request ID."""

    ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None


request_origin: ContextVar[Origin | None] = ContextVar("doorkeep_request_origin", default=None)


def _origin() -> Origin:
    return request_origin.get() or _NO_ORIGIN


_NO_ORIGIN = RequestOrigin()


def _ip() -> str | None:
    return _origin().ip


def _user_agent() -> str | None:
    return _origin().user_agent


def _request_id() -> str | None:
    return _origin().request_id


# -- the events ------------------------------------------------------------------------------

_COMMON = frozenset(
    {"id", "time", "app_id", "tenant_id", "user_id", "ip", "user_agent", "request_id"}
    | {"outcome", "recorded"}
)


@dataclass(frozen=True, kw_only=True, slots=True)
class Event:
    """What every event carries. `user_id` is as callers know the user (the external ID
    when mapped, where the reporter knows it); `recorded`: already written by the
    transactional sinks in the transaction that made it happen."""

    kind: ClassVar[EventKind]
    id: str = field(default_factory=new_id)
    time: int = field(default_factory=now_ms)  # ms since the epoch, UTC
    app_id: str = PUBLIC
    tenant_id: str | None = None
    user_id: str | None = None
    ip: str | None = field(default_factory=_ip)
    user_agent: str | None = field(default_factory=_user_agent)
    request_id: str | None = field(default_factory=_request_id)
    outcome: Outcome = "success"
    recorded: bool = False

    def details(self) -> dict[str, Any]:
        """The fields of this kind of event (beyond the common ones)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _COMMON}

    def to_json(self) -> dict[str, Any]:
        """The event as plain JSON values (webhooks, audit rows)."""
        return {
            "id": self.id,
            "type": str(self.kind),
            "time": self.time,
            "appId": self.app_id,
            "tenantId": self.tenant_id,
            "userId": self.user_id,
            "ip": self.ip,
            "userAgent": self.user_agent,
            "requestId": self.request_id,
            "outcome": self.outcome,
            "data": {k: list(v) if isinstance(v, tuple) else v for k, v in self.details().items()},
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class UserCreated(Event):
    kind = EventKind.USER_CREATED
    method: str  # the recipe: emailpassword, passwordless


@dataclass(frozen=True, kw_only=True, slots=True)
class UserDeleted(Event):
    kind = EventKind.USER_DELETED


@dataclass(frozen=True, kw_only=True, slots=True)
class SignedIn(Event):
    kind = EventKind.SIGN_IN_SUCCEEDED
    method: str


@dataclass(frozen=True, kw_only=True, slots=True)
class SignInFailed(Event):
    """`user_id` is set when the account exists (the answer to the client never says)."""

    kind = EventKind.SIGN_IN_FAILED
    method: str
    reason: str = "wrong_credentials"
    outcome: Outcome = "failure"


@dataclass(frozen=True, kw_only=True, slots=True)
class SessionCreated(Event):
    kind = EventKind.SESSION_CREATED
    session_handle: str


@dataclass(frozen=True, kw_only=True, slots=True)
class SessionRefreshed(Event):
    kind = EventKind.SESSION_REFRESHED
    session_handle: str


@dataclass(frozen=True, kw_only=True, slots=True)
class SessionRevoked(Event):
    """One session ended before its time: its access tokens are refused everywhere.
    `access_token_expiry`: when the last access token it may have handed out expires
    (ms), after which remembering the revocation is moot."""

    kind = EventKind.SESSION_REVOKED
    session_handle: str
    reason: str = "revoked"  # revoked, user_deleted, theft_detected
    access_token_expiry: int = 0


@dataclass(frozen=True, kw_only=True, slots=True)
class TokenTheftDetected(Event):
    kind = EventKind.TOKEN_THEFT_DETECTED
    session_handle: str
    outcome: Outcome = "failure"


@dataclass(frozen=True, kw_only=True, slots=True)
class PasswordChanged(Event):
    kind = EventKind.PASSWORD_CHANGED
    via: str = "update"  # update, reset


@dataclass(frozen=True, kw_only=True, slots=True)
class EmailChanged(Event):
    kind = EventKind.EMAIL_CHANGED


@dataclass(frozen=True, kw_only=True, slots=True)
class EmailVerificationSent(Event):
    kind = EventKind.EMAIL_VERIFICATION_SENT


@dataclass(frozen=True, kw_only=True, slots=True)
class EmailVerified(Event):
    kind = EventKind.EMAIL_VERIFIED


@dataclass(frozen=True, kw_only=True, slots=True)
class PasswordResetRequested(Event):
    kind = EventKind.PASSWORD_RESET_REQUESTED


@dataclass(frozen=True, kw_only=True, slots=True)
class PasswordResetCompleted(Event):
    kind = EventKind.PASSWORD_RESET_COMPLETED


@dataclass(frozen=True, kw_only=True, slots=True)
class RateLimited(Event):
    """An attempt refused by a rate limit; `limit` names the counter (e.g. sign-in-ip)."""

    kind = EventKind.RATE_LIMITED
    limit: str
    outcome: Outcome = "failure"


@dataclass(frozen=True, kw_only=True, slots=True)
class PasswordlessCodeSent(Event):
    kind = EventKind.PASSWORDLESS_CODE_SENT
    channel: str  # email, sms


@dataclass(frozen=True, kw_only=True, slots=True)
class RoleChanged(Event):
    kind = EventKind.ROLE_CHANGED
    role: str
    change: str  # added, removed


EVENT_TYPES: dict[EventKind, type[Event]] = {
    cls.kind: cls
    for cls in (
        UserCreated,
        UserDeleted,
        SignedIn,
        SignInFailed,
        SessionCreated,
        SessionRefreshed,
        SessionRevoked,
        TokenTheftDetected,
        PasswordChanged,
        EmailChanged,
        EmailVerificationSent,
        EmailVerified,
        PasswordResetRequested,
        PasswordResetCompleted,
        RateLimited,
        PasswordlessCodeSent,
        RoleChanged,
    )
}


# -- the bus ---------------------------------------------------------------------------------

Subscriber = Callable[[Event], Awaitable[None] | None]
# A transactional sink: writes for the events on the transaction's (sync) connection.
Sink = Callable[[Connection, Sequence[Event]], None]
E = TypeVar("E", bound=Event)


@dataclass(frozen=True, eq=False)
class Subscription:
    """What `subscribe` returns: `cancel()` stops the deliveries."""

    callback: Subscriber
    kinds: frozenset[EventKind]
    _bus: Events

    def cancel(self) -> None:
        self._bus._remove(self)


class Events:
    """The bus. Subscribing is rare and rebuilds immutable tuples, so that publishing (on
    every operation) reads them without a lock, from any thread."""

    def __init__(self) -> None:
        self._subscriptions: tuple[Subscription, ...] = ()
        self._by_kind: dict[EventKind, tuple[Subscriber, ...]] = {}
        self._sinks: tuple[tuple[Sink, frozenset[EventKind]], ...] = ()
        self._sink_kinds: frozenset[EventKind] = frozenset()
        self._tasks: set[asyncio.Future[None]] = set()

    # -- subscribing

    def subscribe(
        self, callback: Subscriber, kinds: Iterable[EventKind | str] | None = None
    ) -> Subscription:
        """Call `callback(event)` for every event of `kinds` (None: all) published from
        now on. An async callback runs as a task; a sync one inline (keep it quick)."""
        chosen = frozenset(EventKind) if kinds is None else frozenset(map(EventKind, kinds))
        subscription = Subscription(callback, chosen, self)
        self._subscriptions = (*self._subscriptions, subscription)
        self._rebuild()
        return subscription

    def _remove(self, subscription: Subscription) -> None:
        self._subscriptions = tuple(s for s in self._subscriptions if s is not subscription)
        self._rebuild()

    def _rebuild(self) -> None:
        self._by_kind = {
            kind: tuple(s.callback for s in self._subscriptions if kind in s.kinds)
            for kind in EventKind
        }

    def add_sink(self, sink: Sink, kinds: Iterable[EventKind] | None = None) -> None:
        """Run `sink(conn, events)` inside the transaction of every recorded event of
        `kinds` (None: all)."""
        chosen = frozenset(EventKind) if kinds is None else frozenset(kinds)
        self._sinks = (*self._sinks, (sink, chosen))
        self._sink_kinds = self._sink_kinds | chosen

    def wants(self, kind: EventKind) -> bool:
        """Whether anything listens to `kind` (skip building an event nobody reads)."""
        return bool(self._by_kind.get(kind)) or kind in self._sink_kinds

    # -- publishing

    def publish(self, event: Event) -> None:
        """Deliver `event` to its subscribers (after the fact; never raises)."""
        callbacks = self._by_kind.get(event.kind)
        if not callbacks:
            return
        for callback in callbacks:
            try:
                result = callback(event)
            except Exception:
                log.exception("event subscriber %r failed on %s", callback, event.kind)
                continue
            if result is not None:
                self._schedule(result, callback, event)

    def publish_all(self, events: Iterable[Event]) -> None:
        for event in events:
            self.publish(event)

    def _schedule(self, result: Awaitable[None], callback: Subscriber, event: Event) -> None:
        try:
            task = asyncio.ensure_future(result)
        except (RuntimeError, TypeError):  # no running loop, or not awaitable after all
            if inspect.iscoroutine(result):
                result.close()
            log.error("event subscriber %r could not run for %s", callback, event.kind)
            return
        self._tasks.add(task)
        task.add_done_callback(_forget_and_log(self._tasks, callback, event))

    async def drain(self) -> None:
        """Wait for the async subscribers' work scheduled so far (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- recording inside a transaction

    def record(self, conn: Connection, events: Sequence[E]) -> list[E]:
        """Run the sinks for `events` on `conn` (inside its transaction); returns them
        marked `recorded` when a sink wrote them."""
        if not events or not self._sink_kinds:
            return list(events)
        wrote = False
        for sink, kinds in self._sinks:
            chosen = [e for e in events if e.kind in kinds]
            if chosen:
                sink(conn, chosen)
                wrote = True
        if not wrote:
            return list(events)
        return [replace(e, recorded=True) if e.kind in self._sink_kinds else e for e in events]

    async def record_async(self, conn: AsyncConnection, events: Sequence[E]) -> list[E]:
        """`record` on an async connection."""
        if not events or not any(e.kind in self._sink_kinds for e in events):
            return list(events)
        return await conn.run_sync(self.record, events)


def _forget_and_log(
    tasks: set[asyncio.Future[None]], callback: Subscriber, event: Event
) -> Callable[[asyncio.Future[None]], None]:
    """A done-callback that forgets the task and logs its failure."""

    def done(task: asyncio.Future[None]) -> None:
        tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("event subscriber %r failed on %s", callback, event.kind, exc_info=exc)

    return done


@contextlib.contextmanager
def origin(value: Origin) -> Iterator[None]:
    """Make `value` the request origin of the events published inside the block."""
    token = request_origin.set(value)
    try:
        yield
    finally:
        request_origin.reset(token)
