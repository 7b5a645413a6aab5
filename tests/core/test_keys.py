"""Access-token signing keys (core/keys.py) on SQLite and PostgreSQL: rotation at the
configured interval, old keys verifying until they are retired, a second instance on
the same database picking up a key it has never seen, and static keys that never
rotate."""

from __future__ import annotations

import asyncio

from doorkeep import Doorkeep, Settings
from doorkeep.core.jwt import decode_unverified
from doorkeep.core.session_models import NewSession, TryRefreshTokenError, VerifiedSession
from tests.core.conftest import Clock

ROTATION_S = 36  # signing_key_rotation_hours=0.01
ACCESS_S = 10  # a key is kept ROTATION_S + 2 * ACCESS_S = 56 s after it was made


def kid_of(token: str) -> str:
    kid = decode_unverified(token)[0]["kid"]
    assert isinstance(kid, str)
    return kid


def settings_for(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        signing_key_rotation_hours=ROTATION_S / 3600,
        access_token_validity=ACCESS_S,
    )


async def jwks_kids(dk: Doorkeep) -> list[str]:
    return [key["kid"] for key in (await dk.core.public.keys.jwks())["keys"]]


async def test_keys_rotate_and_old_ones_verify_until_retired(
    database_url: str, clock: Clock
) -> None:
    """Fails if keys never rotate (mutant: `signing_key` ignores the interval), if a
    rotation drops the previous key at once (mutant: `_load` keeps only the newest
    dynamic key), or if retired keys stay published (mutant: `_load` keeps every key)."""
    async with Doorkeep(settings_for(database_url)) as dk:
        clock.advance(ROTATION_S - 6)
        before = await dk.session.create_new_session("ada")
        first_kid = kid_of(before.access_token.token)
        assert first_kid.startswith("d-")

        clock.advance(7)  # the key is now due: the next token gets a new one
        after = await dk.session.create_new_session("bob")
        second_kid = kid_of(after.access_token.token)
        assert second_kid.startswith("d-") and second_kid != first_kid
        assert set(await jwks_kids(dk)) == {first_kid, second_kid}
        # A token signed just before the rotation still verifies (not yet expired).
        assert isinstance(await dk.session.get_session(before.access_token.token), VerifiedSession)
        refreshed = await dk.session.refresh_session(before.refresh_token.token)
        assert isinstance(refreshed, NewSession)
        assert kid_of(refreshed.access_token.token) == second_kid

        clock.advance(ROTATION_S + 2 * ACCESS_S + 1)  # both keys are past their keep time
        newest = await dk.session.create_new_session("cy")
        third_kid = kid_of(newest.access_token.token)
        assert third_kid not in (first_kid, second_kid)
        published = await jwks_kids(dk)  # (with the next key, published ahead of its time)
        assert third_kid in published and not {first_kid, second_kid} & set(published)
        assert not dk.core.public.keys.verifier.has_kid(first_kid)


async def test_a_second_instance_loads_a_key_it_has_never_seen(
    database_url: str, clock: Clock
) -> None:
    """Two instances on one database. The first rotates; the second meets a token signed
    with the new key and loads it on first sight, and signs with it instead of making
    a key of its own. Fails if `reload_if_unknown` does not reload (mutant: it returns
    False), and if the second instance rotates without looking at the database first."""
    async with (
        Doorkeep(settings_for(database_url)) as one,
        Doorkeep(settings_for(database_url)) as two,
    ):
        original = kid_of((await two.session.create_new_session("ada")).access_token.token)
        clock.advance(ROTATION_S + 1)
        from_one = await one.session.create_new_session("bob")
        new_kid = kid_of(from_one.access_token.token)
        assert new_kid != original
        assert not two.core.public.keys.verifier.has_kid(new_kid)
        # The reload cooldown (1 s, monotonic) protects the database from made-up kids;
        # an instance that has not reloaded for longer loads a new kid on first sight.
        await asyncio.sleep(1.1)
        seen = await two.session.get_session(from_one.access_token.token)
        assert isinstance(seen, VerifiedSession) and seen.session.user_id == "bob"
        assert two.core.public.keys.verifier.has_kid(new_kid)
        from_two = await two.session.create_new_session("cy")
        assert kid_of(from_two.access_token.token) == new_kid  # one rotation, not two


async def test_static_keys_stay_static_across_refresh(database_url: str, clock: Clock) -> None:
    """A session created with the static key keeps it through refreshes, promotion and
    regeneration while the dynamic key rotates. Fails if a refresh forgets the
    session's choice (mutant: `rotate` returns use_static_key=False)."""
    async with Doorkeep(settings_for(database_url)) as dk:
        sessions = dk.core.public.sessions
        created = await sessions.create("ada", use_static_key=True)
        static_kid = kid_of(created.access_token.token)
        assert static_kid.startswith("s-")
        token = created.refresh_token.token
        dynamic_kids = set()
        for _ in range(3):
            clock.advance(ROTATION_S + 1)
            dynamic_kids.add(kid_of((await sessions.create("bob")).access_token.token))
            refreshed = await sessions.refresh(token)
            assert isinstance(refreshed, NewSession)
            assert kid_of(refreshed.access_token.token) == static_kid
            promoted = await sessions.verify(refreshed.access_token.token)
            assert isinstance(promoted, VerifiedSession) and promoted.new_access_token is not None
            assert kid_of(promoted.new_access_token.token) == static_kid
            token = refreshed.refresh_token.token
        assert len(dynamic_kids) == 3  # the dynamic key rotated meanwhile
        regenerated = await sessions.regenerate_access_token(promoted.new_access_token.token)
        assert isinstance(regenerated, VerifiedSession) and regenerated.new_access_token is not None
        assert kid_of(regenerated.new_access_token.token) == static_kid
        assert static_kid in await jwks_kids(dk)
        assert not isinstance(
            await sessions.verify(regenerated.new_access_token.token), TryRefreshTokenError
        )
