"""The official backend SDK (supertokens-python 0.31.4) runs against doorkeep as its core.

doorkeep serves the CDI on a loopback port; a FastAPI application built with the
SDK points `connection_uri` at it; the test talks to that application over HTTP
as a browser would (header mode), and checks the results on doorkeep's side too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from doorkeep import Doorkeep, Settings
from doorkeep.serve.server import create_app
from doorkeep.testing import free_port, serve_in_thread
from tests.optional import SERVICES, import_or_skip
from tests.sdk_reset import reset_sdk

import_or_skip("supertokens_python", SERVICES)  # CI: a missing SDK fails, never skips

from tests.conformance.sdk_app import Outbox, build_app  # noqa: E402 (needs the SDK)

PASSWORD, NEW_PASSWORD, NEWEST = "validPass123", "otherPass456", "thirdPass789"


@dataclass
class Stack:
    core: str  # doorkeep
    api: str  # the SDK's application
    outbox: Outbox
    database_url: str


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    reset_sdk()  # whatever another module initialised
    database_url = f"sqlite:///{tmp_path_factory.mktemp('cdi') / 'core.sqlite3'}"
    core = Doorkeep(Settings(database_url=database_url))
    outbox = Outbox()
    api_port = free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    with serve_in_thread(create_app(core)) as core_url:
        app = build_app(core_url, api_url, outbox)
        with serve_in_thread(app, port=api_port):
            yield Stack(core_url, api_url, outbox, database_url)
    reset_sdk()


def fields(**values: str) -> dict[str, Any]:
    return {"formFields": [{"id": k, "value": v} for k, v in values.items()]}


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def token_in(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


def sign_up(http: httpx.Client, email: str) -> httpx.Response:
    answer = http.post("/auth/signup", json=fields(email=email, password=PASSWORD))
    assert answer.status_code == 200 and answer.json()["status"] == "OK", answer.text
    return answer


def sign_in(http: httpx.Client, email: str, password: str) -> httpx.Response:
    return http.post("/auth/signin", json=fields(email=email, password=password))


def in_doorkeep(stack: Stack, work: Any) -> Any:
    """Run `work(dk)` with doorkeep's own in-process API on the same database."""

    async def run() -> Any:
        async with Doorkeep(Settings(database_url=stack.database_url)) as dk:
            return await work(dk)

    return asyncio.run(run())


def test_sign_up_sign_in_verify_refresh_sign_out(stack: Stack) -> None:
    with httpx.Client(base_url=stack.api) as http:
        created = sign_up(http, "ada@example.com")
        user = created.json()["user"]
        assert user["emails"] == ["ada@example.com"] and user["loginMethods"][0]["recipeId"] == (
            "emailpassword"
        )
        assert created.headers["st-access-token"] and created.headers["front-token"]

        duplicate = http.post(
            "/auth/signup", json=fields(email="ada@example.com", password=PASSWORD)
        )
        assert duplicate.json()["status"] == "FIELD_ERROR"
        assert sign_in(http, "ada@example.com", "wrongPass999").json() == {
            "status": "WRONG_CREDENTIALS_ERROR"
        }
        signed_in = sign_in(http, "ada@example.com", PASSWORD)
        assert signed_in.json()["status"] == "OK"
        access = signed_in.headers["st-access-token"]
        refresh = signed_in.headers["st-refresh-token"]

        me = http.get("/me", headers=bearer(access))
        assert me.status_code == 200 and me.json()["userId"] == user["id"]
        assert http.get("/me").status_code == 401

        # Refresh: the SDK asks doorkeep to rotate, then the child's first use promotes it.
        refreshed = http.post("/auth/session/refresh", headers=bearer(refresh))
        assert refreshed.status_code == 200, refreshed.text
        new_access = refreshed.headers["st-access-token"]
        new_refresh = refreshed.headers["st-refresh-token"]
        assert new_access != access and new_refresh != refresh
        assert http.get("/me", headers=bearer(new_access)).json()["userId"] == user["id"]
        # Once the child is in use, the parent coming back is theft: the session ends.
        stolen = http.post("/auth/session/refresh", headers=bearer(refresh))
        assert stolen.status_code == 401
        assert http.post("/auth/session/refresh", headers=bearer(new_refresh)).status_code == 401

        again = sign_in(http, "ada@example.com", PASSWORD)
        out = http.post("/auth/signout", headers=bearer(again.headers["st-access-token"]))
        assert out.status_code == 200 and out.json() == {"status": "OK"}
        replay = http.post(
            "/auth/session/refresh", headers=bearer(again.headers["st-refresh-token"])
        )
        assert replay.status_code == 401


