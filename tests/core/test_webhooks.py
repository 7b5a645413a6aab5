"""Webhooks (core/webhooks.py) on SQLite and PostgreSQL, delivered to a real HTTP
receiver on loopback: the outbox row is written in the event's own transaction, a
receiver that is down for a while gets every event exactly once (by its ID) after it
comes back, signed the Standard Webhooks way; given-up deliveries are replayable.

Mutants tried: the row written after the commit only (sink removed): the same-transaction
test fails (no row when the sign-up returns); deliveries marked delivered whatever the
HTTP status: the given-up test fails (a 503 counted as delivered).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from doorkeep import Doorkeep, Settings
from doorkeep.core.events import EventKind
from doorkeep.core.webhooks import signature
from doorkeep.testing import free_port
from tests.core.webhook_receiver import Receiver

PASSWORD = "correct horse battery"
FAST_RETRIES = (0.1, 0.2, 0.3, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 1, 1, 1, 1, 1, 1)


@pytest.fixture
async def dk(database_url: str) -> AsyncIterator[Doorkeep]:
    settings = Settings(database_url=database_url, webhook_retry_delays=FAST_RETRIES)
    async with Doorkeep(settings) as instance:
        yield instance


async def until(condition: object, what: str, bound_s: float = 20) -> None:
    start = time.monotonic()
    while not condition():  # type: ignore[operator]
        if time.monotonic() - start > bound_s:
            raise AssertionError(f"{what}: not within {bound_s} s")
        await asyncio.sleep(0.05)


def test_the_signature_is_the_standard_webhooks_one() -> None:
    # The example of the Standard Webhooks specification (its test vector).
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    signed = signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
    assert signed == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


async def test_the_outbox_row_commits_with_the_event(dk: Doorkeep) -> None:
    endpoint = await dk.webhooks.add_endpoint("http://127.0.0.1:9/hook", ["user.created"])
    await dk.webhooks.stop()  # nobody delivers: what is in the outbox is what the commit wrote
    seen = []
    dk.events.subscribe(seen.append, kinds=[EventKind.USER_CREATED])
    await dk.emailpassword.sign_up("ada@example.com", PASSWORD)
    created = seen[0]
    assert created.recorded  # written by the sink, inside the sign-up's transaction
    rows = await dk.webhooks.deliveries(endpoint_id=endpoint.id)
    assert [(r.event_id, r.state) for r in rows] == [(created.id, "pending")]
    await dk.session.create_new_session("u-1")  # a type nobody wants: no row
    assert len(await dk.webhooks.deliveries()) == 1


async def test_a_receiver_down_for_a_while_gets_every_event_once(dk: Doorkeep) -> None:
    receiver = Receiver(free_port())
    endpoint = await dk.webhooks.add_endpoint(
        receiver.url, ["user.created", "session.revoked", "role.changed"]
    )
    receiver.secret = endpoint.secret
    wanted = {"user.created", "session.revoked", "role.changed"}
    expected_ids: list[str] = []
    dk.events.subscribe(lambda e: expected_ids.append(e.id) if str(e.kind) in wanted else None)
    for i in range(5):
        signed_up = await dk.emailpassword.sign_up(f"user{i}@example.com", PASSWORD)
        session = await dk.session.create_new_session(signed_up.user.id)  # type: ignore[union-attr]
        await dk.session.revoke_session(session.session.handle)
    await dk.core.public.roles.create_role_or_add_permissions("admin", [])
    await dk.core.public.roles.add_role_to_user("public", "user-x", "admin")  # after the commit
    assert len(expected_ids) == 11

    async def attempted() -> bool:
        rows = await dk.webhooks.deliveries()
        return len(rows) == 11 and all(d.attempts >= 2 for d in rows)

    start = time.monotonic()
    while not await attempted():  # the receiver is down: every delivery failed twice at least
        assert time.monotonic() - start < 20
        await asyncio.sleep(0.05)
    assert receiver.ids() == []
    receiver.start()
    try:
        await until(lambda: len(set(receiver.ids())) == 11, "every event delivered")
        await asyncio.sleep(0.5)  # room for a duplicate to show up, if any
        assert sorted(receiver.ids()) == sorted(expected_ids)  # each exactly once, by ID
        assert receiver.bad_signatures == 0
        bodies = {message_id: body for message_id, body in receiver.received}
        assert {body["type"] for body in bodies.values()} == wanted
        assert all(body["data"]["id"] == message_id for message_id, body in bodies.items())
        states = {d.state for d in await dk.webhooks.deliveries()}
        assert states == {"delivered"}
        # Replay: the same event again, with the same ID (receivers dedupe on it).
        one = expected_ids[0]
        assert await dk.webhooks.replay(event_id=one) == 1
        await until(lambda: receiver.ids().count(one) == 2, "the replay")
    finally:
        receiver.stop()


async def test_a_delivery_given_up_on_is_kept_and_replayable(database_url: str) -> None:
    settings = Settings(database_url=database_url, webhook_retry_delays=(0.1,))
    async with Doorkeep(settings) as dk:
        receiver = Receiver(free_port())
        receiver.status = 503  # up, but failing: every attempt is answered, none accepted
        endpoint = await dk.webhooks.add_endpoint(receiver.url, ["*"])
        receiver.secret = endpoint.secret
        receiver.start()
        await dk.emailpassword.sign_up("eve@example.com", PASSWORD)

        async def gave_up() -> bool:
            rows = await dk.webhooks.deliveries()
            return bool(rows) and all(r.state == "failed" for r in rows)

        start = time.monotonic()
        while not await gave_up():
            assert time.monotonic() - start < 20
            await asyncio.sleep(0.05)
        failed = await dk.webhooks.deliveries()
        assert all(r.attempts == 2 and r.last_status == 503 for r in failed)
        tried = len(receiver.ids())
        receiver.status = 204
        try:
            assert await dk.webhooks.replay([r.id for r in failed]) == len(failed)
            await until(lambda: len(receiver.ids()) == tried + len(failed), "the replays")
            assert {r.state for r in await dk.webhooks.deliveries()} == {"delivered"}
        finally:
            receiver.stop()


async def test_bad_endpoints_are_refused(dk: Doorkeep) -> None:
    with pytest.raises(ValueError):
        await dk.webhooks.add_endpoint("ftp://example.com/hook", ["*"])
    with pytest.raises(ValueError):
        await dk.webhooks.add_endpoint("http://127.0.0.1/hook", ["user.exploded"])
    assert await dk.webhooks.list_endpoints() == []
