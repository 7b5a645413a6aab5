"""Passwordless sign-in end to end over real HTTP, for every flow type (code, link, code
and link) and contact method (email through a real SMTP server, SMS through the outbox),
on SQLite and PostgreSQL: sign up then sign in, a link opened on another device, resend,
expiry, too many wrong codes, and ten concurrent consumptions of one code."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from doorkeep.core.context import UserContext
from doorkeep.recipes.apis import APIOptions
from doorkeep.recipes.passwordless import PasswordlessApis, PasswordlessConfig
from doorkeep.recipes.passwordless.apis import CreateCodePostResult, SignInUpNotAllowed
from tests.e2e.passwordless_stack import (
    Stack,
    bearer,
    consume,
    contact_body,
    create_code,
    new_contact,
    passwordless_stack,
)

FLOWS = {
    "code": "USER_INPUT_CODE",
    "link": "MAGIC_LINK",
    "code_and_link": "USER_INPUT_CODE_AND_MAGIC_LINK",
}
CONTACTS = ["email", "phone"]


def sends_code(flow: str) -> bool:
    return flow != "link"


def sends_link(flow: str) -> bool:
    return flow != "code"


def sign_in_once(
    stack: Stack, client: httpx.Client, kind: str, contact: str, flow: str, *, by: str, nth: int
) -> httpx.Response:
    """Ask for a code, read the `nth` message to the contact, spend it `by` code or link."""
    created = create_code(client, kind, contact)
    assert created["flowType"] == FLOWS[flow] and set(created) == {
        "status",
        "deviceId",
        "preAuthSessionId",
        "flowType",
    }
    message = stack.wait_for(contact, nth)
    assert (message.code is not None) == sends_code(flow), message.text
    assert (message.link is not None) == sends_link(flow), message.text
    if by == "code":
        assert message.code is not None
        return consume(
            client,
            preAuthSessionId=created["preAuthSessionId"],
            deviceId=created["deviceId"],
            userInputCode=message.code,
        )
    path, pre_auth_session_id, link_code = message.link_parts()
    # Where SuperTokens' frontends expect it, the link code in the fragment only.
    assert path == "/auth/verify" and pre_auth_session_id == created["preAuthSessionId"]
    return consume(client, preAuthSessionId=pre_auth_session_id, linkCode=link_code)


def session_user(client: httpx.Client, signed_in: httpx.Response) -> str:
    info = client.get("/sessioninfo", headers=bearer(signed_in))
    assert info.status_code == 200, info.text
    user_id: str = info.json()["userId"]
    return user_id


@pytest.mark.parametrize("kind", CONTACTS)
@pytest.mark.parametrize("flow", list(FLOWS))
def test_sign_up_sign_in_another_device_and_resend(database_url: str, flow: str, kind: str) -> None:
    with (
        passwordless_stack(database_url, flow=flow, rate_limits_enabled=False) as stack,
        httpx.Client(base_url=stack.url) as client,
    ):
        contact = new_contact(kind)
        first_by = "code" if sends_code(flow) else "link"
        then_by = "link" if sends_link(flow) else "code"

        # Sign up: the first code for a contact makes its account.
        signed_up = sign_in_once(stack, client, kind, contact, flow, by=first_by, nth=1)
        body = signed_up.json()
        assert body["status"] == "OK" and body["createdNewRecipeUser"] is True, body
        user = body["user"]
        assert user["loginMethods"][0]["recipeId"] == "passwordless"
        assert (user["emails"] if kind == "email" else user["phoneNumbers"]) == [contact]
        assert session_user(client, signed_up) == user["id"]

        # Sign in: the same account, by the other means where the flow sends both.
        signed_in = sign_in_once(stack, client, kind, contact, flow, by=then_by, nth=2)
        assert signed_in.json()["createdNewRecipeUser"] is False
        assert signed_in.json()["user"]["id"] == user["id"]
        assert session_user(client, signed_in) == user["id"]

        # Resend: another message with a new code/link for the same device; it signs in,
        # and the device is gone afterwards.
        created = create_code(client, kind, contact)
        stack.wait_for(contact, 3)
        device = {"deviceId": created["deviceId"], "preAuthSessionId": created["preAuthSessionId"]}
        assert client.post("/auth/signinup/code/resend", json=device).json() == {"status": "OK"}
        resent = stack.wait_for(contact, 4)
        if sends_code(flow):
            assert resent.code is not None
            answer = consume(client, **device, userInputCode=resent.code)
        else:
            _, pre_auth_session_id, link_code = resent.link_parts()
            answer = consume(client, preAuthSessionId=pre_auth_session_id, linkCode=link_code)
        assert answer.json()["status"] == "OK" and answer.json()["user"]["id"] == user["id"]
        gone = client.post("/auth/signinup/code/resend", json=device)
        assert gone.json() == {"status": "RESTART_FLOW_ERROR"}
        wrong_pair = {**device, "preAuthSessionId": "not-this-device"}
        assert client.post("/auth/signinup/code/resend", json=wrong_pair).json() == {
            "status": "RESTART_FLOW_ERROR"
        }

        if sends_link(flow):
            # A link opened on another device (no cookie, no deviceId) signs *that* device in.
            created = create_code(client, kind, contact)
            _, pre_auth_session_id, link_code = stack.wait_for(contact, 5).link_parts()
            with httpx.Client(base_url=stack.url, headers={"st-auth-mode": "cookie"}) as other:
                opened = consume(other, preAuthSessionId=pre_auth_session_id, linkCode=link_code)
                assert opened.json()["status"] == "OK", opened.text
                assert opened.json()["user"]["id"] == user["id"]
                assert "sAccessToken" in other.cookies  # the session lives on the other device
                assert other.get("/sessioninfo").json()["userId"] == user["id"]
            # The first device's attempt is spent with it; the link works once.
            again = consume(client, preAuthSessionId=pre_auth_session_id, linkCode=link_code)
            assert again.json() == {"status": "RESTART_FLOW_ERROR"}


@pytest.mark.parametrize("kind", CONTACTS)
@pytest.mark.parametrize("flow", list(FLOWS))
def test_expired_codes_and_links(database_url: str, flow: str, kind: str) -> None:
    """DOORKEEP_PASSWORDLESS_CODE_LIFETIME=1: a late code is EXPIRED (and counts as a
    failed attempt), a late link restarts the flow, a resent code works."""
    with (
        passwordless_stack(
            database_url, flow=flow, rate_limits_enabled=False, passwordless_code_lifetime=1
        ) as stack,
        httpx.Client(base_url=stack.url) as client,
    ):
        contact = new_contact(kind)
        created = create_code(client, kind, contact)
        device = {"deviceId": created["deviceId"], "preAuthSessionId": created["preAuthSessionId"]}
        message = stack.wait_for(contact, 1)
        time.sleep(1.2)
        if sends_code(flow):
            assert message.code is not None
            late = consume(client, **device, userInputCode=message.code)
            assert late.json() == {
                "status": "EXPIRED_USER_INPUT_CODE_ERROR",
                "failedCodeInputAttemptCount": 1,
                "maximumCodeInputAttempts": 5,
            }
        if sends_link(flow):
            _, pre_auth_session_id, link_code = message.link_parts()
            late = consume(client, preAuthSessionId=pre_auth_session_id, linkCode=link_code)
            assert late.json() == {"status": "RESTART_FLOW_ERROR"}
        assert client.post("/auth/signinup/code/resend", json=device).json() == {"status": "OK"}
        fresh = stack.wait_for(contact, 2)
        if sends_code(flow):
            assert fresh.code is not None
            answer = consume(client, **device, userInputCode=fresh.code)
        else:
            _, pre_auth_session_id, link_code = fresh.link_parts()
            answer = consume(client, preAuthSessionId=pre_auth_session_id, linkCode=link_code)
        assert answer.json()["status"] == "OK", answer.text


@pytest.mark.parametrize("kind", CONTACTS)
@pytest.mark.parametrize("flow", list(FLOWS))
def test_wrong_codes_then_restart_and_concurrent_consumes(
    database_url: str, flow: str, kind: str
) -> None:
    """The third wrong code (max 3) ends the device; of ten parallel consumptions of one
    code or link exactly one signs in (and one session exists)."""
    with (
        passwordless_stack(
            database_url,
            flow=flow,
            rate_limits_enabled=False,
            passwordless_max_code_input_attempts=3,
        ) as stack,
        httpx.Client(base_url=stack.url) as client,
    ):
        contact = new_contact(kind)
        created = create_code(client, kind, contact)
        device = {"deviceId": created["deviceId"], "preAuthSessionId": created["preAuthSessionId"]}
        message = stack.wait_for(contact, 1)
        real = message.code or "000000"
        wrong = "999999" if real != "999999" else "111111"
        answers = [consume(client, **device, userInputCode=wrong).json() for _ in range(3)]
        assert answers == [
            {
                "status": "INCORRECT_USER_INPUT_CODE_ERROR",
                "failedCodeInputAttemptCount": 1,
                "maximumCodeInputAttempts": 3,
            },
            {
                "status": "INCORRECT_USER_INPUT_CODE_ERROR",
                "failedCodeInputAttemptCount": 2,
                "maximumCodeInputAttempts": 3,
            },
            {"status": "RESTART_FLOW_ERROR"},
        ]
        # The device is gone: neither the right code nor the link works any more.
        if message.code is not None:
            right = consume(client, **device, userInputCode=message.code)
            assert right.json() == {"status": "RESTART_FLOW_ERROR"}
        if message.link is not None:
            _, pre_auth_session_id, link_code = message.link_parts()
            late = consume(client, preAuthSessionId=pre_auth_session_id, linkCode=link_code)
            assert late.json() == {"status": "RESTART_FLOW_ERROR"}

        created = create_code(client, kind, contact)
        message = stack.wait_for(contact, 2)
        if sends_code(flow):
            assert message.code is not None
            body = {
                "preAuthSessionId": created["preAuthSessionId"],
                "deviceId": created["deviceId"],
                "userInputCode": message.code,
            }
        else:
            _, pre_auth_session_id, link_code = message.link_parts()
            body = {"preAuthSessionId": pre_auth_session_id, "linkCode": link_code}
        statuses = consume_concurrently(stack.url, body, 10)
        assert sorted(statuses) == ["OK"] + ["RESTART_FLOW_ERROR"] * 9

        async def sessions_of_contact(dk: object) -> int:
            from doorkeep import Doorkeep

            assert isinstance(dk, Doorkeep)
            pl = dk.passwordless
            found = (
                await pl.get_user_by_email(contact)
                if kind == "email"
                else await pl.get_user_by_phone_number(contact)
            )
            assert found is not None
            return len(await dk.session.get_all_session_handles_for_user(found.id))

        assert stack.in_doorkeep(sessions_of_contact) == 1


def consume_concurrently(url: str, body: dict[str, str], count: int) -> list[str]:
    """`count` clients post the same consumption at once (a barrier releases them)."""
    barrier = threading.Barrier(count)
    statuses: list[str] = []
    lock = threading.Lock()

    def one() -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            client.get("/hello")  # connected before the race starts
            barrier.wait()
            status = consume(client, **body).json()["status"]
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return statuses


def test_shape_errors_are_400_and_bad_contacts_general_errors(database_url: str) -> None:
    with (
        passwordless_stack(database_url, passwordless="email", rate_limits_enabled=False) as stack,
        httpx.Client(base_url=stack.url) as client,
    ):
        post = client.post
        for body in ({}, {"email": "a@example.com", "phoneNumber": "+14155552671"}, []):
            answer = post("/auth/signinup/code", json=body)
            assert answer.status_code == 400 and "message" in answer.json()
        # The contact method is EMAIL: a phone number is a malformed request.
        phone = post("/auth/signinup/code", json=contact_body("phone", "+14155552671"))
        assert phone.status_code == 400 and "EMAIL" in phone.json()["message"]
        assert post("/auth/signinup/code", json={"email": 5}).status_code == 400
        bad = post("/auth/signinup/code", json={"email": "not-an-address"})
        assert bad.json() == {"status": "GENERAL_ERROR", "message": "Email is invalid"}
        for body in (
            {"preAuthSessionId": "x"},
            {"preAuthSessionId": "x", "linkCode": "y", "deviceId": "z", "userInputCode": "1"},
            {"linkCode": "y"},
            {"preAuthSessionId": "x", "deviceId": 5, "userInputCode": "1"},
        ):
            answer = post("/auth/signinup/code/consume", json=body)
            assert answer.status_code == 400, body
        assert post("/auth/signinup/code/resend", json={"deviceId": "x"}).status_code == 400
        unknown = consume(client, preAuthSessionId="nothing-like-it", linkCode="nor-this")
        assert unknown.json() == {"status": "RESTART_FLOW_ERROR"}
        # Tenant-prefixed routes answer too; an unknown tenant is a GENERAL_ERROR.
        nowhere = post("/auth/no-such-tenant/signinup/code", json={"email": "a@example.com"})
        assert nowhere.json() == {"status": "GENERAL_ERROR", "message": "Tenant not found"}
        exists = client.get("/auth/public/passwordless/email/exists", params={"email": "a@b.co"})
        assert exists.json() == {"status": "OK", "exists": False}
        assert client.get("/auth/passwordless/email/exists").status_code == 400


def test_an_api_override_answers_sign_in_up_not_allowed(database_url: str) -> None:
    """The handlers are overridable, seed style: an application refusing a domain answers
    SIGN_IN_UP_NOT_ALLOWED from /signinup/code, and the page shows its reason."""

    def refuse_blocked_domain(original: PasswordlessApis) -> PasswordlessApis:
        original_create = original.create_code_post

        async def create_code_post(
            email: str | None,
            phone_number: str | None,
            tenant_id: str,
            api_options: APIOptions[PasswordlessConfig],
            user_context: UserContext,
        ) -> CreateCodePostResult:
            if email is not None and email.endswith("@blocked.example"):
                return SignInUpNotAllowed("Cannot sign in / up from this domain.")
            return await original_create(email, phone_number, tenant_id, api_options, user_context)

        original.create_code_post = create_code_post  # type: ignore[method-assign]  # seed style
        return original

    config = PasswordlessConfig(override_apis=refuse_blocked_domain)
    with (
        passwordless_stack(
            database_url, rate_limits_enabled=False, doorkeep_options={"passwordless": config}
        ) as stack,
        httpx.Client(base_url=stack.url) as client,
    ):
        refused = client.post("/auth/signinup/code", json={"email": "eve@blocked.example"})
        assert refused.json() == {
            "status": "SIGN_IN_UP_NOT_ALLOWED",
            "reason": "Cannot sign in / up from this domain.",
        }
        assert create_code(client, "email", new_contact("email"))["status"] == "OK"
        page = client.get("/auth/login/passwordless")
        token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        shown = client.post(
            "/auth/login/passwordless",
            data={"csrf_token": token, "contact": "eve@blocked.example"},
        )
        assert shown.status_code == 400 and "Cannot sign in / up from this domain." in shown.text