def test_password_reset_through_the_sdk_email_override(stack: Stack) -> None:
    with httpx.Client(base_url=stack.api) as http:
        sign_up(http, "grace@example.com")
        asked = http.post("/auth/user/password/reset/token", json=fields(email="grace@example.com"))
        assert asked.json() == {"status": "OK"}
        to, link = stack.outbox.links[-1]
        assert to == "grace@example.com" and "/auth/reset-password?token=" in link
        reset = http.post(
            "/auth/user/password/reset",
            json={"method": "token", "token": token_in(link), **fields(password=NEW_PASSWORD)},
        )
        assert reset.json()["status"] == "OK", reset.text
        assert sign_in(http, "grace@example.com", PASSWORD).json()["status"] == (
            "WRONG_CREDENTIALS_ERROR"
        )
        assert sign_in(http, "grace@example.com", NEW_PASSWORD).json()["status"] == "OK"
        used_again = http.post(
            "/auth/user/password/reset",
            json={"method": "token", "token": token_in(link), **fields(password=NEWEST)},
        )
        assert used_again.json()["status"] == "RESET_PASSWORD_INVALID_TOKEN_ERROR"


def test_email_verification(stack: Stack) -> None:
    with httpx.Client(base_url=stack.api) as http:
        created = sign_up(http, "hopper@example.com")
        access, user_id = created.headers["st-access-token"], created.json()["user"]["id"]
        unverified = http.get("/auth/user/email/verify", headers=bearer(access))
        assert unverified.json() == {"status": "OK", "isVerified": False}
        sent = http.post("/auth/user/email/verify/token", headers=bearer(access))
        assert sent.json()["status"] == "OK", sent.text
        to, link = stack.outbox.links[-1]
        assert to == "hopper@example.com" and "/auth/verify-email?token=" in link
        verified = http.post(
            "/auth/user/email/verify", json={"method": "token", "token": token_in(link)}
        )
        assert verified.json()["status"] == "OK", verified.text
        now = http.get("/auth/user/email/verify", headers=bearer(access))
        assert now.json()["isVerified"] is True
        # doorkeep's own API sees the same verification.
        assert in_doorkeep(
            stack,
            lambda dk: dk.core.public.emailverification.is_verified(user_id, "hopper@example.com"),
        )


def test_user_metadata_is_shared_with_doorkeep(stack: Stack) -> None:
    with httpx.Client(base_url=stack.api) as http:
        created = sign_up(http, "lamarr@example.com")
        access, user_id = created.headers["st-access-token"], created.json()["user"]["id"]
        first = http.put("/metadata", json={"theme": "dark", "lang": "en"}, headers=bearer(access))
        assert first.json()["metadata"] == {"theme": "dark", "lang": "en"}
        second = http.put("/metadata", json={"lang": None}, headers=bearer(access))
        assert second.json()["metadata"] == {"theme": "dark"}
    stored = in_doorkeep(stack, lambda dk: dk.usermetadata.get_user_metadata(user_id))
    assert stored == {"theme": "dark"}


def test_user_id_mapping_is_visible_everywhere(stack: Stack) -> None:
    from supertokens_python.interfaces import (
        CreateUserIdMappingOkResult,
        GetUserIdMappingOkResult,
        UserIdMappingAlreadyExistsError,
    )
    from supertokens_python.syncio import create_user_id_mapping, get_user_id_mapping

    with httpx.Client(base_url=stack.api) as http:
        user_id = sign_up(http, "turing@example.com").json()["user"]["id"]
        assert isinstance(create_user_id_mapping(user_id, "legacy-42"), CreateUserIdMappingOkResult)
        mapping = get_user_id_mapping("legacy-42")
        assert isinstance(mapping, GetUserIdMappingOkResult)
        assert mapping.supertokens_user_id == user_id and mapping.external_user_id == "legacy-42"
        signed_in = sign_in(http, "turing@example.com", PASSWORD)
        assert signed_in.json()["user"]["id"] == "legacy-42"
        me = http.get("/me", headers=bearer(signed_in.headers["st-access-token"]))
        assert me.json()["userId"] == "legacy-42"
    duplicate = create_user_id_mapping(user_id, "legacy-43")
    assert isinstance(duplicate, UserIdMappingAlreadyExistsError)
    assert duplicate.does_super_tokens_user_id_exist


