"""Signing keys keep to their rotation schedule, instances that rotate at once make one
key, and a refresh may switch a session between dynamic and static keys (the last two
failures of the official SDK's session tests, issue 19 item 4). SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from sqlalchemy import select

from doorkeep import Doorkeep, Settings
from doorkeep.core.jwt import decode_unverified
from doorkeep.core.session_models import NewSession, VerifiedSession
from doorkeep.storage import tables as t
from tests.core.conftest import Clock

ROTATION_S = 36  # signing_key_rotation_hours=0.01


def kid_of(token: str) -> str:
    kid = decode_unverified(token)[0]["kid"]
    assert isinstance(kid, str)
    return kid


def settings_for(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        signing_key_rotation_hours=ROTATION_S / 3600,
        access_token_validity=10,
    )


async def jwks_kids(dk: Doorkeep) -> set[str]:
    return {key["kid"] for key in (await dk.core.public.keys.jwks())["keys"]}


async def dynamic_kids_stored(dk: Doorkeep) -> list[str]:
    sk = t.signing_keys
    async with dk.core.db.read() as conn:
        kids = await conn.scalars(select(sk.c.kid).order_by(sk.c.created_at))
        return [kid for kid in kids if kid.startswith("d-")]


async def test_rotation_keeps_its_schedule_however_late_the_next_request(
    database_url: str, clock: Clock
) -> None:
    """A key is due every interval after the first; the first request after two and a
    half intervals makes the key of the second point of the schedule, so the next one
    is due half an interval later (SuperTokens' tests/sessions/test_jwks.py counts two
    new keys in 11 s at a 5 s interval). Mutant: `_due_time` returning `now` makes the
    second kid d-<now> and delays the third key."""
    async with Doorkeep(settings_for(database_url)) as dk:
        first = kid_of((await dk.session.create_new_session("ada")).access_token.token)
        start = int(first[2:])
        clock.advance(ROTATION_S * 2.5)
        second = kid_of((await dk.session.create_new_session("bob")).access_token.token)
        assert second == f"d-{start + 2 * ROTATION_S * 1000}"
        clock.advance(ROTATION_S * 0.6)  # past the third point of the schedule
        third = kid_of((await dk.session.create_new_session("cy")).access_token.token)
        assert third == f"d-{start + 3 * ROTATION_S * 1000}"


async def test_the_next_key_is_published_half_an_interval_before_it_signs(
    database_url: str, clock: Clock
) -> None:
    """A JWKS cache refreshed every half interval always knows the key a token names
    (SuperTokens' tests/sessions/test_jwks.py counts two new keys in 11 s at a 5 s
    interval). Mutant: `jwks` not publishing ahead fails the second assertion."""
    async with Doorkeep(settings_for(database_url)) as dk:
        first = kid_of((await dk.session.create_new_session("ada")).access_token.token)
        start = int(first[2:])
        assert await jwks_kids(dk) == {first}
        clock.advance(ROTATION_S / 2)
        upcoming = f"d-{start + ROTATION_S * 1000}"
        assert await jwks_kids(dk) == {first, upcoming}
        assert dk.core.public.keys.jwks_max_age() == ROTATION_S
        # Not used before its time, and used from then on.
        assert kid_of((await dk.session.create_new_session("bob")).access_token.token) == first
        clock.advance(ROTATION_S / 2)
        assert kid_of((await dk.session.create_new_session("cy")).access_token.token) == upcoming


async def test_instances_rotating_at_once_make_one_key(
    database_url: str, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mutant: a kid from the wall clock (d-<now>) gives two keys, one per instance."""
    async with (
        Doorkeep(settings_for(database_url)) as one,
        Doorkeep(settings_for(database_url)) as two,
    ):
        await one.session.create_new_session("ada")
        await two.core.public.keys.jwks()  # the second instance knows the first key
        clock.advance(ROTATION_S + 1)
        # Every reading of the clock a millisecond later, as on a real machine.
        readings = itertools.count()
        start = clock.now
        monkeypatch.setattr(clock, "time", lambda: start + next(readings) / 1000)
        made = await asyncio.gather(
            *(dk.session.create_new_session("bob") for dk in (one, two, one, two))
        )
        kids = {kid_of(new.access_token.token) for new in made}
        assert len(kids) == 1
        assert len(await dynamic_kids_stored(one)) == 2  # the first key and the one new


async def test_a_refresh_switches_a_session_to_the_kind_of_key_asked_for(
    database_url: str,
) -> None:
    """The SDK's `use_dynamic_access_token_signing_key` may change between two
    deployments: the refresh asks for the other kind, and the session keeps it through
    promotion and later refreshes. Mutant: `rotate` ignoring `use_static_key`."""
    async with Doorkeep(settings_for(database_url)) as dk:
        sessions = dk.core.public.sessions
        created = await sessions.create("ada")
        assert kid_of(created.access_token.token).startswith("d-")
        refreshed = await sessions.refresh(created.refresh_token.token, use_static_key=True)
        assert isinstance(refreshed, NewSession)
        assert kid_of(refreshed.access_token.token).startswith("s-")
        promoted = await sessions.verify(refreshed.access_token.token)
        assert isinstance(promoted, VerifiedSession) and promoted.new_access_token is not None
        assert kid_of(promoted.new_access_token.token).startswith("s-")
        again = await sessions.refresh(refreshed.refresh_token.token)  # None: keep it
        assert isinstance(again, NewSession)
        assert kid_of(again.access_token.token).startswith("s-")
        back = await sessions.refresh(again.refresh_token.token, use_static_key=False)
        assert isinstance(back, NewSession)
        assert kid_of(back.access_token.token).startswith("d-")
