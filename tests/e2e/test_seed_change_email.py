"""Seed 002: change email, with and without verifying the new address, over HTTP."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from doorkeep import Doorkeep, Settings
from doorkeep.serve.server import create_app
from doorkeep.testing import SmtpSink, email_text, serve_in_thread

PASSWORD = "correct horse battery"


def fields(**values: object) -> dict[str, object]:
    return {"formFields": [{"id": k, "value": v} for k, v in values.items()]}


def token_in(message: object) -> str:
    link = re.search(r"https?://\S+", email_text(message))  # type: ignore[arg-type]
    assert link is not None
    return parse_qs(urlsplit(link.group(0)).query)["token"][0]


def signs_in(client: httpx.Client, email: str) -> bool:
    return (
        client.post("/auth/signin", json=fields(email=email, password=PASSWORD)).json()["status"]
        == "OK"
    )


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


def test_change_email_with_verification(database_url: str, smtp: SmtpSink) -> None:
    settings = Settings(database_url=database_url, smtp_url=smtp.url, notify_email_change=True)
    with (
        serve_in_thread(create_app(Doorkeep(settings))) as url,
        httpx.Client(base_url=url) as client,
    ):
        ada = client.post("/auth/signup", json=fields(email="ada@example.com", password=PASSWORD))
        client.post("/auth/signup", json=fields(email="bob@example.com", password=PASSWORD))
        auth = {"authorization": f"Bearer {ada.headers['st-access-token']}"}
        change = "/auth/user/email/change"
        assert client.post(change, json={"email": "ada@new.example.com"}).status_code == 401
        assert client.post(change, json={"email": "not-an-email"}, headers=auth).json() == {
            "status": "FIELD_ERROR",
            "formFields": [{"id": "email", "error": "Email is invalid"}],
        }
        assert (
            client.post(change, json={"email": 42}, headers=auth).json()["status"] == "FIELD_ERROR"
        )
        assert client.post(change, json={}, headers=auth).status_code == 400
        assert client.post(change, json={"email": "BOB@example.com"}, headers=auth).json() == {
            "status": "EMAIL_ALREADY_EXISTS_ERROR"
        }

        sent = client.post(change, json={"email": "Ada@New.Example.com"}, headers=auth)
        assert sent.json() == {"status": "EMAIL_VERIFICATION_SENT"}
        message = smtp.wait_for(1)[0]
        assert message["To"] == "ada@new.example.com"
        # Until the link is used, the old address is the account's address.
        assert signs_in(client, "ada@example.com") and not signs_in(client, "ada@new.example.com")

        verified = client.post(
            "/auth/user/email/verify", json={"method": "token", "token": token_in(message)}
        )
        assert verified.json()["status"] == "OK"
        assert signs_in(client, "ada@new.example.com") and not signs_in(client, "ada@example.com")
        assert client.get("/auth/user/email/verify", headers=auth).json() == {
            "status": "OK",
            "isVerified": True,
        }
        notice = smtp.wait_for(2)[1]  # the old address is told
        assert notice["To"] == "ada@example.com" and "ada@new.example.com" in email_text(notice)

        # Back to an address this user never verified: a new link is needed again.
        assert client.post(change, json={"email": "ada@example.com"}, headers=auth).json() == {
            "status": "EMAIL_VERIFICATION_SENT"
        }
        # The address already verified for this user switches at once.
        assert client.post(change, json={"email": "ada@new.example.com"}, headers=auth).json() == {
            "status": "OK"
        }


def test_change_email_without_verification(database_url: str, smtp: SmtpSink) -> None:
    settings = Settings(database_url=database_url, smtp_url=smtp.url, change_email_verify=False)
    with (
        serve_in_thread(create_app(Doorkeep(settings))) as url,
        httpx.Client(base_url=url) as client,
    ):
        ada = client.post("/auth/signup", json=fields(email="ada@example.com", password=PASSWORD))
        client.post("/auth/signup", json=fields(email="bob@example.com", password=PASSWORD))
        auth = {"authorization": f"Bearer {ada.headers['st-access-token']}"}
        assert client.post(
            "/auth/user/email/change", json={"email": "bob@example.com"}, headers=auth
        ).json() == {"status": "EMAIL_ALREADY_EXISTS_ERROR"}
        assert client.post(
            "/auth/user/email/change", json={"email": "ada@new.example.com"}, headers=auth
        ).json() == {"status": "OK"}
        assert signs_in(client, "ada@new.example.com") and not signs_in(client, "ada@example.com")
        # The new address starts unverified.
        assert client.get("/auth/user/email/verify", headers=auth).json() == {
            "status": "OK",
            "isVerified": False,
        }


def test_a_session_that_is_not_fresh_needs_the_current_password(
    database_url: str, smtp: SmtpSink
) -> None:
    """Checklist item 21: a stolen session alone cannot move the account's recovery address."""
    settings = Settings(
        database_url=database_url,
        smtp_url=smtp.url,
        change_email_verify=False,
        change_email_fresh_seconds=1,
    )
    with (
        serve_in_thread(create_app(Doorkeep(settings))) as url,
        httpx.Client(base_url=url) as client,
    ):
        ada = client.post("/auth/signup", json=fields(email="ada@example.com", password=PASSWORD))
        time.sleep(1.2)  # the sign-in is now older than the window
        # A refresh rotates the tokens but does not make the sign-in fresh again.
        refreshed = client.post(
            "/auth/session/refresh",
            headers={"authorization": f"Bearer {ada.headers['st-refresh-token']}"},
        )
        assert refreshed.status_code == 200
        auth = {"authorization": f"Bearer {refreshed.headers['st-access-token']}"}
        change = "/auth/user/email/change"

        missing = client.post(change, json={"email": "mallory@example.com"}, headers=auth)
        assert missing.json() == {
            "status": "FIELD_ERROR",
            "formFields": [
                {
                    "id": "password",
                    "error": "Please enter your current password to change your email.",
                }
            ],
        }
        wrong = client.post(
            change, json={"email": "mallory@example.com", "password": "guess 1"}, headers=auth
        )
        assert wrong.json() == {"status": "WRONG_CREDENTIALS_ERROR"}
        not_a_string = client.post(
            change, json={"email": "mallory@example.com", "password": 12345}, headers=auth
        )
        assert not_a_string.json()["status"] == "FIELD_ERROR"
        # Nothing changed: the old address still signs in, the new one does not exist.
        assert signs_in(client, "ada@example.com") and not signs_in(client, "mallory@example.com")

        right = client.post(
            change, json={"email": "ada@new.example.com", "password": PASSWORD}, headers=auth
        )
        assert right.json() == {"status": "OK"}
        assert signs_in(client, "ada@new.example.com")