def test_sessions_are_shared_both_ways(stack: Stack) -> None:
    with httpx.Client(base_url=stack.api) as http:
        user_id = sign_up(http, "noether@example.com").json()["user"]["id"]
        signed_in = sign_in(http, "noether@example.com", PASSWORD)
        refresh = signed_in.headers["st-refresh-token"]
        # Revoked by doorkeep's own functions: the SDK's refresh fails.
        revoked = in_doorkeep(stack, lambda dk: dk.session.revoke_all_sessions_for_user(user_id))
        assert len(revoked) == 2  # sign-up's session and sign-in's
        assert http.post("/auth/session/refresh", headers=bearer(refresh)).status_code == 401

    # And the other way: a session from doorkeep's own FDI, revoked through the SDK.
    from supertokens_python.recipe.session.syncio import revoke_all_sessions_for_user

    with httpx.Client(base_url=stack.core) as core_http:
        own = core_http.post(
            "/auth/signin", json=fields(email="noether@example.com", password=PASSWORD)
        )
        assert own.json()["status"] == "OK"
        assert len(revoke_all_sessions_for_user(user_id)) == 1
        gone = core_http.post(
            "/auth/session/refresh", headers=bearer(own.headers["st-refresh-token"])
        )
        assert gone.status_code == 401


def test_seed_000_change_password_route(stack: Stack) -> None:
    with httpx.Client(base_url=stack.api) as http:
        sign_up(http, "lovelace@example.com")
        signed_in = sign_in(http, "lovelace@example.com", PASSWORD)
        access, refresh = (
            signed_in.headers["st-access-token"],
            signed_in.headers["st-refresh-token"],
        )
        wrong = http.post(
            "/change-password",
            json={"oldPassword": "notMyPass1", "newPassword": NEW_PASSWORD},
            headers=bearer(access),
        )
        assert wrong.json() == {"status": "WRONG_CREDENTIALS_ERROR"}
        changed = http.post(
            "/change-password",
            json={"oldPassword": PASSWORD, "newPassword": NEW_PASSWORD},
            headers=bearer(access),
        )
        assert changed.json() == {"status": "OK"}
        assert changed.headers["front-token"] == "remove"  # the current session is gone
        assert http.post("/auth/session/refresh", headers=bearer(refresh)).status_code == 401
        assert sign_in(http, "lovelace@example.com", PASSWORD).json()["status"] == (
            "WRONG_CREDENTIALS_ERROR"
        )
        assert sign_in(http, "lovelace@example.com", NEW_PASSWORD).json()["status"] == "OK"


def test_cdi_refuses_bad_requests(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'keys.sqlite3'}")
    dk = Doorkeep(settings.with_overrides(core_api_keys=("k" * 32,)))
    with serve_in_thread(create_app(dk)) as url, httpx.Client(base_url=url) as http:
        body = {"email": "a@example.com", "password": PASSWORD}
        missing = http.post("/recipe/signup", json=body)
        assert missing.status_code == 401 and missing.text == "Invalid API key"
        wrong = http.post("/recipe/signup", json=body, headers={"api-key": "x" * 32})
        assert wrong.status_code == 401
        key = {"api-key": "k" * 32}
        assert http.post("/recipe/signup", json=body, headers=key).json()["status"] == "OK"
        assert (
            http.post(
                "/recipe/signup", json=body, headers={"authorization": f"Bearer {'k' * 32}"}
            ).json()["status"]
            == "EMAIL_ALREADY_EXISTS_ERROR"
        )
        assert http.get("/recipe/nothing-here", headers=key).status_code == 404
        bad_json = http.post("/recipe/signin", content=b"{not json", headers=key)
        assert bad_json.status_code == 400 and bad_json.text == "Invalid Json Input"
        wrong_type = http.post("/recipe/signin", json={"email": 5, "password": "x"}, headers=key)
        assert wrong_type.status_code == 400
        old = http.get("/recipe/user/metadata?userId=x", headers={**key, "cdi-version": "1.0"})
        assert old.status_code == 400
        assert http.get("/hello").text == "Hello"  # no key needed
        assert "5.4" in http.get("/apiversion", headers=key).json()["versions"]
        assert http.get("/.well-known/jwks.json").json()["keys"][0]["alg"] == "RS256"
