"""The event stream (core/events.py): the bus itself, and what the core reports to it on
SQLite and PostgreSQL. Mutants tried: publish skipping the subscribers after a failing
one (test_a_failing_subscriber_is_logged_and_the_others_still_run fails); the
sign-up event recorded after the commit instead of inside it
(test_a_sink_commits_and_rolls_back_with_the_operation fails: the user exists)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from sqlalchemy.engine import Connection

from doorkeep import Doorkeep
from doorkeep.core.emailpassword import SignUpOk
from doorkeep.core.events import (
    EVENT_TYPES,
    Event,
    EventKind,
    Events,
    RateLimited,
    RequestOrigin,
    SessionCreated,
    SignedIn,
    SignInFailed,
    UserCreated,
    UserDeleted,
    origin,
)
from doorkeep.core.session_models import NewSession, TokenTheftDetectedError
from doorkeep.ratelimit import Limit, MemoryCounters, RateLimiter, counter_key

PASSWORD = "correct horse battery"


class Collected:
    def __init__(self, events: Events) -> None:
        self.seen: list[Event] = []
        events.subscribe(self.seen.append)

    def kinds(self) -> list[str]:
        return [str(e.kind) for e in self.seen]

    def of(self, kind: EventKind) -> list[Any]:
        return [e for e in self.seen if e.kind == kind]

    def clear(self) -> None:
        self.seen.clear()


# -- the bus --------------------------------------------------------------------------------


def test_every_kind_has_one_type_and_events_serialise_to_json() -> None:
    assert set(EVENT_TYPES) == set(EventKind)
    event = SignInFailed(user_id="u-1", tenant_id="public", method="emailpassword")
    as_json = event.to_json()
    assert as_json["type"] == "sign_in.failed" and as_json["outcome"] == "failure"
    assert as_json["data"] == {"method": "emailpassword", "reason": "wrong_credentials"}
    assert len(event.id) == 36 and event.time > 0
    assert SignedIn(method="x").outcome == "success"
    assert SignedIn(method="x").id != SignedIn(method="x").id


async def test_subscribers_get_the_kinds_they_chose_sync_and_async() -> None:
    bus = Events()
    every: list[Event] = []
    failures: list[Event] = []
    later: list[Event] = []

    async def slow(event: Event) -> None:
        await asyncio.sleep(0)
        later.append(event)

    bus.subscribe(every.append)
    bus.subscribe(failures.append, kinds=["sign_in.failed"])
    subscription = bus.subscribe(slow, kinds=[EventKind.USER_CREATED])
    created, failed = UserCreated(method="emailpassword"), SignInFailed(method="emailpassword")
    bus.publish(created)
    bus.publish(failed)
    assert every == [created, failed] and failures == [failed]
    assert later == []  # async subscribers run as tasks, after publish returned
    await bus.drain()
    assert later == [created]
    subscription.cancel()
    bus.publish(UserCreated(method="emailpassword"))
    await bus.drain()
    assert later == [created] and len(every) == 3


def test_nothing_listens_to_a_kind_nobody_subscribed() -> None:
    bus = Events()
    bus.subscribe(lambda event: None, kinds=[EventKind.SIGN_IN_FAILED])
    assert bus.wants(EventKind.SIGN_IN_FAILED)
    assert not bus.wants(EventKind.SESSION_CREATED)
    bus.publish(SessionCreated(session_handle="h"))  # returns at once, schedules nothing
    assert not bus._tasks


async def test_a_failing_subscriber_is_logged_and_the_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = Events()
    seen: list[Event] = []

    def broken(event: Event) -> None:
        raise RuntimeError("subscriber bug")

    async def broken_later(event: Event) -> None:
        raise RuntimeError("async subscriber bug")

    bus.subscribe(broken)
    bus.subscribe(broken_later)
    bus.subscribe(seen.append)
    event = UserDeleted(user_id="u-1")
    with caplog.at_level(logging.ERROR, logger="doorkeep.events"):
        bus.publish(event)  # does not raise
        await bus.drain()
    assert seen == [event]
    messages = [r.getMessage() for r in caplog.records]
    assert sum("failed on user.deleted" in m for m in messages) == 2


def test_events_carry_the_origin_of_the_request_being_answered() -> None:
    with origin(RequestOrigin("203.0.113.9", "Firefox/130", "req-1")):
        inside = SignInFailed(method="emailpassword")
    outside = SignInFailed(method="emailpassword")
    assert (inside.ip, inside.user_agent, inside.request_id) == (
        "203.0.113.9",
        "Firefox/130",
        "req-1",
    )
    assert (outside.ip, outside.user_agent, outside.request_id) == (None, None, None)


# -- what the core reports --------------------------------------------------------------------


async def test_sign_up_and_sign_in_report_who_and_how(dk: Doorkeep) -> None:
    got = Collected(dk.events)
    signed_up = await dk.emailpassword.sign_up("ada@example.com", PASSWORD)
    assert isinstance(signed_up, SignUpOk)
    user_id = signed_up.user.id
    await dk.emailpassword.sign_in("ada@example.com", PASSWORD)
    await dk.emailpassword.sign_in("ada@example.com", "wrong password!")
    await dk.emailpassword.sign_in("nobody@example.com", PASSWORD)
    assert got.kinds() == [
        "user.created",
        "sign_in.succeeded",
        "sign_in.failed",
        "sign_in.failed",
    ]
    created, ok, wrong, unknown = got.seen
    assert created.user_id == ok.user_id == wrong.user_id == user_id
    assert isinstance(created, UserCreated) and created.method == "emailpassword"
    assert created.tenant_id == "public" and created.app_id == "public"
    assert unknown.user_id is None  # no such account: nothing to name
    assert (wrong.outcome, ok.outcome) == ("failure", "success")


async def test_sessions_report_created_refreshed_revoked_and_theft(dk: Doorkeep) -> None:
    got = Collected(dk.events)
    first: NewSession = await dk.session.create_new_session("user-1")
    handle = first.session.handle
    second = await dk.session.refresh_session(first.refresh_token.token)
    assert isinstance(second, NewSession)
    await dk.session.refresh_session(second.refresh_token.token)  # the child is used now
    theft = await dk.session.refresh_session(first.refresh_token.token)
    assert isinstance(theft, TokenTheftDetectedError)
    assert got.kinds() == [
        "session.created",
        "session.refreshed",
        "session.refreshed",
        "session.theft_detected",
        "session.revoked",
    ]
    assert {e.session_handle for e in got.seen} == {handle}
    revoked = got.of(EventKind.SESSION_REVOKED)[0]
    assert revoked.reason == "theft_detected" and revoked.user_id == "user-1"
    validity_ms = dk.settings.access_token_validity * 1000
    assert revoked.access_token_expiry >= revoked.time + validity_ms - 1000

    got.clear()
    kept = await dk.session.create_new_session("user-2")
    also = await dk.session.create_new_session("user-2")
    got.clear()
    await dk.session.revoke_session(kept.session.handle)
    await dk.session.revoke_all_sessions_for_user("user-2")
    revocations = got.of(EventKind.SESSION_REVOKED)
    assert [e.session_handle for e in revocations] == [kept.session.handle, also.session.handle]
    assert all(e.user_id == "user-2" and e.tenant_id == "public" for e in revocations)


async def test_account_changes_and_deletion_are_reported(dk: Doorkeep) -> None:
    signed_up = await dk.emailpassword.sign_up("bob@example.com", PASSWORD)
    assert isinstance(signed_up, SignUpOk)
    user_id = signed_up.user.id
    session = await dk.session.create_new_session(user_id)
    got = Collected(dk.events)
    core = dk.core.public
    await dk.emailpassword.update_email_or_password(user_id, password="another good one")
    await dk.emailpassword.update_email_or_password(user_id, email="bobby@example.com")
    reset = await core.passwordreset.create_token(user_id, "bobby@example.com")
    await core.passwordreset.reset_password(reset.token, "a third password")  # type: ignore[union-attr]
    link = await core.emailverification.create_token(user_id, "bobby@example.com")
    await core.emailverification.verify_token(link.token)  # type: ignore[union-attr]
    await core.roles.create_role_or_add_permissions("admin", [])
    await core.roles.add_role_to_user("public", user_id, "admin")
    await core.roles.add_role_to_user("public", user_id, "admin")  # held already: no event
    await core.roles.remove_user_role("public", user_id, "admin")
    await dk.delete_user(user_id)
    assert got.kinds() == [
        "password.changed",
        "email.changed",
        "password_reset.requested",
        "password_reset.completed",
        "password.changed",
        "email_verification.sent",
        "email_verification.confirmed",
        "role.changed",
        "role.changed",
        "session.revoked",
        "user.deleted",
    ]
    assert all(e.user_id == user_id for e in got.seen)
    password_changes = got.of(EventKind.PASSWORD_CHANGED)
    assert [e.via for e in password_changes] == ["update", "reset"]
    assert [e.change for e in got.of(EventKind.ROLE_CHANGED)] == ["added", "removed"]
    revoked = got.of(EventKind.SESSION_REVOKED)[0]
    assert revoked.session_handle == session.session.handle and revoked.reason == "user_deleted"


async def test_passwordless_reports_codes_sign_ups_and_sign_ins(dk: Doorkeep) -> None:
    got = Collected(dk.events)
    core = dk.core.public.passwordless
    code = await core.create_code("public", phone_number="+14155552671")
    consumed = await core.consume_code(
        "public",
        code.pre_auth_session_id,  # type: ignore[union-attr]
        device_id=code.device_id,  # type: ignore[union-attr]
        user_input_code=code.user_input_code,  # type: ignore[union-attr]
    )
    assert consumed.status == "OK"
    assert got.kinds() == ["passwordless.code_sent", "user.created", "sign_in.succeeded"]
    sent, created, signed_in = got.seen
    assert sent.channel == "sms" and created.method == signed_in.method == "passwordless"
    assert created.user_id == signed_in.user_id == consumed.user.id  # type: ignore[union-attr]


async def test_a_refused_attempt_is_reported_by_its_limits_kind() -> None:
    bus = Events()
    got = Collected(bus)
    limiter = RateLimiter(MemoryCounters(), events=bus)
    check = (counter_key("sign-in-ip", "203.0.113.9"), Limit(1, 60))
    assert await limiter.attempt(check) is None
    assert await limiter.attempt(check) is not None
    assert len(got.seen) == 1
    refused = got.seen[0]
    assert isinstance(refused, RateLimited) and refused.limit == "sign-in-ip"
    assert refused.outcome == "failure" and "203.0.113.9" not in str(refused.to_json())


async def test_a_sink_commits_and_rolls_back_with_the_operation(dk: Doorkeep) -> None:
    written: list[str] = []

    def sink(conn: Connection, events: Any) -> None:
        assert conn.in_transaction()
        written.extend(e.id for e in events)

    dk.events.add_sink(sink, kinds=[EventKind.USER_CREATED])
    got = Collected(dk.events)
    await dk.emailpassword.sign_up("carol@example.com", PASSWORD)
    created = got.of(EventKind.USER_CREATED)[0]
    assert written == [created.id] and created.recorded  # written inside, then published

    def failing(conn: Connection, events: Any) -> None:
        raise RuntimeError("the outbox is full")

    dk.events.add_sink(failing, kinds=[EventKind.USER_CREATED])
    with pytest.raises(RuntimeError):
        await dk.emailpassword.sign_up("dave@example.com", PASSWORD)
    assert await dk.emailpassword.get_user_by_email("dave@example.com") in (None, [])
    assert len(got.of(EventKind.USER_CREATED)) == 1  # nothing published for the rollback


async def test_the_log_is_a_subscriber(dk: Doorkeep, caplog: pytest.LogCaptureFixture) -> None:
    await dk.emailpassword.sign_up("erin@example.com", PASSWORD)
    caplog.clear()  # the sign-up's own record, whatever the level was then
    with caplog.at_level(logging.INFO, logger="doorkeep.security"):
        with origin(RequestOrigin("198.51.100.7", "curl/8", "req-9")):
            await dk.emailpassword.sign_in("erin@example.com", "not her password")
        await dk.session.create_new_session("u-3")  # not a logged kind
    records = [r for r in caplog.records if r.name == "doorkeep.security"]
    assert [r.getMessage() for r in records] == ["sign_in_failed"]
    record = records[0]
    assert (record.ip, record.request_id, record.outcome) == (  # type: ignore[attr-defined]
        "198.51.100.7",
        "req-9",
        "failure",
    )
