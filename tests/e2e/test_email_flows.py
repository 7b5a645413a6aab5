"""Password reset and email verification over HTTP, with a real SMTP server on loopback."""

from __future__ import annotations

import asyncio
import logging
import queue
import re
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from doorkeep import Doorkeep, Settings
from doorkeep.recipes.emailverification import EmailVerificationConfig
from doorkeep.serve.server import create_app
from doorkeep.testing import SmtpSink, email_text, free_port, serve_in_thread

PASSWORD = "correct horse battery"
WEBSITE = "https://app.example.com"


def fields(**values: object) -> dict[str, object]:
    return {"formFields": [{"id": k, "value": v} for k, v in values.items()]}


def link_in(text: str) -> str:
    found = re.search(r"https?://\S+", text)
    assert found is not None, text
    return found.group(0)


def token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


def settings_for(database_url: str, smtp: SmtpSink, **overrides: object) -> Settings:
    return Settings(
        database_url=database_url,
        smtp_url=smtp.url,
        website_domain=WEBSITE,
        email_retry_delays=(0.2, 0.4),
        **overrides,  # type: ignore[arg-type]
    )


def test_password_reset_by_email_link(database_url: str, smtp: SmtpSink) -> None:
    dk = Doorkeep(settings_for(database_url, smtp))
    with serve_in_thread(create_app(dk)) as url, httpx.Client(base_url=url) as client:
        assert (
            client.post(
                "/auth/signup", json=fields(email="ada@example.com", password=PASSWORD)
            ).json()["status"]
            == "OK"
        )
        other_device = client.post(
            "/auth/signin", json=fields(email="ada@example.com", password=PASSWORD)
        )
        # A forged Host header must not move the link: links come from configuration.
        asked = client.post(
            "/auth/user/password/reset/token",
            json=fields(email="ADA@example.com"),
            headers={"host": "evil.example"},
        )
        assert asked.json() == {"status": "OK"}
        message = smtp.wait_for(1)[0]
        assert message["To"] == "ada@example.com"
        link = link_in(email_text(message))
        assert (
            link.startswith(f"{WEBSITE}/auth/reset-password?token=") and "tenantId=public" in link
        )
        token = token_of(link)
        assert len(token) >= 43  # 256 bits, URL-safe base64

        # Asking for a reset changes nothing yet: the old password still works.
        assert (
            client.post(
                "/auth/signin", json=fields(email="ada@example.com", password=PASSWORD)
            ).json()["status"]
            == "OK"
        )

        weak = client.post(
            "/auth/user/password/reset",
            json={"method": "token", "token": token, **fields(password="short")},
        )
        assert weak.json() == {
            "status": "FIELD_ERROR",
            "formFields": [
                {"id": "password", "error": "Password must be at least 8 characters long."}
            ],
        }
        reset = client.post(
            "/auth/user/password/reset",
            json={"method": "token", "token": token, **fields(password="a brand new passphrase")},
        )
        assert reset.json() == {"status": "OK"}
        old = client.post("/auth/signin", json=fields(email="ada@example.com", password=PASSWORD))
        assert old.json() == {"status": "WRONG_CREDENTIALS_ERROR"}
        new = client.post(
            "/auth/signin", json=fields(email="ada@example.com", password="a brand new passphrase")
        )
        assert new.json()["status"] == "OK"
        again = client.post(
            "/auth/user/password/reset",
            json={"method": "token", "token": token, **fields(password="yet another passphrase")},
        )
        assert again.json() == {"status": "RESET_PASSWORD_INVALID_TOKEN_ERROR"}
        # The reset ended the sessions that existed before it.
        stale = client.post(
            "/auth/session/refresh",
            headers={"authorization": f"Bearer {other_device.headers['st-refresh-token']}"},
        )
        assert stale.status_code == 401


