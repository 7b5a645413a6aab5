"""Password-reset tokens in core (checklist 26-29, and the cost of a bad token), on
SQLite and PostgreSQL: a reset changes one account and spends that account's links
only, stays inside its app and tenant, reports whom it changed, and a token that
cannot reset costs no Argon2 hash. Written against the survivors of the mutation run
of `core/passwordreset.py` and `core/single_use.py` (docs/security.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import update

from doorkeep import Doorkeep, Settings
from doorkeep.core.common import FieldError, sha256_hex
from doorkeep.core.events import Event, EventKind
from doorkeep.core.passwordreset import InvalidResetTokenError, ResetTokenConsumed
from doorkeep.core.services import AppCore
from doorkeep.core.single_use import MAX_TOKEN_LENGTH
from doorkeep.core.tenants import save_tenant
from doorkeep.storage import tables as t
from tests.core.conftest import Clock

PASSWORD, NEW_PASSWORD = "correct horse battery", "a brand new passphrase"


@dataclass
class Accounts:
    dk: Doorkeep
    core: AppCore
    ada: str  # internal user IDs
    bob: str
    hashes: list[str]  # every password hashed (Argon2) since the fixture was made

    async def token(self, user_id: str, email: str, tenant_id: str = "public") -> str:
        created = await self.core.passwordreset.create_token(user_id, email, tenant_id)
        return created.token  # type: ignore[union-attr]

    async def signs_in(self, email: str, password: str) -> bool:
        return (await self.dk.emailpassword.sign_in(email, password)).status == "OK"


@pytest.fixture
async def accounts(database_url: str) -> AsyncIterator[Accounts]:
    async with Doorkeep(Settings(database_url=database_url)) as dk:
        ids = []
        for email in ("ada@example.com", "bob@example.com"):
            signed_up = await dk.emailpassword.sign_up(email, PASSWORD)
            ids.append(signed_up.user.id)  # type: ignore[union-attr]
        core = dk.core.public
        hashes: list[str] = []
        hash_password = core.ctx.hasher.hash

        async def counted(password: str) -> str:
            hashes.append(password)
            return await hash_password(password)

        core.ctx.hasher.hash = counted  # type: ignore[method-assign]
        yield Accounts(dk, core, ids[0], ids[1], hashes)


async def test_a_reset_changes_one_account_and_spends_only_its_links(
    accounts: Accounts,
) -> None:
    """Fails if the password write or the spending of links loses its user filter
    (mutants: `update(...).where(app_id)` alone; `delete(tokens).where(app_id)` alone)."""
    resets = accounts.core.passwordreset
    ada_token = await accounts.token(accounts.ada, "ada@example.com")
    ada_other_link = await accounts.token(accounts.ada, "ada@example.com")
    bob_token = await accounts.token(accounts.bob, "bob@example.com")
    done = await resets.reset_password(ada_token, NEW_PASSWORD)
    assert done == ResetTokenConsumed(accounts.ada, "ada@example.com")
    assert await accounts.signs_in("ada@example.com", NEW_PASSWORD)
    assert await accounts.signs_in("bob@example.com", PASSWORD)  # bob untouched
    assert await resets.reset_password(ada_other_link, "yet another passphrase") == (
        InvalidResetTokenError()
    )  # a reset spends all of the account's links...
    assert isinstance(await resets.reset_password(bob_token, NEW_PASSWORD), ResetTokenConsumed)
    # ...and nobody else's.


async def test_a_bad_new_password_is_a_field_error_on_password(accounts: Accounts) -> None:
    token = await accounts.token(accounts.ada, "ada@example.com")
    refused = await accounts.core.passwordreset.reset_password(token, "short")
    assert isinstance(refused, FieldError) and [f for f, _ in refused.fields] == ["password"]
    assert refused.fields[0][1]  # a message to show
    assert accounts.hashes == []


async def test_a_token_that_cannot_reset_costs_no_hash(
    accounts: Accounts, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Garbage, unknown, another tenant's and another app's tokens are refused before
    any Argon2 hash (an unauthenticated caller must not buy CPU with made-up tokens).
    Fails if `is_live` answers True for garbage, ignores the token's digest, its
    expiry (a token at its `expires_at` is spent), or its scope."""
    await save_tenant(accounts.dk.core.db, "public", "t1")
    in_t1 = await accounts.token(accounts.ada, "ada@example.com", tenant_id="t1")
    resets = accounts.core.passwordreset
    bad: list[Any] = [None, 7, "", "x" * (MAX_TOKEN_LENGTH + 1), "not-a-token"]
    expired = await accounts.token(accounts.ada, "ada@example.com")
    clock = Clock()  # stopped: the token below expires exactly now
    monkeypatch.setattr("doorkeep.core.common.time", clock)
    async with accounts.dk.core.db.transaction() as conn:
        await conn.execute(
            update(t.password_reset_tokens)
            .where(t.password_reset_tokens.c.token_hash == sha256_hex(expired))
            .values(expires_at=clock.ms)
        )
    await accounts.token(accounts.bob, "bob@example.com")  # a live token exists in scope
    for token in [*bad, in_t1, expired]:
        assert await resets.reset_password(token, NEW_PASSWORD) == InvalidResetTokenError()
    assert accounts.hashes == []
    # The t1 token still works in t1: refusing it elsewhere did not spend it.
    assert isinstance(await resets.reset_password(in_t1, NEW_PASSWORD, "t1"), ResetTokenConsumed)
    assert accounts.hashes == [NEW_PASSWORD]


