"""The seeds' Flask code on the official SDK (supertokens-python 0.31.4), with `doorkeep
serve` as its core: each seed's route, end to end, over HTTP (examples/flask/
supertokens_sdk_seeds.py holds the code; docs/flask.md lists what 0.31 changed)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from flask import Flask

from doorkeep.testing import free_port, serve_in_subprocess
from tests.integrations.flask_fixtures import werkzeug_server
from tests.optional import SERVICES, import_or_skip
from tests.sdk_reset import reset_sdk

import_or_skip("supertokens_python", SERVICES)

from examples.flask import supertokens_sdk_seeds as seeds  # noqa: E402 (needs the SDK)

API_KEY = "seeds-core-api-key-0123456789"
PASSWORD, NEW_PASSWORD = "validPass123", "otherPass456"


def fields(**values: str) -> dict[str, Any]:
    return {"formFields": [{"id": k, "value": v} for k, v in values.items()]}


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def new_email() -> str:
    return f"user-{uuid.uuid4().hex[:10]}@example.com"


def sdk_stack(
    tmp_path: Path, build: Callable[[str, str, str, seeds.Outbox], Flask]
) -> Iterator[tuple[httpx.Client, seeds.Outbox]]:
    reset_sdk()  # whatever another module initialised
    outbox = seeds.Outbox()
    port = free_port()
    api_url = f"http://127.0.0.1:{port}"
    core_db = f"sqlite:///{tmp_path / 'core.sqlite3'}"
    try:
        with serve_in_subprocess(core_db, DOORKEEP_CORE_API_KEYS=API_KEY) as (_, core_url):
            app = build(core_url, api_url, API_KEY, outbox)
            with werkzeug_server(app, port=port), httpx.Client(base_url=api_url) as client:
                yield client, outbox
    finally:
        reset_sdk()


@pytest.fixture
def seed_000(tmp_path: Path) -> Iterator[tuple[httpx.Client, seeds.Outbox]]:
    yield from sdk_stack(tmp_path, seeds.seed_000_app)


@pytest.fixture
def seed_002(tmp_path: Path) -> Iterator[tuple[httpx.Client, seeds.Outbox]]:
    yield from sdk_stack(tmp_path, seeds.seed_002_app)


def test_seed_000_change_password_on_the_sdk(seed_000: tuple[httpx.Client, seeds.Outbox]) -> None:
    client, _ = seed_000
    email = new_email()
    device = client.post("/auth/signup", json=fields(email=email, password=PASSWORD))
    assert device.json()["status"] == "OK", device.text
    other = client.post("/auth/signin", json=fields(email=email, password=PASSWORD))
    access = bearer(device.headers["st-access-token"])
    assert client.post("/change-password", json={}).status_code == 401

    wrong = client.post(
        "/change-password",
        json={"oldPassword": "wrongPass999", "newPassword": NEW_PASSWORD},
        headers=access,
    )
    assert wrong.json() == {"status": "WRONG_CREDENTIALS_ERROR"}
    changed = client.post(
        "/change-password",
        json={"oldPassword": PASSWORD, "newPassword": NEW_PASSWORD},
        headers=access,
    )
    assert changed.json() == {"status": "OK"}, changed.text
    assert changed.headers["front-token"] == "remove"
    refresh = bearer(other.headers["st-refresh-token"])
    assert client.post("/auth/session/refresh", headers=refresh).status_code == 401
    assert client.post("/auth/signin", json=fields(email=email, password=PASSWORD)).json() == {
        "status": "WRONG_CREDENTIALS_ERROR"
    }
    signed_in = client.post("/auth/signin", json=fields(email=email, password=NEW_PASSWORD))
    assert signed_in.json()["status"] == "OK"


def passwordless_sign_in(client: httpx.Client, outbox: seeds.Outbox, email: str) -> httpx.Response:
    created = client.post("/auth/signinup/code", json={"email": email})
    assert created.json()["status"] == "OK", created.text
    code = next(m["code"] for m in reversed(outbox.sent) if m["to"] == email)
    consumed = client.post(
        "/auth/signinup/code/consume",
        json={
            "preAuthSessionId": created.json()["preAuthSessionId"],
            "deviceId": created.json()["deviceId"],
            "userInputCode": code,
        },
    )
    assert consumed.json()["status"] == "OK", consumed.text
    return consumed


def test_seed_002_change_email_on_the_sdk(seed_002: tuple[httpx.Client, seeds.Outbox]) -> None:
    client, outbox = seed_002
    first, second, third, taken = new_email(), new_email(), new_email(), new_email()
    signed_in = passwordless_sign_in(client, outbox, first)
    user_id = signed_in.json()["user"]["id"]
    access = bearer(signed_in.headers["st-access-token"])
    passwordless_sign_in(client, outbox, taken)

    # Flow 1: at once.
    assert client.post("/change-email", json={"email": "nope"}, headers=access).json() == {
        "status": "INVALID_EMAIL_ERROR"
    }
    clash = client.post("/change-email", json={"email": taken}, headers=access)
    assert clash.json() == {"status": "EMAIL_ALREADY_EXISTS_ERROR"}
    changed = client.post("/change-email", json={"email": second}, headers=access)
    assert changed.json() == {"status": "OK", "userId": user_id}
    assert passwordless_sign_in(client, outbox, second).json()["user"]["id"] == user_id

    # Flow 2: a link to the new address first; the override updates the user when used.
    sent = client.post("/change-email-verified", json={"email": third}, headers=access)
    assert sent.json() == {"status": "VERIFICATION_EMAIL_SENT"}, sent.text
    link = next(m["link"] for m in reversed(outbox.sent) if m["to"] == third)
    token = parse_qs(urlsplit(link).query)["token"][0]
    verified = client.post("/auth/user/email/verify", json={"method": "token", "token": token})
    assert verified.json()["status"] == "OK", verified.text
    moved = passwordless_sign_in(client, outbox, third)
    assert moved.json()["user"]["id"] == user_id
    assert moved.json()["user"]["emails"] == [third]


@pytest.fixture
def seed_001(tmp_path: Path) -> Iterator[tuple[httpx.Client, seeds.Outbox]]:
    yield from sdk_stack(tmp_path, seeds.seed_001_app)
    seeds.LEGACY_USERS.clear()


def test_seed_001_migration_on_the_sdk(seed_001: tuple[httpx.Client, seeds.Outbox]) -> None:
    client, outbox = seed_001
    ada, grace, hopper = new_email(), new_email(), new_email()
    seeds.LEGACY_USERS.update(
        {
            ada: ("legacy-ada", "adaOldPass1", True),
            grace: ("legacy-grace", "graceOldPass1", False),
            hopper: ("legacy-hopper", "hopperOldPass1", False),
        }
    )
    # Step 1: an address the legacy provider knows cannot sign up.
    refused = client.post("/auth/signup", json=fields(email=ada, password=PASSWORD))
    assert refused.json()["status"] == "FIELD_ERROR", refused.text

    # Step 2 (the recipe's sign_in, called as a function: 0.31's sign-in form does not
    # reach it for an address without an account): the legacy password creates the
    # account under the legacy ID, verified as the provider says.
    unmigrated = client.post("/auth/signin", json=fields(email=ada, password="adaOldPass1"))
    assert unmigrated.json() == {"status": "WRONG_CREDENTIALS_ERROR"}
    wrong = client.post("/migrate", json={"email": ada, "password": PASSWORD})
    assert wrong.json() == {"status": "WRONG_CREDENTIALS_ERROR"}
    migrated = client.post("/migrate", json={"email": ada, "password": "adaOldPass1"})
    assert migrated.json() == {"status": "OK", "userId": "legacy-ada"}, migrated.text
    signed_in = client.post("/auth/signin", json=fields(email=ada, password="adaOldPass1"))
    assert signed_in.json()["status"] == "OK", signed_in.text
    assert signed_in.json()["user"]["loginMethods"][0]["verified"] is True
    me = client.get("/me", headers=bearer(signed_in.headers["st-access-token"]))
    assert me.json() == {"userId": "legacy-ada"}

    # Steps 3 and 4: a reset for a legacy-only address creates the account with a
    # temporary password; the link sets the password and clears the flag.
    asked = client.post("/auth/user/password/reset/token", json=fields(email=grace))
    assert asked.json()["status"] == "OK", asked.text
    link = next(m["link"] for m in reversed(outbox.sent) if m["to"] == grace)
    token = parse_qs(urlsplit(link).query)["token"][0]
    reset = client.post(
        "/auth/user/password/reset", json={**fields(password=NEW_PASSWORD), "token": token}
    )
    assert reset.json()["status"] == "OK", reset.text
    signed_in = client.post("/auth/signin", json=fields(email=grace, password=NEW_PASSWORD))
    assert signed_in.json()["status"] == "OK", signed_in.text
    me = client.get("/me", headers=bearer(signed_in.headers["st-access-token"]))
    assert me.json() == {"userId": "legacy-grace"}

    # Step 5: a reset begun, not finished; the legacy password still signs in and stays.
    client.post("/auth/user/password/reset/token", json=fields(email=hopper))
    wrong = client.post("/auth/signin", json=fields(email=hopper, password="notThePass1"))
    assert wrong.json() == {"status": "WRONG_CREDENTIALS_ERROR"}
    kept = client.post("/auth/signin", json=fields(email=hopper, password="hopperOldPass1"))
    assert kept.json()["status"] == "OK", kept.text
    del seeds.LEGACY_USERS[hopper]  # the flag is gone: no need of the provider any more
    again = client.post("/auth/signin", json=fields(email=hopper, password="hopperOldPass1"))
    assert again.json()["status"] == "OK", again.text
