"""Passwordless codes and users on SQLite and PostgreSQL (issue 17, item 1): secrets at
rest, sign up then in, wrong and expired codes, single use under concurrency, resend,
tenants, update_user, listing and revoking, bad input, the sweep."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from typing import Any

from sqlalchemy import func, select, update

from doorkeep import Doorkeep
from doorkeep.core.common import FieldError, UnknownTenantError, UnknownUserIdError, now_ms
from doorkeep.core.emailpassword import SignUpOk
from doorkeep.core.housekeeping import purge_expired
from doorkeep.core.passwordless import (
    CheckOk,
    CodeCreated,
    ConsumeOk,
    EmailAlreadyExistsError,
    ExpiredUserInputCodeError,
    IncorrectUserInputCodeError,
    PasswordlessService,
    PhoneNumberAlreadyExistsError,
    RestartFlowError,
    SignInUpOk,
    UpdateOk,
    UserInputCodeAlreadyUsedError,
)
from doorkeep.core.tenants import save_tenant
from doorkeep.storage import tables as t

PHONE = "+14155552671"


def pl(dk: Doorkeep) -> PasswordlessService:
    return dk.core.public.passwordless


async def code_for(dk: Doorkeep, **contact: Any) -> CodeCreated:
    created = await pl(dk).create_code("public", **contact)
    assert isinstance(created, CodeCreated), created
    return created


async def consume(dk: Doorkeep, code: CodeCreated, user_input_code: str | None = None) -> Any:
    return await pl(dk).consume_code(
        "public",
        code.pre_auth_session_id,
        device_id=code.device_id,
        user_input_code=user_input_code or code.user_input_code,
    )


async def rows(dk: Doorkeep, table: Any) -> list[Any]:
    async with dk.core.db.read() as conn:
        return list((await conn.execute(select(table))).all())


async def count(dk: Doorkeep, table: Any) -> int:
    async with dk.core.db.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def expire_codes(dk: Doorkeep) -> None:
    async with dk.core.db.transaction() as conn:
        await conn.execute(update(t.passwordless_codes).values(expires_at=now_ms() - 1))


async def test_a_code_is_stored_only_as_digests(dk: Doorkeep) -> None:
    code = await code_for(dk, email="  Ada@Example.COM ")
    assert code.user_input_code.isdigit() and len(code.user_input_code) == 6
    assert len(base64.urlsafe_b64decode(code.link_code + "=")) == 32  # 256 bits
    assert code.code_lifetime == 900_000 and code.email == "ada@example.com"
    # The preAuthSessionId is the device ID's SHA-256 (SuperTokens' derivation).
    digest = hashlib.sha256(base64.b64decode(code.device_id)).digest()
    assert code.pre_auth_session_id == base64.urlsafe_b64encode(digest).decode().rstrip("=")

    stored_rows = [
        *await rows(dk, t.passwordless_devices),
        *await rows(dk, t.passwordless_codes),
    ]
    stored = " ".join(str(value) for row in stored_rows for value in row)
    for secret in (code.user_input_code, code.link_code, code.device_id):
        assert secret not in stored
    assert code.pre_auth_session_id in stored  # public: it is in the magic link


async def test_consuming_signs_up_then_in_and_proves_the_email(dk: Doorkeep) -> None:
    first = await consume(dk, await code_for(dk, email="ada@example.com"))
    assert isinstance(first, ConsumeOk) and first.created_new_recipe_user
    user = first.user.to_json()
    assert user["emails"] == ["ada@example.com"] and user["phoneNumbers"] == []
    [method] = user["loginMethods"]
    assert method["recipeId"] == "passwordless" and method["verified"] is True
    assert first.consumed_device.email == "ada@example.com"
    assert first.consumed_device.failed_code_input_attempt_count == 0

    second = await consume(dk, await code_for(dk, email="ADA@example.com"))
    assert isinstance(second, ConsumeOk) and not second.created_new_recipe_user
    assert second.user.id == first.user.id == second.recipe_user_id
    assert await count(dk, t.passwordless_devices) == 0  # each consumed device is gone
    assert (await dk.get_user(first.user.id)) == first.user


async def test_a_phone_number_is_stored_in_e164_and_a_link_signs_in(dk: Doorkeep) -> None:
    code = await code_for(dk, phone_number="+1 (415) 555-2671")
    assert code.phone_number == PHONE
    result = await pl(dk).consume_code("public", code.pre_auth_session_id, link_code=code.link_code)
    assert isinstance(result, ConsumeOk) and result.created_new_recipe_user
    user = result.user.to_json()
    assert user["phoneNumbers"] == [PHONE] and user["emails"] == []
    assert user["loginMethods"][0]["phoneNumber"] == PHONE
    assert (await pl(dk).get_user_by_phone_number("public", "+1 415 555 2671")) == result.user
    assert await dk.core.public.users.get_users_by_account_info("public", phone_number=PHONE) == [
        result.user
    ]
    # A link code is single use, like the user-input code of the same device.
    again = await pl(dk).consume_code("public", code.pre_auth_session_id, link_code=code.link_code)
    assert isinstance(again, RestartFlowError)


async def test_wrong_codes_count_per_device_and_the_last_one_restarts(dk: Doorkeep) -> None:
    """Mutant tried: `failed >= max_attempts` as `>` gives a fifth INCORRECT: fails here."""
    code = await code_for(dk, email="ada@example.com")
    wrong = "000000" if code.user_input_code != "000000" else "111111"
    for attempt in range(1, 5):
        result = await consume(dk, code, wrong)
        assert result == IncorrectUserInputCodeError(attempt, 5)
    listed = await pl(dk).list_codes_by_pre_auth_session_id("public", code.pre_auth_session_id)
    assert listed is not None and listed.failed_code_input_attempt_count == 4
    assert isinstance(await consume(dk, code, wrong), RestartFlowError)
    assert await count(dk, t.passwordless_devices) == 0
    # The device is gone: even the right code now restarts the flow.
    assert isinstance(await consume(dk, code), RestartFlowError)
    assert await count(dk, t.users) == 0


async def test_an_expired_code_is_refused_and_counted(dk: Doorkeep) -> None:
    code = await code_for(dk, email="ada@example.com")
    await expire_codes(dk)
    assert await consume(dk, code) == ExpiredUserInputCodeError(1, 5)
    by_link = await pl(dk).consume_code(
        "public", code.pre_auth_session_id, link_code=code.link_code
    )
    assert isinstance(by_link, RestartFlowError)
    assert await count(dk, t.users) == 0


async def test_ten_concurrent_consumes_of_one_code_sign_in_once(dk: Doorkeep) -> None:
    """Mutant tried: consuming without deleting the device (a SELECT only) gives ten OKs."""
    code = await code_for(dk, email="race@example.com")
    results = await asyncio.gather(*(consume(dk, code) for _ in range(10)))
    assert sum(isinstance(r, ConsumeOk) for r in results) == 1
    assert sum(isinstance(r, RestartFlowError) for r in results) == 9
    assert await count(dk, t.passwordless_users) == 1


async def test_parallel_guesses_never_get_more_than_the_allowed_evaluations(dk: Doorkeep) -> None:
    code = await code_for(dk, email="guess@example.com")
    guesses = [f"{n:06d}" for n in range(20) if f"{n:06d}" != code.user_input_code][:12]
    results = await asyncio.gather(*(consume(dk, code, guess) for guess in guesses))
    incorrect = sorted(
        r.failed_code_input_attempt_count
        for r in results
        if isinstance(r, IncorrectUserInputCodeError)
    )
    assert incorrect == [1, 2, 3, 4]  # each count once: the counter is atomic
    assert sum(isinstance(r, RestartFlowError) for r in results) == 8


async def test_two_devices_of_one_email_consumed_together_make_one_user(dk: Doorkeep) -> None:
    codes = [await code_for(dk, email="twice@example.com") for _ in range(2)]
    results = await asyncio.gather(*(consume(dk, code) for code in codes))
    assert all(isinstance(r, ConsumeOk) for r in results)
    assert sorted(r.created_new_recipe_user for r in results) == [False, True]
    assert len({r.user.id for r in results}) == 1


async def test_resend_adds_a_code_to_the_device(dk: Doorkeep) -> None:
    first = await code_for(dk, email="ada@example.com")
    again = await pl(dk).create_new_code_for_device("public", first.device_id)
    assert isinstance(again, CodeCreated)
    assert again.pre_auth_session_id == first.pre_auth_session_id
    assert again.code_id != first.code_id and again.email == "ada@example.com"
    device = await pl(dk).list_codes_by_device_id("public", first.device_id)
    assert device is not None and [c.code_id for c in device.codes] == [
        first.code_id,
        again.code_id,
    ]
    custom = await pl(dk).create_new_code_for_device(
        "public", first.device_id, user_input_code=again.user_input_code
    )
    assert isinstance(custom, UserInputCodeAlreadyUsedError)
    assert isinstance(await consume(dk, again), ConsumeOk)
    # Consuming spends the device: its other codes go with it.
    old_link = await pl(dk).consume_code(
        "public", first.pre_auth_session_id, link_code=first.link_code
    )
    assert isinstance(old_link, RestartFlowError)
    gone = await pl(dk).create_new_code_for_device("public", first.device_id)
    assert isinstance(gone, RestartFlowError)
    not_a_device = await pl(dk).create_new_code_for_device("public", "not base64!")
    assert isinstance(not_a_device, RestartFlowError)


async def test_check_code_does_not_spend_it(dk: Doorkeep) -> None:
    code = await code_for(dk, phone_number=PHONE)
    checked = await pl(dk).check_code(
        "public",
        code.pre_auth_session_id,
        device_id=code.device_id,
        user_input_code=code.user_input_code,
    )
    assert isinstance(checked, CheckOk) and checked.consumed_device.phone_number == PHONE
    wrong = "999999" if code.user_input_code != "999999" else "888888"
    checked_wrong = await pl(dk).check_code(
        "public", code.pre_auth_session_id, device_id=code.device_id, user_input_code=wrong
    )
    assert checked_wrong == IncorrectUserInputCodeError(1, 5)
    assert isinstance(await consume(dk, code), ConsumeOk)


async def test_a_code_belongs_to_its_tenant(dk: Doorkeep) -> None:
    await save_tenant(dk.core.db, "public", "acme")
    code = await code_for(dk, email="ada@example.com")
    elsewhere = await pl(dk).consume_code(
        "acme",
        code.pre_auth_session_id,
        device_id=code.device_id,
        user_input_code=code.user_input_code,
    )
    assert isinstance(elsewhere, RestartFlowError)
    in_acme = await pl(dk).create_code("acme", email="ada@example.com")
    assert isinstance(in_acme, CodeCreated)
    signed = await pl(dk).consume_code(
        "acme",
        in_acme.pre_auth_session_id,
        device_id=in_acme.device_id,
        user_input_code=in_acme.user_input_code,
    )
    assert isinstance(signed, ConsumeOk) and signed.user.tenant_ids == ("acme",)
    assert await pl(dk).get_user_by_email("public", "ada@example.com") is None
    unknown = await pl(dk).create_code("nope", email="ada@example.com")
    assert isinstance(unknown, UnknownTenantError)


async def test_update_user_changes_deletes_and_refuses_duplicates(dk: Doorkeep) -> None:
    ada = await pl(dk).sign_in_up("public", email="ada@example.com")
    bob = await pl(dk).sign_in_up("public", phone_number=PHONE)
    assert isinstance(ada, SignInUpOk) and isinstance(bob, SignInUpOk)
    service = pl(dk)

    assert await service.update_user(ada.user.id, phone_number="+44 20 7946 0958") == UpdateOk()
    assert await service.update_user(bob.user.id, email="ADA@example.com") == (
        EmailAlreadyExistsError()
    )
    assert await service.update_user(ada.user.id, phone_number=PHONE) == (
        PhoneNumberAlreadyExistsError()
    )
    assert await service.update_user(ada.user.id, email="new@example.com") == UpdateOk()
    assert await service.update_user(ada.user.id, email=None) == UpdateOk()
    user = await dk.get_user(ada.user.id)
    assert user is not None and user.emails == [] and user.phone_numbers == ["+442079460958"]
    # A passwordless user keeps a way to sign in.
    assert isinstance(await service.update_user(ada.user.id, phone_number=None), FieldError)
    assert isinstance(await service.update_user(ada.user.id, email="not an email"), FieldError)
    assert await service.update_user("no-such-user", email="x@example.com") == (
        UnknownUserIdError()
    )
    signed_up = await dk.emailpassword.sign_up("ep@example.com", "correct horse battery")
    assert isinstance(signed_up, SignUpOk)
    assert await service.update_user(signed_up.user.id, email="y@example.com") == (
        UnknownUserIdError()
    )
    # The new address is not verified by the change (only a consumed code proves one).
    changed = await service.update_user(bob.user.id, email="bob@example.com")
    assert changed == UpdateOk()
    bob_now = await dk.get_user(bob.user.id)
    assert bob_now is not None and bob_now.login_methods[0].verified is False
    assert await service.get_user_by_email("public", "bob@example.com") == bob_now


async def test_listing_and_revoking_codes(dk: Doorkeep) -> None:
    service = pl(dk)
    a1 = await code_for(dk, email="ada@example.com")
    a2 = await code_for(dk, email="ada@example.com")
    phone = await code_for(dk, phone_number=PHONE)
    by_email = await service.list_codes_by_email("public", "ADA@example.com")
    assert [d.pre_auth_session_id for d in by_email] == [
        a1.pre_auth_session_id,
        a2.pre_auth_session_id,
    ]
    assert by_email[0].to_json()["codes"][0] == {
        "codeId": a1.code_id,
        "timeCreated": a1.time_created,
        "codeLifetime": 900_000,
    }
    by_phone = await service.list_codes_by_phone_number("public", "+1 415 555 2671")
    assert [d.pre_auth_session_id for d in by_phone] == [phone.pre_auth_session_id]

    await service.revoke_code("public", a1.code_id)  # its only code: the device goes too
    assert await service.list_codes_by_device_id("public", a1.device_id) is None
    await service.revoke_all_codes("public", email="ada@example.com")
    assert await service.list_codes_by_email("public", "ada@example.com") == []
    await service.revoke_device("public", phone.pre_auth_session_id)
    assert await count(dk, t.passwordless_devices) == 0
    assert await count(dk, t.passwordless_codes) == 0


async def test_bad_contacts_are_field_errors_and_write_nothing(dk: Doorkeep) -> None:
    service = pl(dk)
    cases: list[dict[str, Any]] = [
        {"email": "not an email"},
        {"phone_number": "12345"},
        {"phone_number": "+1 415 555 267"},  # one digit short
        {"phone_number": 14155552671},
        {"email": "a@example.com", "phone_number": PHONE},
        {},
        {"email": "a@example.com", "user_input_code": ""},
    ]
    for contact in cases:
        result = await service.create_code("public", **contact)
        assert isinstance(result, FieldError), contact
    assert await count(dk, t.passwordless_devices) == 0
    restart = await service.consume_code("public", "x" * 10_000, link_code="y")
    assert isinstance(restart, RestartFlowError)
    no_code = await service.consume_code("public", "abc", device_id="AAAA", user_input_code=None)
    assert isinstance(no_code, RestartFlowError)


async def test_the_sweep_deletes_expired_devices_and_codes(dk: Doorkeep) -> None:
    kept = await code_for(dk, email="kept@example.com")
    await code_for(dk, email="gone@example.com")
    async with dk.core.db.transaction() as conn:
        d = t.passwordless_devices
        await conn.execute(
            update(d).where(d.c.email == "gone@example.com").values(expires_at=now_ms() - 1)
        )
    now = now_ms()
    purged = await purge_expired(dk.core.db, now=now, counters_before=now)
    assert purged.passwordless_devices == 1
    assert await count(dk, t.passwordless_codes) == 1  # the cascade took the device's code
    assert isinstance(await consume(dk, kept), ConsumeOk)
