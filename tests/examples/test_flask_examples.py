"""The seeds' views written with doorkeep's Flask integration (examples/flask/), each
served by Flask's own server and driven over real HTTP as the seed's frontend would."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from examples.flask import change_email, change_password, migration, username_login
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


def test_seed_004_username_with_optional_email(database_url: str) -> None:
    with SmtpSink() as smtp:
        app = username_login.create_app(config(database_url, DOORKEEP_SMTP_URL=smtp.url))
        with serving(app) as client:
            name = f"ada_{uuid.uuid4().hex[:6]}"
            address = new_email()
            created = client.post(
                "/auth/signup", json=fields(email=name, password=PASSWORD, actualEmail=address)
            )
            assert created.json()["status"] == "OK", created.text
            bare = f"bob_{uuid.uuid4().hex[:6]}"
            assert (
                client.post("/auth/signup", json=fields(email=bare, password=PASSWORD)).json()[
                    "status"
                ]
                == "OK"
            )

            for identifier in (name, address):  # sign in with the username or the email
                signed_in = client.post(
                    "/auth/signin", json=fields(email=identifier, password=PASSWORD)
                )
                assert signed_in.json()["status"] == "OK"
                profile = client.get("/profile", headers=bearer(signed_in))
                assert profile.json() == {"username": name, "email": address}

            # Reset: the link goes to the address; a username without one is told so.
            reset = client.post("/auth/user/password/reset/token", json=fields(email=name))
            assert reset.json() == {"status": "OK"}
            assert smtp.wait_for(1)[0]["To"] == address
            no_email = client.post("/auth/user/password/reset/token", json=fields(email=bare))
            assert no_email.json()["status"] == "GENERAL_ERROR"


class LegacyProvider:
    """The legacy identity provider the seed's overrides consult (in memory)."""

    def __init__(self, users: dict[str, tuple[str, str, bool]]) -> None:
        self.users = users  # email -> (legacy user ID, password, email verified)

    async def validate_and_get_user_info(
        self, email: str, password: str
    ) -> migration.ExternalUserInfo | None:
        known = self.users.get(email)
        if known is None or known[1] != password:
            return None
        return migration.ExternalUserInfo(known[0], known[2])

    async def retrieve_user_data(self, email: str) -> migration.ExternalUserInfo | None:
        known = self.users.get(email)
        return None if known is None else migration.ExternalUserInfo(known[0], known[2])


def test_seed_001_just_in_time_migration(database_url: str) -> None:
    ada, grace, hopper = new_email(), new_email(), new_email()
    provider = LegacyProvider(
        {
            ada: ("legacy-ada", "ada's old password", True),
            grace: ("legacy-grace", "grace's old password", False),
            hopper: ("legacy-hopper", "hopper's old password", False),
        }
    )
    with SmtpSink() as smtp:
        app = migration.create_app(config(database_url, DOORKEEP_SMTP_URL=smtp.url), provider)
        with serving(app) as client:
            # Step 1: an address the legacy provider knows cannot sign up.
            refused = client.post("/auth/signup", json=fields(email=ada, password=PASSWORD))
            assert refused.json()["status"] == "FIELD_ERROR"

            # Step 2: signing in with the legacy password migrates the account.
            wrong = client.post("/auth/signin", json=fields(email=ada, password=PASSWORD))
            assert wrong.json() == {"status": "WRONG_CREDENTIALS_ERROR"}
            migrated = client.post(
                "/auth/signin", json=fields(email=ada, password="ada's old password")
            )
            assert migrated.json()["status"] == "OK", migrated.text
            assert client.get("/me", headers=bearer(migrated)).json() == {"userId": "legacy-ada"}
            # Now a doorkeep account: the same password signs in without the provider,
            # and the provider's "verified" came along.
            again = client.post(
                "/auth/signin", json=fields(email=ada, password="ada's old password")
            )
            assert again.json()["user"]["loginMethods"][0]["verified"] is True

            # Steps 3 and 4: a reset for a legacy-only address creates the account with a
            # temporary password; using the link sets the password and clears the flag.
            asked = client.post("/auth/user/password/reset/token", json=fields(email=grace))
            assert asked.json() == {"status": "OK"}
            link = email_text(smtp.wait_for(1)[0])
            token = re.search(r"token=([^&\s]+)", link)
            assert token is not None
            reset = client.post(
                "/auth/user/password/reset",
                json={**fields(password=NEW_PASSWORD), "token": token.group(1)},
            )
            assert reset.json()["status"] == "OK", reset.text
            signed_in = client.post("/auth/signin", json=fields(email=grace, password=NEW_PASSWORD))
            assert signed_in.json()["status"] == "OK"
            assert client.get("/me", headers=bearer(signed_in)).json() == {"userId": "legacy-grace"}

            # Step 5: a reset begun but not finished; the legacy password still signs in,
            # and replaces the temporary one.
            client.post("/auth/user/password/reset/token", json=fields(email=hopper))
            smtp.wait_for(2)
            flagged = client.post(
                "/auth/signin", json=fields(email=hopper, password="not the password")
            )
            assert flagged.json() == {"status": "WRONG_CREDENTIALS_ERROR"}
            remembered = client.post(
                "/auth/signin", json=fields(email=hopper, password="hopper's old password")
            )
            assert remembered.json()["status"] == "OK"
            # The flag is gone: the same password now signs in without the legacy provider.
            del provider.users[hopper]
            again = client.post(
                "/auth/signin", json=fields(email=hopper, password="hopper's old password")
            )
            assert again.json()["status"] == "OK"