async def test_tokens_stay_inside_their_app(accounts: Accounts) -> None:
    """A token of another app neither resets nor is consumed here, and stays usable
    there. Fails if the app scope is dropped from `consume` or `is_live`."""
    dk = accounts.dk
    await dk.core.create_app("other-app", {})
    other = dk.core.app("other-app")
    carol = await other.emailpassword.sign_up("public", "carol@example.com", PASSWORD)
    created = await other.passwordreset.create_token(carol.user.id, "carol@example.com")  # type: ignore[union-attr]
    token = created.token  # type: ignore[union-attr]
    resets = accounts.core.passwordreset
    assert await resets.reset_password(token, NEW_PASSWORD) == InvalidResetTokenError()
    assert await resets.consume_token(token) == InvalidResetTokenError()
    assert isinstance(await other.passwordreset.consume_token(token), ResetTokenConsumed)


async def test_consume_and_revoke_name_the_user_as_the_caller_knows_them(
    accounts: Accounts,
) -> None:
    """CDI consume answers the external ID of a mapped user and the email; revoking a
    user's links (after an email change) takes that ID and spends only theirs."""
    dk, resets = accounts.dk, accounts.core.passwordreset
    await dk.useridmapping.create_user_id_mapping(accounts.ada, "legacy-ada")
    token = await accounts.token("legacy-ada", "ada@example.com")
    consumed = await resets.consume_token(token)
    assert consumed == ResetTokenConsumed("legacy-ada", "ada@example.com")
    ada_link = await accounts.token("legacy-ada", "ada@example.com")
    bob_link = await accounts.token(accounts.bob, "bob@example.com")
    await resets.revoke_tokens("legacy-ada")
    assert await resets.consume_token(ada_link) == InvalidResetTokenError()
    assert isinstance(await resets.consume_token(bob_link), ResetTokenConsumed)


async def test_a_completed_reset_is_announced(accounts: Accounts) -> None:
    """Subscribers hear who reset (the ID the caller knows), in which app and tenant,
    and that the password changed by reset."""
    heard: list[Event] = []
    accounts.core.ctx.events.subscribe(
        heard.append, [EventKind.PASSWORD_RESET_COMPLETED, EventKind.PASSWORD_CHANGED]
    )
    token = await accounts.token(accounts.ada, "ada@example.com")
    await accounts.core.passwordreset.reset_password(token, NEW_PASSWORD)
    summary = [
        (e.kind, e.app_id, getattr(e, "tenant_id", None), e.user_id, getattr(e, "via", None))
        for e in heard
    ]
    assert summary == [
        (EventKind.PASSWORD_RESET_COMPLETED, "public", "public", accounts.ada, None),
        (EventKind.PASSWORD_CHANGED, "public", None, accounts.ada, "reset"),
    ]
