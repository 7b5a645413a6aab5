"""Sessions on SQLite and PostgreSQL: verification, rotation, theft detection, revocation."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import create_async_engine

from doorkeep import Doorkeep, Settings
from doorkeep.core.jwt import decode_unverified
from doorkeep.core.session_models import (
    NewSession,
    TokenTheftDetectedError,
    TryRefreshTokenError,
    UnauthorisedError,
    VerifiedSession,
)
from doorkeep.core.tenants import save_tenant
from doorkeep.storage import tables as t
from tests.core.conftest import Clock


async def new_session(dk: Doorkeep, user_id: str = "user-1", **kwargs: object) -> NewSession:
    return await dk.session.create_new_session(user_id, **kwargs)  # type: ignore[arg-type]


async def test_access_token_carries_supertokens_v5_claims(dk: Doorkeep) -> None:
    created = await new_session(dk, access_token_payload={"role": "admin", "sub": "forged"})
    verified = await dk.session.get_session(created.access_token.token)
    assert isinstance(verified, VerifiedSession)
    claims = verified.claims
    assert claims["sub"] == "user-1" and claims["rsub"] == "user-1"  # payload cannot forge sub
    assert claims["role"] == "admin" and claims["tId"] == "public"
    assert claims["sessionHandle"] == created.session.handle
    assert claims["parentRefreshTokenHash1"] is None
    assert len(claims["refreshTokenHash1"]) == 64
    assert claims["exp"] - claims["iat"] in (3600, 3601)  # exp rounds up to whole seconds
    assert verified.session.user_data_in_jwt == {"role": "admin"}


async def test_verify_needs_no_database_read(dk: Doorkeep) -> None:
    created = await new_session(dk)
    real_engine = dk.core.db.engine
    # Point the core at a database that cannot be opened: a plain verify must not notice.
    dk.core.db.engine = create_async_engine("sqlite+aiosqlite:////nonexistent-dir/none.sqlite3")
    try:
        verified = await dk.session.get_session(created.access_token.token)
        assert isinstance(verified, VerifiedSession)
        checked = dk.session.get_session(created.access_token.token, check_database=True)
        with pytest.raises(OperationalError):
            await checked
    finally:
        await dk.core.db.engine.dispose()
        dk.core.db.engine = real_engine


async def test_garbage_and_tampered_tokens_ask_for_refresh(dk: Doorkeep) -> None:
    created = await new_session(dk)
    token = created.access_token.token
    head, body, sig = token.split(".")
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    for bad in ["", "garbage", f"{head}.{flipped}.{sig}", created.refresh_token.token]:
        assert isinstance(await dk.session.get_session(bad), TryRefreshTokenError), bad


async def test_expired_access_token_asks_for_refresh(database_url: str) -> None:
    async with Doorkeep(Settings(database_url=database_url, access_token_validity=1)) as dk:
        created = await new_session(dk)
        await asyncio.sleep(created.access_token.expiry / 1000 - time.time() + 0.1)
        result = await dk.session.get_session(created.access_token.token)
        assert isinstance(result, TryRefreshTokenError) and "expired" in result.message
        refreshed = await dk.session.refresh_session(created.refresh_token.token)
        assert isinstance(refreshed, NewSession)
        assert isinstance(
            await dk.session.get_session(refreshed.access_token.token), VerifiedSession
        )


async def test_refresh_rotates_and_reuse_after_child_use_is_theft(dk: Doorkeep) -> None:
    first = await new_session(dk)
    second = await dk.session.refresh_session(first.refresh_token.token)
    assert isinstance(second, NewSession)
    assert second.refresh_token.token != first.refresh_token.token
    assert second.session.handle == first.session.handle
    third = await dk.session.refresh_session(second.refresh_token.token)  # the child is used
    assert isinstance(third, NewSession)
    theft = await dk.session.refresh_session(first.refresh_token.token)
    assert isinstance(theft, TokenTheftDetectedError)
    assert theft.session_handle == first.session.handle and theft.user_id == "user-1"
    assert theft.recipe_user_id == "user-1"
    # The whole session is gone: its newest tokens no longer work either.
    assert await dk.session.get_session_information(first.session.handle) is None
    assert isinstance(
        await dk.session.refresh_session(third.refresh_token.token), UnauthorisedError
    )
    check = await dk.session.get_session(third.access_token.token, check_database=True)
    assert isinstance(check, UnauthorisedError)


async def test_first_verify_of_a_refreshed_token_promotes_it(dk: Doorkeep) -> None:
    first = await new_session(dk)
    second = await dk.session.refresh_session(first.refresh_token.token)
    assert isinstance(second, NewSession)
    verified = await dk.session.get_session(second.access_token.token)
    assert isinstance(verified, VerifiedSession)
    assert verified.new_access_token is not None  # the client gets a token without the marker
    again = await dk.session.get_session(second.access_token.token)  # promoted once only
    assert isinstance(again, VerifiedSession) and again.new_access_token is None
    promoted = await dk.session.get_session(verified.new_access_token.token)
    assert isinstance(promoted, VerifiedSession)
    assert promoted.claims["parentRefreshTokenHash1"] is None
    # The child is now in use, so replaying its parent is theft.
    theft = await dk.session.refresh_session(first.refresh_token.token)
    assert isinstance(theft, TokenTheftDetectedError)


async def test_concurrent_refreshes_leave_exactly_one_valid_child(dk: Doorkeep) -> None:
    first = await new_session(dk)
    results = await asyncio.gather(
        *(dk.session.refresh_session(first.refresh_token.token) for _ in range(10))
    )
    children = [r for r in results if isinstance(r, NewSession)]
    assert len(children) == 1
    losers = [r for r in results if not isinstance(r, NewSession)]
    # Losing a race is not theft: the session survives and the client keeps its new tokens.
    assert all(isinstance(r, UnauthorisedError) and not r.clear_tokens for r in losers)
    assert await dk.session.get_session_information(first.session.handle) is not None
    child = children[0]
    grandchild = await dk.session.refresh_session(child.refresh_token.token)
    assert isinstance(grandchild, NewSession)
    # After the child was used, the superseded original is theft and revokes the session.
    assert isinstance(
        await dk.session.refresh_session(first.refresh_token.token), TokenTheftDetectedError
    )
    assert await dk.session.get_session_information(first.session.handle) is None


async def test_replay_after_grace_period_is_theft(database_url: str) -> None:
    settings = Settings(database_url=database_url, refresh_grace_seconds=0)
    async with Doorkeep(settings) as dk:
        first = await new_session(dk)
        assert isinstance(await dk.session.refresh_session(first.refresh_token.token), NewSession)
        await asyncio.sleep(0.01)
        assert isinstance(
            await dk.session.refresh_session(first.refresh_token.token), TokenTheftDetectedError
        )


async def test_unknown_refresh_tokens_are_unauthorised(dk: Doorkeep) -> None:
    for token in ["", "nope", "x" * 10_000]:
        result = await dk.session.refresh_session(token)
        assert isinstance(result, UnauthorisedError) and result.clear_tokens


async def test_revoke_one_and_all(dk: Doorkeep) -> None:
    a = await new_session(dk, "ada")
    b = await new_session(dk, "ada")
    c = await new_session(dk, "bob")
    assert set(await dk.session.get_all_session_handles_for_user("ada")) == {
        a.session.handle,
        b.session.handle,
    }
    assert await dk.session.revoke_session(a.session.handle) is True
    assert await dk.session.revoke_session(a.session.handle) is False
    # The revoking process refuses the revoked session's access token at once.
    assert isinstance(await dk.session.get_session(a.access_token.token), UnauthorisedError)
    assert await dk.session.revoke_all_sessions_for_user("ada") == [b.session.handle]
    assert isinstance(await dk.session.refresh_session(b.refresh_token.token), UnauthorisedError)
    assert isinstance(await dk.session.get_session(c.access_token.token), VerifiedSession)


async def test_session_data_and_payload_updates(dk: Doorkeep) -> None:
    created = await new_session(dk, session_data_in_database={"cart": 1})
    handle = created.session.handle
    info = await dk.session.get_session_information(handle)
    assert info is not None and info.session_data == {"cart": 1}
    assert await dk.session.update_session_data_in_database(handle, {"cart": 2}) is True
    assert await dk.session.merge_into_access_token_payload(handle, {"role": "editor"}) is True
    info = await dk.session.get_session_information(handle)
    assert info is not None and info.session_data == {"cart": 2}
    assert info.user_data_in_jwt == {"role": "editor"}
    refreshed = await dk.session.refresh_session(created.refresh_token.token)
    assert isinstance(refreshed, NewSession)
    assert refreshed.session.user_data_in_jwt == {"role": "editor"}
    assert await dk.session.update_session_data_in_database("no-such-handle", {}) is False


async def test_sessions_of_a_mapped_user_answer_to_both_ids(dk: Doorkeep) -> None:
    from doorkeep.core.emailpassword import SignUpOk

    ada = await dk.emailpassword.sign_up("ada@example.com", "correct horse battery")
    assert isinstance(ada, SignUpOk)
    await dk.useridmapping.create_user_id_mapping(ada.user.id, "legacy-7")
    created = await new_session(dk, "legacy-7")
    assert await dk.session.get_all_session_handles_for_user(ada.user.id) == [
        created.session.handle
    ]
    assert await dk.session.revoke_all_sessions_for_user(ada.user.id) == [created.session.handle]


async def test_absolute_lifetime_caps_a_refresh_chain(database_url: str, clock: Clock) -> None:
    """Checklist 18. The chain is refreshed three times before its 100 s cap, each time
    well inside the idle limit, and still ends at the cap.
    Fails if the cap moved on refresh (mutant: `_expiry` caps at `now + absolute`
    instead of `created_at + absolute`)."""
    settings = Settings(database_url=database_url, session_absolute_lifetime=100)
    async with Doorkeep(settings) as dk:
        current = await new_session(dk)
        created = await dk.session.get_session_information(current.session.handle)
        assert created is not None
        cap_ms = created.time_created + 100_000
        for _ in range(3):
            clock.advance(30)
            refreshed = await dk.session.refresh_session(current.refresh_token.token)
            assert isinstance(refreshed, NewSession)
            assert refreshed.refresh_token.expiry <= cap_ms
            current = refreshed
        clock.advance(11)  # 101 s after sign-in: 11 s after the last refresh
        assert isinstance(
            await dk.session.refresh_session(current.refresh_token.token), UnauthorisedError
        )
        assert await dk.session.get_session_information(current.session.handle) is None


async def test_idle_lifetime_slides_on_refresh_and_ends_an_idle_session(
    database_url: str, clock: Clock
) -> None:
    """Checklist 18 (idle). `refresh_token_validity` of 60 s: refreshing every 50 s keeps
    the session past its first expiry; 61 s without a refresh ends it.
    Fails if idle expiry is not enforced (mutant: `_expiry` ignores
    `refresh_token_validity`) and if it does not slide (mutant: `rotate` keeps the old
    `expires_at`)."""
    settings = Settings(database_url=database_url, refresh_token_validity=60)
    async with Doorkeep(settings) as dk:
        current = await new_session(dk)
        for _ in range(3):  # 150 s in all, far past the first 60 s
            clock.advance(50)
            refreshed = await dk.session.refresh_session(current.refresh_token.token)
            assert isinstance(refreshed, NewSession)
            assert refreshed.refresh_token.expiry == clock.ms + 60_000
            current = refreshed
        clock.advance(61)
        info = await dk.session.get_session_information(current.session.handle)
        assert info is None  # idle: gone for readers too
        assert isinstance(
            await dk.session.refresh_session(current.refresh_token.token), UnauthorisedError
        )


async def test_anti_csrf_token_is_checked_when_asked(dk: Doorkeep) -> None:
    created = await new_session(dk, disable_anti_csrf=False)
    assert created.anti_csrf_token
    token = created.access_token.token
    wrong = await dk.session.get_session(token, anti_csrf_token="nope", anti_csrf_check=True)
    assert isinstance(wrong, TryRefreshTokenError)
    right = await dk.session.get_session(
        token, anti_csrf_token=created.anti_csrf_token, anti_csrf_check=True
    )
    assert isinstance(right, VerifiedSession)


async def test_jwks_lists_the_signing_key(dk: Doorkeep) -> None:
    created = await new_session(dk)
    jwks = await dk.core.public.keys.jwks()
    kids = [k["kid"] for k in jwks["keys"]]
    assert kids and all(k.startswith("d-") for k in kids)
    assert decode_unverified(created.access_token.token)[0]["kid"] in kids


async def session_rows(dk: Doorkeep, handle: str) -> int:
    sessions = t.sessions
    async with dk.core.db.read() as conn:
        query = select(func.count()).where(sessions.c.session_handle == handle)
        return int((await conn.execute(query)).scalar_one())


async def test_a_session_ends_at_the_exact_instant_it_expires(
    database_url: str, clock: Clock
) -> None:
    """At `expires_at` itself the session is over, and the refused refresh deletes its
    row. (Mutation testing: kills `expires_at < now` and the expired session left
    behind by `_delete_session` with a wrong key.)"""
    settings = Settings(database_url=database_url, refresh_token_validity=60)
    async with Doorkeep(settings) as dk:
        created = await new_session(dk, recipe_user_id="recipe-1")
        refreshed = await dk.session.refresh_session(created.refresh_token.token)
        assert isinstance(refreshed, NewSession)
        assert refreshed.session.recipe_user_id == "recipe-1"  # the row's, carried over
        assert refreshed.session.tenant_id == "public"
        clock.ms = refreshed.refresh_token.expiry  # exactly the expiry
        assert await dk.session.get_all_session_handles_for_user("user-1") == []
        handle = created.session.handle
        assert await dk.session.update_session_data_in_database(handle, {"x": 1}) is False
        refused = await dk.session.refresh_session(refreshed.refresh_token.token)
        assert isinstance(refused, UnauthorisedError) and refused.clear_tokens
        assert await session_rows(dk, created.session.handle) == 0


async def test_a_cap_lowered_after_sign_in_ends_the_session_at_it(
    database_url: str, clock: Clock
) -> None:
    """A session begun under a 1000 s cap, refreshed by an instance configured with a
    100 s cap exactly 100 s after sign-in: refused, and its row deleted."""
    long_cap = Settings(database_url=database_url, session_absolute_lifetime=1000)
    async with Doorkeep(long_cap) as dk:
        created = await new_session(dk)
    short_cap = long_cap.with_overrides(session_absolute_lifetime=100)
    async with Doorkeep(short_cap) as dk:
        info = await dk.session.get_session_information(created.session.handle)
        assert info is not None
        clock.ms = info.time_created + 100_000
        refused = await dk.session.refresh_session(created.refresh_token.token)
        assert isinstance(refused, UnauthorisedError)
        assert await session_rows(dk, created.session.handle) == 0


async def test_the_grace_window_includes_its_last_instant(database_url: str, clock: Clock) -> None:
    """The predecessor replayed exactly `refresh_grace_seconds` after its rotation is
    still a lost race (401, session kept), one millisecond later it is theft."""
    settings = Settings(database_url=database_url, refresh_grace_seconds=10)
    async with Doorkeep(settings) as dk:
        first = await new_session(dk)
        assert isinstance(await dk.session.refresh_session(first.refresh_token.token), NewSession)
        clock.advance(10)
        race = await dk.session.refresh_session(first.refresh_token.token)
        assert isinstance(race, UnauthorisedError) and not race.clear_tokens
        assert await dk.session.get_session_information(first.session.handle) is not None
        clock.advance(0.001)
        theft = await dk.session.refresh_session(first.refresh_token.token)
        assert isinstance(theft, TokenTheftDetectedError)


async def test_sessions_are_kept_apart_by_app_and_tenant_and_listed_in_order(
    database_url: str, clock: Clock
) -> None:
    """A user's sessions are listed oldest first, per tenant when asked; another app's
    session of a same-named user is neither listed, revoked nor updated from this app.
    (Mutation testing: kills the dropped app_id, tenant_id and order_by clauses.)"""
    async with Doorkeep(Settings(database_url=database_url)) as dk:
        await dk.core.create_app("other-app", {})
        await save_tenant(dk.core.db, "public", "t1")
        public, other = dk.core.public.sessions, dk.core.app("other-app").sessions
        handles = []
        for _ in range(6):  # handles are random: only the creation time orders them
            clock.advance(1)
            handles.append((await public.create("ada")).session.handle)
        clock.advance(1)
        in_t1 = (await public.create("ada", tenant_id="t1")).session.handle
        elsewhere = (await other.create("ada")).session.handle
        assert await public.handles_for_user("ada", tenant_id="public") == handles
        assert await public.handles_for_user("ada") == [*handles, in_t1]
        assert await other.handles_for_user("ada") == [elsewhere]
        assert await public.revoke([elsewhere]) == []
        assert await public.update_session_data(elsewhere, {"x": 1}) is False
        assert await public.revoke_all_for_user("ada", tenant_id="t1") == [in_t1]
        assert await public.handles_for_user("ada") == handles
        assert await other.get(elsewhere) is not None  # untouched by all of the above


async def test_regenerating_an_access_token(database_url: str, clock: Clock) -> None:
    """A new access token for a live session: with a new custom payload (stored for
    later tokens too), or keeping the stored one; expiring a full validity from now;
    refused for a revoked session or a bad token."""
    async with Doorkeep(Settings(database_url=database_url)) as dk:
        sessions = dk.core.public.sessions
        created = await sessions.create("ada", access_token_payload={"role": "reader"})
        handle = created.session.handle
        clock.advance(100)
        changed = await sessions.regenerate_access_token(
            created.access_token.token, {"role": "editor"}
        )
        assert isinstance(changed, VerifiedSession) and changed.new_access_token is not None
        assert changed.session.user_id == "ada" and changed.session.handle == handle
        assert changed.claims["role"] == "editor"
        assert changed.new_access_token.expiry > created.access_token.expiry  # from now
        record = await sessions.get(handle)
        assert record is not None and record.user_data_in_jwt == {"role": "editor"}
        kept = await sessions.regenerate_access_token(changed.new_access_token.token)
        assert isinstance(kept, VerifiedSession) and kept.claims["role"] == "editor"
        record = await sessions.get(handle)
        assert record is not None and record.user_data_in_jwt == {"role": "editor"}
        await sessions.revoke([handle])
        for payload in (None, {"role": "admin"}):
            refused = await sessions.regenerate_access_token(created.access_token.token, payload)
            assert isinstance(refused, UnauthorisedError)
        assert isinstance(await sessions.regenerate_access_token("garbage"), UnauthorisedError)
