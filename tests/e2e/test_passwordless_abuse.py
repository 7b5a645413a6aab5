"""Passwordless over real HTTP, the abuse side (issue 17 item 3): creating a code answers
and works the same for a known and an unknown contact, a number gets a handful of SMS an
hour however it is spelt, resends wait a cool-down, consuming is limited per IP; and a
passwordless sign-in makes its session exactly as an email/password sign-in does."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from doorkeep.ratelimit import Limit, RateLimitConfig
from tests.e2e.passwordless_stack import (
    bearer,
    consume,
    contact_body,
    create_code,
    new_contact,
    new_email,
    new_phone,
    passwordless_stack,
)

VOLATILE_HEADERS = {"date", "x-request-id", "content-length"}
PASSWORD = "correct horse battery"


@contextmanager
def statements() -> Iterator[list[str]]:
    """Every SQL statement any engine of this process runs while the block is open."""
    seen: list[str] = []
    lock = threading.Lock()

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "revoked_sessions" in statement:  # the revocation feed's poll, not the request
            return
        with lock:
            seen.append(" ".join(statement.split()))

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", record)


@pytest.mark.parametrize("kind", ["email", "phone"])
def test_code_creation_is_the_same_for_known_and_unknown_contacts(
    database_url: str, kind: str
) -> None:
    """The answer (status, body, headers) and the work (the SQL statements run, in order)
    of POST /signinup/code are the same whether the contact has an account or not, and
    no user is looked up. Mutant tried: looking the user up in create_code_post (as a
    "known user" shortcut would): the statement lists differ and the test fails."""
    # The audit trail's writer and the revocation feed's poller run beside requests on the
    # same engines: the trail is off here and the feed's reads are left out, so what is
    # compared is the request's own work.
    with (
        passwordless_stack(database_url, audit_enabled=False) as stack,
        httpx.Client(base_url=stack.url) as client,
    ):
        for _ in range(2):  # twice, each time with a new account and a new contact
            contacts = {"known": _sign_up(stack, client, kind), "unknown": new_contact(kind)}
            answers: dict[str, httpx.Response] = {}
            work: dict[str, list[str]] = {}
            for label, contact in contacts.items():
                with statements() as seen:
                    answers[label] = client.post(
                        "/auth/signinup/code", json=contact_body(kind, contact)
                    )
                work[label] = list(seen)
            k, u = answers["known"], answers["unknown"]
            assert k.status_code == u.status_code == 200
            assert _stable_headers(k) == _stable_headers(u)
            assert (
                k.json().keys()
                == u.json().keys()
                == {
                    "status",
                    "deviceId",
                    "preAuthSessionId",
                    "flowType",
                }
            )
            assert k.json()["status"] == u.json()["status"] == "OK"
            assert k.json()["flowType"] == u.json()["flowType"]
            assert work["known"] == work["unknown"], (work["known"], work["unknown"])
            assert work["known"], "the request ran no SQL at all?"
            assert not any("passwordless_user" in s or "FROM users" in s for s in work["known"])


def _sign_up(stack: Any, client: httpx.Client, kind: str) -> str:
    contact = new_contact(kind)
    created = create_code(client, kind, contact)
    code = stack.wait_for(contact, 1).code
    answer = consume(
        client,
        preAuthSessionId=created["preAuthSessionId"],
        deviceId=created["deviceId"],
        userInputCode=code,
    )
    assert answer.json()["createdNewRecipeUser"] is True
    return contact


def _stable_headers(response: httpx.Response) -> list[tuple[str, str]]:
    return sorted((k, v) for k, v in response.headers.items() if k not in VOLATILE_HEADERS)


def test_a_number_gets_five_codes_an_hour_however_it_is_spelt(database_url: str) -> None:
    """Mutant tried: dropping the per-contact check from Passwordless.create_code: the
    sixth request is sent (200) and the test fails."""
    with (
        passwordless_stack(database_url, passwordless="phone") as stack,
        httpx.Client(base_url=stack.url) as client,
    ):
        number = new_phone()  # +14152xxxxxx
        a, b, c = number[2:5], number[5:8], number[8:]
        spellings = [number, f"+1 {a} {b} {c}", f"+1 ({a}) {b}-{c}", f"+1-{a}-{b}-{c}"]
        answers = [
            client.post("/auth/signinup/code", json={"phoneNumber": spellings[n % 4]})
            for n in range(7)
        ]
        assert [r.status_code for r in answers] == [200] * 5 + [429] * 2
        refused = answers[5]
        assert refused.json() == {"message": "Too many attempts. Please try again later."}
        assert 3500 < int(refused.headers["retry-after"]) <= 3601
        stack.wait_for(number, 5)
        assert len(stack.messages_to(number)) == 5  # nothing was texted after the limit
        # A resend is one more message to the number: refused too.
        device = answers[0].json()
        resend = client.post(
            "/auth/signinup/code/resend",
            json={"deviceId": device["deviceId"], "preAuthSessionId": device["preAuthSessionId"]},
        )
        assert resend.status_code == 429
        # Another number is not affected.
        assert (
            client.post("/auth/signinup/code", json={"phoneNumber": new_phone()}).status_code == 200
        )


def test_resend_waits_for_the_cool_down_and_consuming_is_limited_per_ip(
    database_url: str,
) -> None:
    limits = RateLimitConfig(
        passwordless_resend_per_device=Limit(1, 2), passwordless_consume_per_ip=Limit(4, 60)
    )
    with (
        passwordless_stack(database_url, doorkeep_options={"rate_limits": limits}) as stack,
        httpx.Client(base_url=stack.url) as client,
    ):
        email = new_email()
        created = create_code(client, "email", email)
        device = {"deviceId": created["deviceId"], "preAuthSessionId": created["preAuthSessionId"]}
        early = client.post("/auth/signinup/code/resend", json=device)
        assert early.status_code == 429 and 1 <= int(early.headers["retry-after"]) <= 2
        stack.wait_for(email, 1)
        time.sleep(2.1)
        assert client.post("/auth/signinup/code/resend", json=device).json() == {"status": "OK"}
        stack.wait_for(email, 2)
        assert len(stack.messages_to(email)) == 2
        wrong = [consume(client, **device, userInputCode="123456x").status_code for _ in range(5)]
        assert wrong == [200, 200, 200, 200, 429]


def front_token(response: httpx.Response) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(base64.b64decode(response.headers["front-token"]))
    return decoded


def cookie_shapes(response: httpx.Response) -> list[tuple[str, ...]]:
    """Each Set-Cookie's name and attributes, without its value and its dates."""
    shapes = []
    for header in response.headers.get_list("set-cookie"):
        name, *attributes = [part.strip() for part in header.split(";")]
        kept = [a for a in attributes if not a.lower().startswith(("expires=", "max-age="))]
        shapes.append((name.split("=", 1)[0], *sorted(kept)))
    return sorted(shapes)