def test_expired_reset_token_is_refused(database_url: str, smtp: SmtpSink) -> None:
    dk = Doorkeep(settings_for(database_url, smtp, password_reset_token_lifetime=1))
    with serve_in_thread(create_app(dk)) as url, httpx.Client(base_url=url) as client:
        client.post("/auth/signup", json=fields(email="ada@example.com", password=PASSWORD))
        client.post("/auth/user/password/reset/token", json=fields(email="ada@example.com"))
        token = token_of(link_in(email_text(smtp.wait_for(1)[0])))
        time.sleep(1.2)
        late = client.post(
            "/auth/user/password/reset",
            json={"method": "token", "token": token, **fields(password="a brand new passphrase")},
        )
        assert late.json() == {"status": "RESET_PASSWORD_INVALID_TOKEN_ERROR"}
        assert (
            client.post(
                "/auth/signin", json=fields(email="ada@example.com", password=PASSWORD)
            ).json()["status"]
            == "OK"
        )


def test_reset_for_unknown_email_looks_the_same(database_url: str, smtp: SmtpSink) -> None:
    """Checklist 25: the same answer, and no account lookup before it — ordering, not
    timing. The lookup is held until the test holds the answer; a lookup on the answer's
    path would wait for an answer that cannot come, and is recorded as such.
    Fails if the reset request looks the account up before answering (mutant:
    `generate_password_reset_token_post` awaits `send_reset_email_if_known`)."""
    # Rate limits off: six requests for one account would rightly be throttled.
    dk = Doorkeep(settings_for(database_url, smtp, rate_limits_enabled=False))
    answered = threading.Event()
    lookups: queue.Queue[str] = queue.Queue()
    functions = dk.emailpassword.functions
    look_up = functions.get_user_by_identifier

    async def held_lookup(identifier: str, tenant_id: str, user_context: Any) -> Any:
        after_answer = await asyncio.to_thread(answered.wait, 10)
        lookups.put("after the answer" if after_answer else "before the answer")
        return await look_up(identifier, tenant_id, user_context)

    with serve_in_thread(create_app(dk)) as url, httpx.Client(base_url=url) as client:
        client.post("/auth/signup", json=fields(email="ada@example.com", password=PASSWORD))
        functions.get_user_by_identifier = held_lookup  # type: ignore[method-assign]
        answers, order = set(), []
        for email in ("ada@example.com", "nobody@example.com") * 3:
            answered.clear()
            response = client.post("/auth/user/password/reset/token", json=fields(email=email))
            answered.set()
            headers = sorted((k, v) for k, v in response.headers.items() if k != "x-request-id")
            answers.add((response.status_code, str(headers), response.text))
            order.append(lookups.get(timeout=15))
        assert answers == {(200, str(headers), '{"status":"OK"}')}  # one answer for all
        assert order == ["after the answer"] * 6
        smtp.wait_for(3)
        assert {m["To"] for m in smtp.messages} == {"ada@example.com"}


