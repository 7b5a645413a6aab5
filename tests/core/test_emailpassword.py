"""Email/password accounts on SQLite and PostgreSQL: the happy paths, bad input, races."""

from __future__ import annotations

import asyncio

import bcrypt
from sqlalchemy import func, select

from doorkeep import Doorkeep
from doorkeep.core.common import FieldError, UnknownTenantError, UnknownUserIdError
from doorkeep.core.emailpassword import (
    EmailAlreadyExistsError,
    ImportOk,
    SignInOk,
    SignUpOk,
    UpdateOk,
    WrongCredentialsError,
)
from doorkeep.core.tenants import save_tenant
from doorkeep.storage import tables as t

PASSWORD = "correct horse battery"


async def row_counts(dk: Doorkeep) -> dict[str, int]:
    """How many rows every table holds (to prove that bad input wrote nothing). The audit
    trail is written in batches after the event: what is queued is written first."""
    await dk.audit.flush()
    counts = {}
    async with dk.core.db.engine.connect() as conn:
        for table in t.metadata.sorted_tables:
            counts[table.name] = (
                await conn.execute(select(func.count()).select_from(table))
            ).scalar_one()
    return counts


async def test_sign_up_returns_the_cdi_user(dk: Doorkeep) -> None:
    result = await dk.emailpassword.sign_up("  Ada@Example.COM ", PASSWORD)
    assert isinstance(result, SignUpOk)
    user = result.user
    assert user.emails == ["ada@example.com"]
    assert user.tenant_ids == ("public",)
    assert result.recipe_user_id == user.id
    body = user.to_json()
    assert body["loginMethods"][0]["recipeId"] == "emailpassword"
    assert body["loginMethods"][0]["verified"] is False
    assert body["isPrimaryUser"] is False and body["timeJoined"] > 0


async def test_sign_in_right_and_wrong(dk: Doorkeep) -> None:
    signed_up = await dk.emailpassword.sign_up("ada@example.com", PASSWORD)
    assert isinstance(signed_up, SignUpOk)
    ok = await dk.emailpassword.sign_in("ADA@example.com", PASSWORD)
    assert isinstance(ok, SignInOk) and ok.user.id == signed_up.user.id
    assert isinstance(
        await dk.emailpassword.sign_in("ada@example.com", PASSWORD + "!"), WrongCredentialsError
    )
    assert isinstance(
        await dk.emailpassword.sign_in("nobody@example.com", PASSWORD), WrongCredentialsError
    )


async def test_stored_hash_is_argon2id_at_owasp_parameters(dk: Doorkeep) -> None:
    await dk.emailpassword.sign_up("a@example.com", PASSWORD)
    await dk.emailpassword.sign_up("b@example.com", PASSWORD)
    async with dk.core.db.engine.connect() as conn:
        hashes = (await conn.scalars(select(t.emailpassword_users.c.password_hash))).all()
    assert len(hashes) == 2 and hashes[0] != hashes[1]  # salted
    assert all(h.startswith("$argon2id$v=19$m=19456,t=2,p=1$") for h in hashes)


async def test_duplicate_email_is_refused_in_any_case(dk: Doorkeep) -> None:
    assert isinstance(await dk.emailpassword.sign_up("ada@example.com", PASSWORD), SignUpOk)
    again = await dk.emailpassword.sign_up("ADA@EXAMPLE.com", "another password 1")
    assert isinstance(again, EmailAlreadyExistsError)
    assert await dk.core.public.users.count_users() == 1


async def test_fifty_concurrent_sign_ups_of_one_email_create_one_user(dk: Doorkeep) -> None:
    variants = ["race@example.com", "RACE@example.com", "Race@Example.com", " race@example.com "]
    results = await asyncio.gather(
        *(dk.emailpassword.sign_up(variants[i % 4], f"{PASSWORD} {i}") for i in range(50))
    )
    assert sum(isinstance(r, SignUpOk) for r in results) == 1
    assert sum(isinstance(r, EmailAlreadyExistsError) for r in results) == 49
    assert await dk.core.public.users.count_users() == 1
    counts = await row_counts(dk)
    assert counts["emailpassword_users"] == counts["emailpassword_user_tenants"] == 1