@pytest.mark.parametrize("anti_csrf", ["VIA_TOKEN", "NONE"])
@pytest.mark.parametrize("mode", ["cookie", "header"])
def test_sessions_are_made_as_emailpassword_makes_them(
    database_url: str, mode: str, anti_csrf: str
) -> None:
    with passwordless_stack(database_url, anti_csrf=anti_csrf, rate_limits_enabled=False) as stack:
        headers = {"st-auth-mode": mode}
        with httpx.Client(base_url=stack.url, headers=headers) as ep_client:
            email = new_email()
            by_password = ep_client.post(
                "/auth/signup",
                json={
                    "formFields": [
                        {"id": "email", "value": email},
                        {"id": "password", "value": PASSWORD},
                    ]
                },
            )
            assert by_password.json()["status"] == "OK"
        with httpx.Client(base_url=stack.url, headers=headers) as pl_client:
            created = create_code(pl_client, "email", email)  # the same address, other recipe
            code = stack.wait_for(email, 1).code
            assert code is not None
            by_code = consume(
                pl_client,
                preAuthSessionId=created["preAuthSessionId"],
                deviceId=created["deviceId"],
                userInputCode=code,
            )
            assert by_code.json()["status"] == "OK"
            # Two accounts: each recipe's emails are its own.
            assert by_code.json()["user"]["id"] != by_password.json()["user"]["id"]
            session_headers = {
                "front-token",
                "st-access-token",
                "st-refresh-token",
                "anti-csrf",
                "access-control-expose-headers",
            }
            assert {h for h in by_code.headers if h in session_headers} == {
                h for h in by_password.headers if h in session_headers
            }
            assert cookie_shapes(by_code) == cookie_shapes(by_password)
            assert front_token(by_code)["up"].keys() == front_token(by_password)["up"].keys()
            assert ("anti-csrf" in by_code.headers) == (anti_csrf == "VIA_TOKEN")
            auth = bearer(by_code) if mode == "header" else {}
            if "anti-csrf" in by_code.headers:
                auth["anti-csrf"] = by_code.headers["anti-csrf"]
            info = pl_client.get("/sessioninfo", headers=auth)
            assert info.json()["userId"] == by_code.json()["user"]["id"]
