"""Reset and verification tokens: hashed at rest, bound to user and email, used once."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from doorkeep import Doorkeep
from doorkeep.core.common import FieldError, UnknownUserIdError, sha256_hex
from doorkeep.core.emailpassword import SignInOk, SignUpOk
from doorkeep.core.emailverification import (
    EmailAlreadyVerifiedError,
    EmailVerified,
    InvalidVerificationTokenError,
    TokenCreated,
)
from doorkeep.core.passwordreset import (
    InvalidResetTokenError,
    ResetTokenConsumed,
    ResetTokenCreated,
)
from doorkeep.storage import tables as t

PASSWORD = "correct horse battery"


async def new_user(dk: Doorkeep, email: str = "ada@example.com") -> str:
    result = await dk.emailpassword.sign_up(email, PASSWORD)
    assert isinstance(result, SignUpOk)
    return result.user.id


async def test_reset_tokens_are_stored_only_as_digests(dk: Doorkeep) -> None:
    user_id = await new_user(dk)
    created = await dk.core.public.passwordreset.create_token(user_id, "ada@example.com")
    assert isinstance(created, ResetTokenCreated)
    async with dk.core.db.engine.connect() as conn:
        stored = (await conn.scalars(select(t.password_reset_tokens.c.token_hash))).all()
    assert stored == [sha256_hex(created.token)]
    assert isinstance(
        await dk.core.public.passwordreset.create_token("nobody", "x@example.com"),
        UnknownUserIdError,
    )


async def test_ten_concurrent_resets_with_one_token_exactly_one_wins(dk: Doorkeep) -> None:
    user_id = await new_user(dk)
    created = await dk.core.public.passwordreset.create_token(user_id, "ada@example.com")
    assert isinstance(created, ResetTokenCreated)
    results = await asyncio.gather(
        *(
            dk.core.public.passwordreset.reset_password(created.token, f"new passphrase {i}")
            for i in range(10)
        )
    )
    winners = [i for i, r in enumerate(results) if isinstance(r, ResetTokenConsumed)]
    assert len(winners) == 1
    assert all(
        isinstance(r, InvalidResetTokenError)
        for r in results
        if not isinstance(r, ResetTokenConsumed)
    )
    signed_in = await dk.emailpassword.sign_in("ada@example.com", f"new passphrase {winners[0]}")
    assert isinstance(signed_in, SignInOk)


async def test_earlier_reset_tokens_stay_valid_until_one_is_used(dk: Doorkeep) -> None:
    user_id = await new_user(dk)
    reset = dk.core.public.passwordreset
    first = await reset.create_token(user_id, "ada@example.com")
    second = await reset.create_token(user_id, "ada@example.com")
    assert isinstance(first, ResetTokenCreated) and isinstance(second, ResetTokenCreated)
    assert isinstance(
        await reset.reset_password(first.token, "new passphrase 1"), ResetTokenConsumed
    )
    # A completed reset retires the other links too.
    assert isinstance(
        await reset.reset_password(second.token, "new passphrase 2"), InvalidResetTokenError
    )


async def test_a_bad_new_password_spends_nothing(dk: Doorkeep) -> None:
    user_id = await new_user(dk)
    created = await dk.core.public.passwordreset.create_token(user_id, "ada@example.com")
    assert isinstance(created, ResetTokenCreated)
    weak = await dk.core.public.passwordreset.reset_password(created.token, "x" * 10_000)
    assert isinstance(weak, FieldError)
    ok = await dk.core.public.passwordreset.reset_password(created.token, "a fine passphrase")
    assert isinstance(ok, ResetTokenConsumed) and ok.user_id == user_id


async def test_tokens_of_another_tenant_are_not_spent(dk: Doorkeep) -> None:
    user_id = await new_user(dk)
    created = await dk.core.public.passwordreset.create_token(user_id, "ada@example.com")
    assert isinstance(created, ResetTokenCreated)
    assert isinstance(
        await dk.core.public.passwordreset.consume_token(created.token, "other"),
        InvalidResetTokenError,
    )
    assert isinstance(
        await dk.core.public.passwordreset.consume_token(created.token), ResetTokenConsumed
    )


async def test_ten_concurrent_verifications_with_one_token_exactly_one_wins(dk: Doorkeep) -> None:
    user_id = await new_user(dk)
    ev = dk.core.public.emailverification
    created = await ev.create_token(user_id, "ada@example.com")
    assert isinstance(created, TokenCreated)
    results = await asyncio.gather(*(ev.verify_token(created.token) for _ in range(10)))
    assert sum(isinstance(r, EmailVerified) for r in results) == 1
    assert sum(isinstance(r, InvalidVerificationTokenError) for r in results) == 9
    assert await ev.is_verified(user_id, "ada@example.com")


async def test_verification_is_bound_to_user_and_email(dk: Doorkeep) -> None:
    ada = await new_user(dk)
    bob = await new_user(dk, "bob@example.com")
    ev = dk.core.public.emailverification
    created = await ev.create_token(ada, "ada@example.com")
    assert isinstance(created, TokenCreated)
    assert isinstance(await ev.verify_token(created.token), EmailVerified)
    assert await ev.is_verified(ada, "ada@example.com")
    assert not await ev.is_verified(ada, "other@example.com")  # a@x says nothing about b@x
    assert not await ev.is_verified(bob, "ada@example.com")
    assert isinstance(await ev.create_token(ada, "ada@example.com"), EmailAlreadyVerifiedError)
    await ev.unverify(ada, "ada@example.com")
    assert not await ev.is_verified(ada, "ada@example.com")
    user = await dk.get_user(ada)
    assert user is not None and user.login_methods[0].verified is False


async def test_verification_follows_the_user_id_mapping(dk: Doorkeep) -> None:
    internal = await new_user(dk)
    await dk.useridmapping.create_user_id_mapping(internal, "legacy-9")
    created = await dk.emailverification.create_email_verification_token(
        "public", "legacy-9", "ada@example.com"
    )
    assert isinstance(created, TokenCreated)
    verified = await dk.emailverification.verify_email_using_token("public", created.token)
    assert isinstance(verified, EmailVerified) and verified.user_id == "legacy-9"
    assert await dk.emailverification.is_email_verified(internal)
    user = await dk.get_user("legacy-9")
    assert user is not None and user.login_methods[0].verified is True