async def test_bad_input_is_a_field_error_and_writes_nothing(dk: Doorkeep) -> None:
    before = await row_counts(dk)
    cases: list[tuple[object, object, str, str]] = [
        ("", PASSWORD, "email", "Field is not optional"),
        ("not-an-email", PASSWORD, "email", "Email is invalid"),
        ("a@b", PASSWORD, "email", "Email is invalid"),
        ("x" * 300 + "@example.com", PASSWORD, "email", "Email is invalid"),
        (42, PASSWORD, "email", "Email must be a string."),
        (None, PASSWORD, "email", "Email must be a string."),
        (
            "ada@example.com",
            "x" * 10_000,
            "password",
            "Password must be at most 128 characters long.",
        ),
        ("ada@example.com", "short", "password", "Password must be at least 8 characters long."),
        ("ada@example.com", 12345678, "password", "Password must be a string."),
        ("ada@example.com", ["a list"], "password", "Password must be a string."),
    ]
    for email, password, field, message in cases:
        result = await dk.emailpassword.sign_up(email, password)  # type: ignore[arg-type]
        assert isinstance(result, FieldError), (email, password, result)
        assert (field, message) in result.fields, (email, result.fields)
    assert await row_counts(dk) == before


async def test_sign_in_with_bad_input_is_wrong_credentials(dk: Doorkeep) -> None:
    await dk.emailpassword.sign_up("ada@example.com", PASSWORD)
    for email, password in [
        ("ada@example.com", "x" * 10_000),
        (None, PASSWORD),
        ("ada@example.com", 5),
    ]:
        result = await dk.emailpassword.sign_in(email, password)  # type: ignore[arg-type]
        assert isinstance(result, WrongCredentialsError)


async def test_unknown_tenant_is_refused(dk: Doorkeep) -> None:
    before = await row_counts(dk)
    result = await dk.emailpassword.sign_up("ada@example.com", PASSWORD, tenant_id="nope")
    assert isinstance(result, UnknownTenantError)
    assert await row_counts(dk) == before


async def test_update_email_and_password(dk: Doorkeep) -> None:
    ada = await dk.emailpassword.sign_up("ada@example.com", PASSWORD)
    bob = await dk.emailpassword.sign_up("bob@example.com", PASSWORD)
    assert isinstance(ada, SignUpOk) and isinstance(bob, SignUpOk)
    taken = await dk.emailpassword.update_email_or_password(ada.user.id, email="BOB@example.com")
    assert isinstance(taken, EmailAlreadyExistsError)
    moved = await dk.emailpassword.update_email_or_password(
        ada.user.id, email="ada@new.example.com", password="a new passphrase"
    )
    assert isinstance(moved, UpdateOk)
    assert isinstance(
        await dk.emailpassword.sign_in("ada@example.com", PASSWORD), WrongCredentialsError
    )
    assert isinstance(
        await dk.emailpassword.sign_in("ada@new.example.com", PASSWORD), WrongCredentialsError
    )
    assert isinstance(
        await dk.emailpassword.sign_in("ada@new.example.com", "a new passphrase"), SignInOk
    )


async def test_update_with_bad_input_changes_nothing(dk: Doorkeep) -> None:
    ada = await dk.emailpassword.sign_up("ada@example.com", PASSWORD)
    assert isinstance(ada, SignUpOk)
    before = await row_counts(dk)
    unknown = await dk.emailpassword.update_email_or_password(
        "no-such-user", password="a new passphrase"
    )
    assert isinstance(unknown, UnknownUserIdError)
    bad = await dk.emailpassword.update_email_or_password(
        ada.user.id, email="broken", password="x" * 10_000
    )
    assert isinstance(bad, FieldError) and {f for f, _ in bad.fields} == {"email", "password"}
    assert await row_counts(dk) == before
    assert isinstance(await dk.emailpassword.sign_in("ada@example.com", PASSWORD), SignInOk)