def passwordless_sign_in(client: httpx.Client, smtp: SmtpSink, email: str) -> httpx.Response:
    """The seed's users: a one-time code by email, typed back."""
    seen = len(smtp.messages)
    created = client.post("/auth/signinup/code", json={"email": email})
    assert created.json()["status"] == "OK", created.text
    message = smtp.wait_for(seen + 1)[seen]
    assert message["To"] == email
    code = re.search(r"^\s+(\S+)\s*$", email_text(message), re.MULTILINE)
    assert code is not None
    consumed = client.post(
        "/auth/signinup/code/consume",
        json={
            "preAuthSessionId": created.json()["preAuthSessionId"],
            "deviceId": created.json()["deviceId"],
            "userInputCode": code.group(1),
        },
    )
    assert consumed.json()["status"] == "OK", consumed.text
    return consumed


def test_seed_002_for_passwordless_users_as_written(database_url: str) -> None:
    with SmtpSink() as smtp:
        app = change_email.create_app(config(database_url, DOORKEEP_SMTP_URL=smtp.url))
        with serving(app) as client:
            first, second, third, taken = new_email(), new_email(), new_email(), new_email()
            signed_in = passwordless_sign_in(client, smtp, first)
            user_id = signed_in.json()["user"]["id"]
            session = bearer(signed_in)
            passwordless_sign_in(client, smtp, taken)

            # Flow 1: passwordless update_user, at once.
            clash = client.post(
                "/passwordless/change-email", json={"email": taken}, headers=session
            )
            assert clash.json() == {"status": "EMAIL_ALREADY_EXISTS_ERROR"}
            changed = client.post(
                "/passwordless/change-email", json={"email": second}, headers=session
            )
            assert changed.json() == {"status": "OK"}
            assert passwordless_sign_in(client, smtp, second).json()["user"]["id"] == user_id

            # Flow 2: a link first; the override updates the passwordless user when used.
            seen = len(smtp.messages)
            sent = client.post(
                "/passwordless/change-email/verified", json={"email": third}, headers=session
            )
            assert sent.json() == {"status": "VERIFICATION_EMAIL_SENT"}
            link = smtp.wait_for(seen + 1)[seen]
            assert link["To"] == third
            token = re.search(r"token=([^&\s]+)", email_text(link))
            assert token is not None
            verified = client.post(
                "/auth/user/email/verify", json={"method": "token", "token": token.group(1)}
            )
            assert verified.json()["status"] == "OK", verified.text
            moved = passwordless_sign_in(client, smtp, third)
            assert moved.json()["user"]["id"] == user_id
            assert moved.json()["user"]["emails"] == [third]