def test_smtp_down_then_back_within_the_retry_window(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    sink = SmtpSink(port)  # not started: nothing listens on the port yet
    settings = Settings(
        database_url=database_url,
        smtp_url=sink.url,
        website_domain=WEBSITE,
        email_retry_delays=(0.5, 1.0, 2.0, 4.0),
    )
    caplog.set_level(logging.WARNING, logger="doorkeep.email")
    with (
        serve_in_thread(create_app(Doorkeep(settings))) as url,
        httpx.Client(base_url=url) as client,
    ):
        client.post("/auth/signup", json=fields(email="ada@example.com", password=PASSWORD))
        asked = client.post("/auth/user/password/reset/token", json=fields(email="ada@example.com"))
        assert asked.status_code == 200 and asked.json() == {"status": "OK"}
        deadline = time.monotonic() + 5
        while "failed (attempt 1" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "failed (attempt 1" in caplog.text and "ada@example.com" in caplog.text
        with sink:
            message = sink.wait_for(1, timeout=10)[0]
        assert message["To"] == "ada@example.com" and "/auth/reset-password?token=" in email_text(
            message
        )


def test_email_verification_required(database_url: str, smtp: SmtpSink) -> None:
    dk = Doorkeep(
        settings_for(database_url, smtp), emailverification=EmailVerificationConfig(mode="REQUIRED")
    )
    with serve_in_thread(create_app(dk)) as url, httpx.Client(base_url=url) as client:
        signed_up = client.post(
            "/auth/signup", json=fields(email="ada@example.com", password=PASSWORD)
        )
        auth = {"authorization": f"Bearer {signed_up.headers['st-access-token']}"}
        blocked = client.get("/sessioninfo", headers=auth)
        assert blocked.status_code == 403
        assert blocked.json() == {
            "message": "invalid claim",
            "claimValidationErrors": [
                {
                    "id": "st-ev",
                    "reason": {
                        "message": "wrong value",
                        "expectedValue": True,
                        "actualValue": False,
                    },
                }
            ],
        }
        assert client.get("/auth/user/email/verify", headers=auth).json() == {
            "status": "OK",
            "isVerified": False,
        }
        assert client.post("/auth/user/email/verify/token", headers=auth).json() == {"status": "OK"}
        message = smtp.wait_for(1)[0]
        assert message["To"] == "ada@example.com"
        link = link_in(email_text(message))
        assert link.startswith(f"{WEBSITE}/auth/verify-email?token=")
        token = token_of(link)

        verified = client.post("/auth/user/email/verify", json={"method": "token", "token": token})
        assert verified.json() == {
            "status": "OK",
            "user": {"recipeUserId": signed_up.json()["user"]["id"], "email": "ada@example.com"},
        }
        # The next request that checks the claim sees the verification.
        allowed = client.get("/sessioninfo", headers=auth)
        assert allowed.status_code == 200
        assert allowed.json()["accessTokenPayload"]["st-ev"]["v"] is True
        again = client.post("/auth/user/email/verify", json={"method": "token", "token": token})
        assert again.json() == {"status": "EMAIL_VERIFICATION_INVALID_TOKEN_ERROR"}
        assert client.post("/auth/user/email/verify/token", headers=auth).json() == {
            "status": "EMAIL_ALREADY_VERIFIED_ERROR"
        }
        assert client.get("/auth/user/email/verify", headers=auth).json() == {
            "status": "OK",
            "isVerified": True,
        }


def test_expired_verification_token_and_bad_input(database_url: str, smtp: SmtpSink) -> None:
    dk = Doorkeep(settings_for(database_url, smtp, email_verification_token_lifetime=1))
    with serve_in_thread(create_app(dk)) as url, httpx.Client(base_url=url) as client:
        signed_up = client.post(
            "/auth/signup", json=fields(email="ada@example.com", password=PASSWORD)
        )
        auth = {"authorization": f"Bearer {signed_up.headers['st-access-token']}"}
        assert client.post("/auth/user/email/verify/token", headers=auth).json() == {"status": "OK"}
        token = token_of(link_in(email_text(smtp.wait_for(1)[0])))
        time.sleep(1.2)
        late = client.post("/auth/user/email/verify", json={"method": "token", "token": token})
        assert late.json() == {"status": "EMAIL_VERIFICATION_INVALID_TOKEN_ERROR"}
        for body in (
            {},
            {"method": "token"},
            {"method": "token", "token": 5},
            [1],
            {"method": "magic", "token": "x"},
        ):
            assert client.post("/auth/user/email/verify", json=body).status_code == 400
        for body in (
            {"token": "x"},
            {"method": "token", "token": "x", "formFields": [{"id": "password"}]},
        ):
            assert client.post("/auth/user/password/reset", json=body).status_code == 400
        assert client.post("/auth/user/email/verify/token").status_code == 401  # session required
        assert client.get("/auth/user/email/verify").status_code == 401