async def test_imported_bcrypt_hash_signs_in_and_is_upgraded(dk: Doorkeep) -> None:
    legacy = bcrypt.hashpw(b"legacy password", bcrypt.gensalt(rounds=4)).decode()
    imported = await dk.core.public.emailpassword.import_user("public", "old@example.com", legacy)
    assert isinstance(imported, ImportOk) and not imported.did_user_already_exist
    assert isinstance(
        await dk.emailpassword.sign_in("old@example.com", "wrong password"), WrongCredentialsError
    )
    assert isinstance(
        await dk.emailpassword.sign_in("old@example.com", "legacy password"), SignInOk
    )
    async with dk.core.db.engine.connect() as conn:
        stored = (await conn.scalars(select(t.emailpassword_users.c.password_hash))).one()
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert isinstance(
        await dk.emailpassword.sign_in("old@example.com", "legacy password"), SignInOk
    )
    # Importing again replaces the hash of the existing user instead of creating another.
    again = await dk.core.public.emailpassword.import_user(
        "public", "old@example.com", legacy, "bcrypt"
    )
    assert isinstance(again, ImportOk) and again.did_user_already_exist
    assert await dk.core.public.users.count_users() == 1


async def test_bcrypt_with_password_over_72_bytes_is_wrong_credentials(dk: Doorkeep) -> None:
    legacy = bcrypt.hashpw(b"p" * 72, bcrypt.gensalt(rounds=4)).decode()
    await dk.core.public.emailpassword.import_user("public", "old@example.com", legacy)
    result = await dk.emailpassword.sign_in("old@example.com", "p" * 100)
    assert isinstance(result, WrongCredentialsError)


async def test_import_rejects_a_garbage_hash(dk: Doorkeep) -> None:
    result = await dk.core.public.emailpassword.import_user("public", "x@example.com", "$2b$nope")
    assert isinstance(result, FieldError) and result.fields[0][0] == "passwordHash"
    assert await dk.core.public.users.count_users() == 0


async def test_list_and_count_users_with_pagination(dk: Doorkeep) -> None:
    for i in range(5):
        assert isinstance(
            await dk.emailpassword.sign_up(f"user{i}@example.com", PASSWORD), SignUpOk
        )
    users = dk.core.public.users
    first, token = await users.list_users(limit=2)
    second, token2 = await users.list_users(limit=2, pagination_token=token)
    third, token3 = await users.list_users(limit=2, pagination_token=token2)
    emails = [u.email for u in first + second + third]
    assert emails == [f"user{i}@example.com" for i in range(5)]
    assert token3 is None
    newest, _ = await users.list_users(limit=1, newest_first=True)
    assert newest[0].email == "user4@example.com"
    assert await users.count_users() == 5
    assert await users.count_users(tenant_id="public") == 5


async def test_a_tenants_users_are_listed_in_join_order_across_pages(dk: Doorkeep) -> None:
    await save_tenant(dk.core.db, "public", "acme")
    for i in range(6):  # alternate tenants, so the tenant's users are not contiguous
        tenant = "acme" if i % 2 else "public"
        signed_up = await dk.emailpassword.sign_up(f"user{i}@example.com", PASSWORD, tenant)
        assert isinstance(signed_up, SignUpOk)
    users = dk.core.public.users
    first, token = await users.list_users(tenant_id="acme", limit=2)
    second, last_token = await users.list_users(tenant_id="acme", limit=2, pagination_token=token)
    assert [u.email for u in first + second] == [f"user{i}@example.com" for i in (1, 3, 5)]
    assert last_token is None
    newest, _ = await users.list_users(tenant_id="acme", limit=1, newest_first=True)
    assert newest[0].email == "user5@example.com"
    by_recipe, _ = await users.list_users(tenant_id="acme", recipe_ids=["emailpassword"])
    assert len(by_recipe) == 3
    assert await users.list_users(tenant_id="acme", recipe_ids=["thirdparty"]) == ([], None)
    assert await users.count_users(tenant_id="acme") == 3


async def test_delete_user_removes_everything_that_belongs_to_them(dk: Doorkeep) -> None:
    ada = await dk.emailpassword.sign_up("ada@example.com", PASSWORD)
    assert isinstance(ada, SignUpOk)
    await dk.useridmapping.create_user_id_mapping(ada.user.id, "legacy-ada")
    await dk.usermetadata.update_user_metadata("legacy-ada", {"plan": "pro"})
    session = await dk.session.create_new_session("legacy-ada")
    assert await dk.delete_user("legacy-ada") is True
    counts = await row_counts(dk)
    for table in ("users", "emailpassword_users", "userid_mappings", "user_metadata", "sessions"):
        assert counts[table] == 0, table
    assert await dk.get_user(ada.user.id) is None
    verified = await dk.session.get_session(session.access_token.token)
    assert verified.status == "UNAUTHORISED"
    assert await dk.delete_user("legacy-ada") is False