def test_password_guesses_on_change_email_share_the_change_password_budget(
    database_url: str,
) -> None:
    settings = Settings(database_url=database_url, change_email_fresh_seconds=0)
    with (
        serve_in_thread(create_app(Doorkeep(settings))) as url,
        httpx.Client(base_url=url) as client,
    ):
        ada = client.post("/auth/signup", json=fields(email="ada@example.com", password=PASSWORD))
        auth = {"authorization": f"Bearer {ada.headers['st-access-token']}"}
        # Fresh or not, a window of 0 always asks for the password.
        for guess in range(3):
            answer = client.post(
                "/auth/user/email/change",
                json={"email": "mallory@example.com", "password": f"guess {guess}"},
                headers=auth,
            )
            assert answer.json() == {"status": "WRONG_CREDENTIALS_ERROR"}
        for guess in range(2):
            answer = client.post(
                "/auth/user/password/change",
                json={"oldPassword": f"guess {guess}", "newPassword": "a brand new passphrase"},
                headers=auth,
            )
            assert answer.json() == {"status": "WRONG_CREDENTIALS_ERROR"}
        # Five wrong guesses across the two endpoints: even the right password now waits.
        limited = client.post(
            "/auth/user/email/change",
            json={"email": "ada@new.example.com", "password": PASSWORD},
            headers=auth,
        )
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
        assert limited.json()["status"] == "TOO_MANY_ATTEMPTS_ERROR"
        assert signs_in(client, "ada@example.com")
