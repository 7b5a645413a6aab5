"""Defects found by the issue-15 read of the frontend API, each pinned by a test that
failed before its fix (the docstrings say what the old code did)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from doorkeep import Doorkeep, Settings
from doorkeep.core.tenants import save_tenant
from doorkeep.recipes.apis import GeneralError
from doorkeep.recipes.emailpassword import EmailPasswordApis, EmailPasswordConfig
from doorkeep.serve.server import create_app

PASSWORD = "correct horse battery"


def fields(**values: Any) -> dict[str, Any]:
    return {"formFields": [{"id": k, "value": v} for k, v in values.items()]}


def client_for(dk: Doorkeep) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(dk))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
async def http(database_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, Doorkeep]]:
    dk = Doorkeep(Settings(database_url=database_url))
    async with client_for(dk) as client:
        await dk.start()
        yield client, dk
    await dk.close()


def cleared_cookies(response: httpx.Response) -> list[str]:
    return [
        name
        for name in ("sAccessToken", "sRefreshToken")
        for header in response.headers.get_list("set-cookie")
        if header.startswith(f"{name}=;")
    ]


async def test_clearing_tokens_follows_the_session_cookies_not_any_cookie(
    http: tuple[httpx.AsyncClient, Doorkeep],
) -> None:
    """A header-mode client that also carries an unrelated cookie (a theme, an analytics
    ID) has its header tokens cleared, by the FDI and by a protected route alike.

    Before: the FDI guessed cookie mode from *any* cookie and sent cookie clears (and
    no header clears), while the integrations looked for sAccessToken/sRefreshToken."""
    client, _ = http
    await client.post("/auth/signup", json=fields(email="a@example.com", password=PASSWORD))
    signed_in = await client.post(
        "/auth/signin", json=fields(email="a@example.com", password=PASSWORD)
    )
    access = signed_in.headers["st-access-token"]
    await client.post("/auth/signout", headers={"authorization": f"Bearer {access}"})
    unrelated = {"cookie": "theme=dark"}

    # The FDI: an unknown refresh token in a header.
    refused = await client.post(
        "/auth/session/refresh", headers={"authorization": "Bearer nope", **unrelated}
    )
    # A protected route: the revoked session's access token.
    protected = await client.get(
        "/sessioninfo", headers={"authorization": f"Bearer {access}", **unrelated}
    )
    for response in (refused, protected):
        assert response.status_code == 401
        assert response.headers["st-access-token"] == ""
        assert response.headers["st-refresh-token"] == ""
        assert response.headers["front-token"] == "remove"
        assert cleared_cookies(response) == []

    # A cookie-mode client gets cookie clears from both.
    session_cookies = {"cookie": "sAccessToken=nope; sRefreshToken=nope; theme=dark"}
    refused = await client.post("/auth/session/refresh", headers=session_cookies)
    assert refused.status_code == 401
    assert cleared_cookies(refused) == ["sAccessToken", "sRefreshToken"]
    assert "st-access-token" not in refused.headers


async def test_a_tenant_named_like_the_base_path_is_that_tenant(
    http: tuple[httpx.AsyncClient, Doorkeep],
) -> None:
    """`/auth/auth/signup` signs up in tenant `auth`, not in `public`.

    Before: FrontendApi stripped the base path from `path` and also appended it to
    `root_path`, so Starlette stripped `/auth` a second time and routed `/signup`:
    the user landed in the public tenant."""
    client, dk = http
    unknown = await client.post(
        "/auth/auth/signup", json=fields(email="a@example.com", password=PASSWORD)
    )
    assert unknown.json() == {"status": "GENERAL_ERROR", "message": "Tenant not found"}
    assert await dk.core.public.users.count_users() == 0

    await save_tenant(dk.core.db, "public", "auth")
    created = await client.post(
        "/auth/auth/signup", json=fields(email="a@example.com", password=PASSWORD)
    )
    assert created.json()["status"] == "OK"
    assert created.json()["user"]["tenantIds"] == ["auth"]
    public = await client.post(
        "/auth/signin", json=fields(email="a@example.com", password=PASSWORD)
    )
    assert public.json() == {"status": "WRONG_CREDENTIALS_ERROR"}
    # The plain routes are still where they were.
    assert (await client.get("/auth/jwt/jwks.json")).status_code == 200
    assert (await client.get("/auth/no-such-route")).json() == {"message": "not found"}


async def test_an_email_exists_override_may_answer_another_status(database_url: str) -> None:
    """An override of email_exists_get that answers GENERAL_ERROR is answered as such.

    Before: `assert isinstance(result, EmailExistsOk)` made it a 500."""

    def closed(original: EmailPasswordApis) -> EmailPasswordApis:
        async def email_exists_get(*_args: Any) -> GeneralError:
            return GeneralError("Sign-up is closed")

        original.email_exists_get = email_exists_get  # type: ignore[method-assign,assignment]
        return original

    dk = Doorkeep(
        Settings(database_url=database_url),
        emailpassword=EmailPasswordConfig(override_apis=closed),
    )
    async with client_for(dk) as client:
        answer = await client.get("/auth/emailpassword/email/exists", params={"email": "a@b.co"})
    await dk.close()
    assert answer.status_code == 200
    assert answer.json() == {"status": "GENERAL_ERROR", "message": "Sign-up is closed"}


@pytest.mark.parametrize(
    ("tenant_id", "valid"),
    [
        ("acme-2", True),
        ("ACME", False),
        ("ünï", False),
        ("a_b", False),
        ("x" * 65, False),
        ("acme\n", False),
    ],
)
async def test_the_api_and_the_pages_accept_the_same_tenant_ids(
    http: tuple[httpx.AsyncClient, Doorkeep], tenant_id: str, valid: bool
) -> None:
    """One rule for a tenant ID: the FDI refuses (400) exactly the IDs the pages replace
    with `public`.

    Before: the FDI allowed [a-z0-9-] but the pages any `isalnum()` string, so
    uppercase and non-ASCII IDs reached the reset and verification flows."""
    client, _ = http
    path = f"/auth/{quote(tenant_id)}/user/password/reset/token"
    api = await client.post(path, json=fields(email="ada@example.com"))
    assert (api.status_code == 400) is not valid
    page = await client.get("/auth/reset-password", params={"token": "t", "tenantId": tenant_id})
    shown = re.search(r'name="tenant_id" value="([^"]*)"', page.text)
    assert shown is not None
    assert shown.group(1) == (tenant_id if valid else "public")
