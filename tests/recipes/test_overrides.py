"""The seeds' function overrides, ported to doorkeep, take effect.

Seed 001 (just-in-time migration) blocks sign-up for users that an external
provider knows, and replaces sign-in to create users on the fly. Both are
written here exactly in the seeds' style: receive the original, replace a
method with a closure that may call it, return the original.
"""

from __future__ import annotations

from typing import Any

from doorkeep import Doorkeep, Settings
from doorkeep.core.emailpassword import (
    EmailAlreadyExistsError,
    SignInOk,
    SignUpOk,
    WrongCredentialsError,
)
from doorkeep.core.idmapping import Mapping
from doorkeep.recipes.emailpassword import EmailPasswordConfig, EmailPasswordFunctions

EXTERNAL_USERS = {"legacy@example.com": ("legacy-42", "legacy password")}


async def does_user_exist_in_external_provider(email: str) -> bool:
    return email in EXTERNAL_USERS


async def validate_with_external_provider(email: str, password: str) -> str | None:
    known = EXTERNAL_USERS.get(email)
    return known[0] if known is not None and known[1] == password else None


def block_external_sign_ups(original: EmailPasswordFunctions) -> EmailPasswordFunctions:
    original_sign_up = original.sign_up

    async def sign_up(email: str, password: str, tenant_id: str, user_context: dict[str, Any]):  # type: ignore[no-untyped-def]
        if await does_user_exist_in_external_provider(email):
            return EmailAlreadyExistsError()
        return await original_sign_up(email, password, tenant_id, user_context)

    original.sign_up = sign_up  # type: ignore[method-assign]
    return original


def make_migrating_sign_in(dk_ref: list[Doorkeep]):  # type: ignore[no-untyped-def]
    def override(original: EmailPasswordFunctions) -> EmailPasswordFunctions:
        original_sign_in = original.sign_in

        async def sign_in(email: str, password: str, tenant_id: str, user_context: dict[str, Any]):  # type: ignore[no-untyped-def]
            dk = dk_ref[0]
            if await original.get_user_by_email(email, tenant_id, user_context) is None:
                legacy_id = await validate_with_external_provider(email, password)
                if legacy_id is None:
                    return WrongCredentialsError()
                signed_up = await original.core.emailpassword.sign_up(tenant_id, email, password)
                assert isinstance(signed_up, SignUpOk)
                await dk.useridmapping.create_user_id_mapping(signed_up.user.id, legacy_id)
                user = await original.get_user_by_id(legacy_id, user_context)
                assert user is not None
                user_context["migrated"] = True
                return SignInOk(user, user.id)
            return await original_sign_in(email, password, tenant_id, user_context)

        original.sign_in = sign_in  # type: ignore[method-assign]
        return original

    return override


async def test_sign_up_override_blocks_external_users(database_url: str) -> None:
    config = EmailPasswordConfig(override_functions=block_external_sign_ups)
    async with Doorkeep(Settings(database_url=database_url), emailpassword=config) as dk:
        blocked = await dk.emailpassword.sign_up("legacy@example.com", "some passphrase")
        assert isinstance(blocked, EmailAlreadyExistsError)
        assert await dk.core.public.users.count_users() == 0
        allowed = await dk.emailpassword.sign_up("new@example.com", "some passphrase")
        assert isinstance(allowed, SignUpOk)


async def test_sign_in_override_replaces_sign_in_and_sees_user_context(database_url: str) -> None:
    ref: list[Doorkeep] = []
    config = EmailPasswordConfig(override_functions=make_migrating_sign_in(ref))
    async with Doorkeep(Settings(database_url=database_url), emailpassword=config) as dk:
        ref.append(dk)
        wrong = await dk.emailpassword.sign_in("legacy@example.com", "not it")
        assert isinstance(wrong, WrongCredentialsError)
        assert await dk.core.public.users.count_users() == 0

        context: dict[str, Any] = {}
        first = await dk.emailpassword.sign_in(
            "legacy@example.com", "legacy password", user_context=context
        )
        assert isinstance(first, SignInOk) and first.user.id == "legacy-42"
        assert context == {"migrated": True}  # the caller's dict reached the override
        mapping = await dk.useridmapping.get_user_id_mapping("legacy-42")
        assert isinstance(mapping, Mapping)

        # The second sign-in goes through the original implementation.
        second_context: dict[str, Any] = {}
        second = await dk.emailpassword.sign_in(
            "legacy@example.com", "legacy password", user_context=second_context
        )
        assert isinstance(second, SignInOk) and second.user.id == "legacy-42"
        assert second_context == {}


async def test_subclassing_works_as_an_override(database_url: str) -> None:
    calls: list[str] = []

    class Audited(EmailPasswordFunctions):
        async def sign_in(self, email, password, tenant_id, user_context):  # type: ignore[no-untyped-def]
            calls.append(email)
            return await super().sign_in(email, password, tenant_id, user_context)

    config = EmailPasswordConfig(override_functions=lambda original: Audited(original.core))
    async with Doorkeep(Settings(database_url=database_url), emailpassword=config) as dk:
        await dk.emailpassword.sign_up("ada@example.com", "some passphrase")
        assert isinstance(
            await dk.emailpassword.sign_in("ada@example.com", "some passphrase"), SignInOk
        )
        assert calls == ["ada@example.com"]


def test_an_override_that_returns_nothing_is_a_clear_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pytest

    with pytest.raises(TypeError, match="must return the implementation"):
        Doorkeep(
            Settings(database_url=f"sqlite:///{tmp_path}/x.sqlite3"),
            emailpassword=EmailPasswordConfig(override_functions=lambda original: None),  # type: ignore[arg-type,return-value]
        )
