"""The seeds' views written with doorkeep's Flask integration (examples/flask/), each
served by Flask's own server and driven over real HTTP as the seed's frontend would."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from examples.flask import change_email, change_password
from flask import Flask

from doorkeep.testing import SmtpSink, email_text
from tests.integrations.flask_fixtures import werkzeug_server

PASSWORD = "correct horse battery"
NEW_PASSWORD = "a brand new passphrase"


def fields(**values: str) -> dict[str, Any]:
    return {"formFields": [{"id": k, "value": v} for k, v in values.items()]}


def bearer(answer: httpx.Response) -> dict[str, str]:
    return {"authorization": f"Bearer {answer.headers['st-access-token']}"}


def new_email() -> str:
    return f"user-{uuid.uuid4().hex[:10]}@example.com"


@contextmanager
def serving(app: Flask) -> Iterator[httpx.Client]:
    try:
        with werkzeug_server(app) as url, httpx.Client(base_url=url) as client:
            yield client
    finally:
        app.extensions["doorkeep"].close()


def config(database_url: str, **more: Any) -> dict[str, Any]:
    return {"DOORKEEP_DATABASE_URL": database_url, "DOORKEEP_RATE_LIMITS_ENABLED": False, **more}


def sign_up(client: httpx.Client, email: str) -> httpx.Response:
    answer = client.post("/auth/signup", json=fields(email=email, password=PASSWORD))
    assert answer.json()["status"] == "OK", answer.text
    return answer


def test_seed_000_change_password(database_url: str) -> None:
    with serving(change_password.create_app(config(database_url))) as client:
        email = new_email()
        device = sign_up(client, email)
        other_device = client.post("/auth/signin", json=fields(email=email, password=PASSWORD))
        assert client.post("/change-password", json={}).status_code == 401

        wrong = client.post(
            "/change-password",
            json={"oldPassword": "not my password", "newPassword": NEW_PASSWORD},
            headers=bearer(device),
        )
        assert wrong.json() == {"status": "WRONG_CREDENTIALS_ERROR"}
        weak = client.post(
            "/change-password",
            json={"oldPassword": PASSWORD, "newPassword": "short"},
            headers=bearer(device),
        )
        assert weak.json()["status"] == "FIELD_ERROR"

        changed = client.post(
            "/change-password",
            json={"oldPassword": PASSWORD, "newPassword": NEW_PASSWORD},
            headers=bearer(device),
        )
        assert changed.json() == {"status": "OK"}
        # This session was revoked and the answer tells the frontend to drop its tokens.
        assert changed.headers["front-token"] == "remove"
        # Every other session of the user is gone too.
        refresh = {"authorization": f"Bearer {other_device.headers['st-refresh-token']}"}
        assert client.post("/auth/session/refresh", headers=refresh).status_code == 401
        old = client.post("/auth/signin", json=fields(email=email, password=PASSWORD))
        assert old.json() == {"status": "WRONG_CREDENTIALS_ERROR"}
        new = client.post("/auth/signin", json=fields(email=email, password=NEW_PASSWORD))
        assert new.json()["status"] == "OK"


def test_seed_002_flow_1_change_email_without_verification(database_url: str) -> None:
    with serving(change_email.create_app(config(database_url))) as client:
        ada, taken, new = new_email(), new_email(), new_email()
        session = bearer(sign_up(client, ada))
        sign_up(client, taken)

        invalid = client.post("/change-email", json={"email": "not an email"}, headers=session)
        assert invalid.status_code == 400
        clash = client.post("/change-email", json={"email": taken}, headers=session)
        assert clash.json() == {"status": "EMAIL_ALREADY_EXISTS_ERROR"}
        changed = client.post("/change-email", json={"email": new}, headers=session)
        assert changed.json() == {"status": "OK"}
        assert (
            client.post("/auth/signin", json=fields(email=new, password=PASSWORD)).json()["status"]
            == "OK"
        )
        assert client.post("/auth/signin", json=fields(email=ada, password=PASSWORD)).json() == {
            "status": "WRONG_CREDENTIALS_ERROR"
        }


def test_seed_002_flow_2_change_email_after_verifying_it(database_url: str) -> None:
    with SmtpSink() as smtp:
        app = change_email.create_app(config(database_url, DOORKEEP_SMTP_URL=smtp.url))
        with serving(app) as client:
            ada, taken, new = new_email(), new_email(), new_email()
            session = bearer(sign_up(client, ada))
            sign_up(client, taken)

            clash = client.post("/change-email/verified", json={"email": taken}, headers=session)
            assert clash.json() == {"status": "EMAIL_ALREADY_EXISTS_ERROR"}
            sent = client.post("/change-email/verified", json={"email": new}, headers=session)
            assert sent.json() == {"status": "VERIFICATION_EMAIL_SENT"}
            message = next(m for m in smtp.wait_for(1) if m["To"] == new)
            token = re.search(r"token=([^&\s]+)", email_text(message))
            assert token is not None
            # Until the link is used, the account keeps its address.
            still = client.post("/auth/signin", json=fields(email=ada, password=PASSWORD))
            assert still.json()["status"] == "OK"

            verified = client.post(
                "/auth/user/email/verify", json={"method": "token", "token": token.group(1)}
            )
            assert verified.json()["status"] == "OK", verified.text
            moved = client.post("/auth/signin", json=fields(email=new, password=PASSWORD))
            assert moved.json()["status"] == "OK"
            assert moved.json()["user"]["emails"] == [new]
            # Verified now, so asking again updates at once (and changes nothing).
            again = client.post("/change-email/verified", json={"email": new}, headers=session)
            assert again.json() == {"status": "OK"}
