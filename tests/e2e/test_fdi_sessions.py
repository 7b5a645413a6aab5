"""The frontend API and session transport over real HTTP (uvicorn on loopback).

Each test follows a client through sign-up, protected requests, expiry, refresh
and sign-out in one auth mode, asserting what the SuperTokens frontend SDK relies on.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from doorkeep import Doorkeep, Settings
from doorkeep.serve.server import create_app
from doorkeep.testing import serve_in_thread as running_server

PASSWORD = "correct horse battery"


def sign_up_body(email: str, password: str = PASSWORD) -> dict[str, object]:
    return {"formFields": [{"id": "email", "value": email}, {"id": "password", "value": password}]}


@pytest.fixture
def server_settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, access_token_validity=2)


@pytest.fixture
def base_url(server_settings: Settings) -> Iterator[str]:
    with running_server(create_app(Doorkeep(server_settings))) as url:
        yield url


def decode_front_token(value: str) -> dict[str, object]:
    return json.loads(base64.b64decode(value))


def sleep_past_expiry(response: httpx.Response) -> None:
    """Wait until the access token the response carries has expired (front-token `ate`)."""
    expiry_ms = decode_front_token(response.headers["front-token"])["ate"]
    assert isinstance(expiry_ms, int)
    time.sleep(max(0.0, expiry_ms / 1000 - time.time()) + 0.1)


def test_cookie_mode_lifecycle(base_url: str) -> None:
    headers = {"st-auth-mode": "cookie", "rid": "emailpassword", "fdi-version": "3.1,4.0,4.1,4.2"}
    with httpx.Client(base_url=base_url, headers=headers) as client:
        signed_up = client.post("/auth/signup", json=sign_up_body("ada@example.com"))
        assert signed_up.status_code == 200
        body = signed_up.json()
        assert body["status"] == "OK" and body["user"]["emails"] == ["ada@example.com"]
        cookies = signed_up.headers.get_list("set-cookie")
        access = next(c for c in cookies if c.startswith("sAccessToken="))
        refresh = next(c for c in cookies if c.startswith("sRefreshToken="))
        assert "HttpOnly" in access and "Path=/;" in access and "SameSite=Lax" in access
        assert "Path=/auth/session/refresh" in refresh and "HttpOnly" in refresh
        assert "st-access-token" not in signed_up.headers
        front = decode_front_token(signed_up.headers["front-token"])
        assert front["uid"] == body["user"]["id"] and isinstance(front["ate"], int)
        assert "front-token" in signed_up.headers["access-control-expose-headers"]

        info = client.get("/sessioninfo")
        assert info.status_code == 200 and info.json()["userId"] == body["user"]["id"]

        sleep_past_expiry(signed_up)  # the access token (2 s) expires
        expired = client.get("/sessioninfo")
        assert expired.status_code == 401 and expired.json() == {"message": "try refresh token"}

        refreshed = client.post("/auth/session/refresh")
        assert refreshed.status_code == 200
        assert any(c.startswith("sRefreshToken=") for c in refreshed.headers.get_list("set-cookie"))
        assert client.get("/sessioninfo").status_code == 200

        signed_out = client.post("/auth/signout")
        assert signed_out.status_code == 200 and signed_out.json() == {"status": "OK"}
        assert signed_out.headers["front-token"] == "remove"
        cleared = signed_out.headers.get_list("set-cookie")
        assert any(c.startswith("sAccessToken=;") and "Max-Age=0" in c for c in cleared)
        after = client.get("/sessioninfo")
        assert after.status_code == 401 and after.json() == {"message": "unauthorised"}


def test_header_mode_lifecycle(base_url: str) -> None:
    with httpx.Client(base_url=base_url) as client:  # no st-auth-mode: the backend's default
        signed_up = client.post("/auth/signup", json=sign_up_body("bob@example.com"))
        assert signed_up.status_code == 200 and signed_up.json()["status"] == "OK"
        assert "set-cookie" not in signed_up.headers
        access = signed_up.headers["st-access-token"]
        refresh = signed_up.headers["st-refresh-token"]

        def get_info(token: str) -> httpx.Response:
            return client.get("/sessioninfo", headers={"authorization": f"Bearer {token}"})

        assert get_info(access).status_code == 200
        sleep_past_expiry(signed_up)
        assert get_info(access).json() == {"message": "try refresh token"}
        refreshed = client.post(
            "/auth/session/refresh", headers={"authorization": f"Bearer {refresh}"}
        )
        assert refreshed.status_code == 200
        new_access = refreshed.headers["st-access-token"]
        new_refresh = refreshed.headers["st-refresh-token"]
        assert new_refresh != refresh
        first_use = get_info(new_access)
        assert first_use.status_code == 200
        # The first use of a refreshed session hands out a token without the parent marker.
        promoted = first_use.headers.get("st-access-token", new_access)
        signed_out = client.post("/auth/signout", headers={"authorization": f"Bearer {promoted}"})
        assert signed_out.json() == {"status": "OK"}
        assert get_info(promoted).status_code == 401
        again = client.post(
            "/auth/session/refresh", headers={"authorization": f"Bearer {new_refresh}"}
        )
        assert again.status_code == 401 and again.json() == {"message": "unauthorised"}


def test_refresh_token_reuse_after_rotation_revokes_the_session(base_url: str) -> None:
    with httpx.Client(base_url=base_url) as client:
        signed_up = client.post("/auth/signup", json=sign_up_body("eve@example.com"))
        first_refresh = signed_up.headers["st-refresh-token"]
        second = client.post(
            "/auth/session/refresh", headers={"authorization": f"Bearer {first_refresh}"}
        )
        second_refresh = second.headers["st-refresh-token"]
        third = client.post(
            "/auth/session/refresh", headers={"authorization": f"Bearer {second_refresh}"}
        )
        assert third.status_code == 200
        stolen = client.post(
            "/auth/session/refresh", headers={"authorization": f"Bearer {first_refresh}"}
        )
        assert stolen.status_code == 401 and stolen.json() == {"message": "token theft detected"}
        assert stolen.headers["front-token"] == "remove"
        # The thief's replay killed the session for the legitimate holder as well.
        latest = client.post(
            "/auth/session/refresh",
            headers={"authorization": f"Bearer {third.headers['st-refresh-token']}"},
        )
        assert latest.status_code == 401 and latest.json() == {"message": "unauthorised"}


@pytest.mark.parametrize("mode", ["VIA_TOKEN", "VIA_CUSTOM_HEADER"])
def test_anti_csrf_rejections(database_url: str, mode: str) -> None:
    settings = Settings(database_url=database_url, anti_csrf=mode)  # type: ignore[arg-type]
    with (
        running_server(create_app(Doorkeep(settings))) as url,
        httpx.Client(base_url=url) as client,
    ):
        cookie_mode = {"st-auth-mode": "cookie", "rid": "emailpassword"}
        signed_up = client.post(
            "/auth/signup", json=sign_up_body("csrf@example.com"), headers=cookie_mode
        )
        assert signed_up.status_code == 200
        # A cookie-carrying state change without the proof is refused...
        refused = client.post("/auth/signout")
        assert refused.status_code == 401 and refused.json() == {"message": "try refresh token"}
        # ...and accepted with it: the anti-csrf token, or the custom rid header.
        proof = (
            {"anti-csrf": signed_up.headers["anti-csrf"]}
            if mode == "VIA_TOKEN"
            else {"rid": "session"}
        )
        if mode == "VIA_TOKEN":
            wrong = client.post("/auth/signout", headers={"anti-csrf": "forged"})
            assert wrong.status_code == 401
        accepted = client.post("/auth/signout", headers=proof)
        assert accepted.status_code == 200 and accepted.json() == {"status": "OK"}


def test_change_password_example_written_as_the_seed_shows(database_url: str) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "change_password_example", Path(__file__).parents[2] / "examples" / "change_password.py"
    )
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    app = example.create_app(Doorkeep(Settings(database_url=database_url)))
    with running_server(app) as url, httpx.Client(base_url=url) as client:
        signed_up = client.post("/auth/signup", json=sign_up_body("seed@example.com"))
        token = signed_up.headers["st-access-token"]
        other_device = client.post("/auth/signin", json=sign_up_body("seed@example.com")).headers[
            "st-refresh-token"
        ]
        auth = {"authorization": f"Bearer {token}"}
        wrong = client.post(
            "/change-password",
            json={"oldPassword": "nope", "newPassword": "a new passphrase"},
            headers=auth,
        )
        assert wrong.json() == {"status": "WRONG_CREDENTIALS_ERROR"}
        changed = client.post(
            "/change-password",
            json={"oldPassword": PASSWORD, "newPassword": "a new passphrase"},
            headers=auth,
        )
        assert changed.status_code == 200 and changed.json() == {"status": "OK"}
        assert changed.headers["front-token"] == "remove"
        # Every session is gone, the other device's included; only the new password works.
        gone = client.post(
            "/auth/session/refresh", headers={"authorization": f"Bearer {other_device}"}
        )
        assert gone.status_code == 401
        assert client.post("/auth/signin", json=sign_up_body("seed@example.com")).json()[
            "status"
        ] == ("WRONG_CREDENTIALS_ERROR")
        new_sign_in = client.post(
            "/auth/signin", json=sign_up_body("seed@example.com", "a new passphrase")
        )
        assert new_sign_in.json()["status"] == "OK"
        unauthenticated = client.post("/change-password", json={})
        assert unauthenticated.status_code == 401 and unauthenticated.json() == {
            "message": "unauthorised"
        }
