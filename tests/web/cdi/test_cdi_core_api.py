"""The CDI over doorkeep's core on SQLite and PostgreSQL: per-app core config, the
loopback-only default, prefixes, errors, and a hypothesis fuzz (never a 5xx)."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from doorkeep import Doorkeep, Settings
from doorkeep.serve.server import create_app
from doorkeep.web.cdi.core_api import ROUTES

PASSWORD = "validPass123"


def client_for(dk: Doorkeep, host: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(dk), client=(host, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://core")


@pytest.fixture
async def core(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    dk = Doorkeep(Settings(database_url=database_url))
    async with client_for(dk) as http:
        yield http
    await dk.close()


async def test_an_app_gets_its_own_core_config(core: httpx.AsyncClient) -> None:
    created = await core.put(
        "/recipe/multitenancy/app/v2",
        json={"appId": "test-app-1", "coreConfig": {"access_token_validity": 2}},
    )
    assert created.json() == {"status": "OK", "createdNew": True}
    again = await core.put("/recipe/multitenancy/app/v2", json={"appId": "test-app-1"})
    assert again.json() == {"status": "OK", "createdNew": False}
    await core.put(
        "/recipe/multitenancy/app/v2",
        json={"appId": "test-app-1", "coreConfig": {"access_token_validity": 2}},
    )

    body = {"email": "ada@example.com", "password": PASSWORD}
    in_app = await core.post("/appid-test-app-1/public/recipe/signup", json=body)
    assert in_app.json()["status"] == "OK"
    # Apps are separate: the same email is free in the public app.
    assert (await core.post("/recipe/signup", json=body)).json()["status"] == "OK"
    assert (await core.post("/appid-test-app-1/recipe/signup", json=body)).json()["status"] == (
        "EMAIL_ALREADY_EXISTS_ERROR"
    )
    assert (await core.get("/appid-test-app-1/users/count")).json()["count"] == 1

    user_id = in_app.json()["user"]["id"]
    session = (
        await core.post(
            "/appid-test-app-1/public/recipe/session",
            json={
                "userId": user_id,
                "userDataInJWT": {},
                "userDataInDatabase": {},
                "enableAntiCsrf": False,
                "useDynamicSigningKey": True,
            },
        )
    ).json()
    access = session["accessToken"]
    # The app's 2 s, not the default hour (the JWT's exp has whole seconds).
    assert 1000 <= access["expiry"] - access["createdTime"] <= 3000
    public_session = (
        await core.post(
            "/recipe/session",
            json={
                "userId": user_id,
                "userDataInJWT": {},
                "userDataInDatabase": {},
                "enableAntiCsrf": False,
                "useDynamicSigningKey": True,
            },
        )
    ).json()["accessToken"]
    assert abs(public_session["expiry"] - public_session["createdTime"] - 3600 * 1000) <= 1000

    bad = await core.put(
        "/recipe/multitenancy/app/v2", json={"appId": "x", "coreConfig": {"nope": 1}}
    )
    assert bad.status_code == 400 and "unsupported core config" in bad.text
    unknown = await core.post("/appid-missing/recipe/signup", json=body)
    assert unknown.status_code == 400 and unknown.text == "AppId or tenantId not found"


async def test_tenant_prefix_and_unknown_tenant(core: httpx.AsyncClient) -> None:
    tenant = await core.get("/public/recipe/multitenancy/tenant/v2")
    assert tenant.json()["status"] == "OK" and tenant.json()["tenantId"] == "public"
    missing = await core.get("/nowhere/recipe/multitenancy/tenant/v2")
    assert missing.json()["status"] == "TENANT_NOT_FOUND_ERROR"
    body = {"email": "ada@example.com", "password": PASSWORD}
    refused = await core.post("/nowhere/recipe/signup", json=body)
    assert refused.status_code == 400


async def test_without_api_keys_only_loopback_callers_are_served(database_url: str) -> None:
    dk = Doorkeep(Settings(database_url=database_url))
    async with client_for(dk, host="203.0.113.9") as remote:
        refused = await remote.post("/recipe/signup", json={"email": "a@b.co", "password": "x"})
        assert refused.status_code == 401 and "DOORKEEP_CORE_API_KEYS" in refused.text
        assert (await remote.get("/hello")).text == "Hello"
        # The FDI and pages are for everyone, as before.
        assert (await remote.get("/auth/login")).status_code == 200
    async with client_for(dk) as local:
        assert (await local.get("/users/count")).json() == {"status": "OK", "count": 0}
    await dk.close()


async def test_fdi_and_cdi_share_the_port_without_colliding(core: httpx.AsyncClient) -> None:
    body = {"email": "ada@example.com", "password": PASSWORD}
    assert (await core.post("/recipe/signup", json=body)).json()["status"] == "OK"
    fdi = await core.post(
        "/auth/signin",
        json={
            "formFields": [
                {"id": "email", "value": "ada@example.com"},
                {"id": "password", "value": PASSWORD},
            ]
        },
    )
    assert fdi.json()["status"] == "OK" and "st-access-token" in fdi.headers
    assert (await core.get("/auth/users")).status_code == 404  # not the CDI's /users
    assert (await core.get("/users")).json()["users"][0]["emails"] == ["ada@example.com"]


ROUTE_LIST = sorted(ROUTES)


def test_fuzzed_cdi_requests_never_get_a_5xx(tmp_path: Path, sqlite_template: Path) -> None:
    path = tmp_path / "fuzz.sqlite3"
    shutil.copy(sqlite_template, path)
    loop = asyncio.new_event_loop()
    dk = Doorkeep(Settings(database_url=f"sqlite:///{path}"))
    http = client_for(dk)
    values = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.text(max_size=20),
        st.lists(st.text(max_size=5), max_size=3),
        st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
    )
    names = st.sampled_from(
        [
            "email",
            "password",
            "userId",
            "recipeUserId",
            "token",
            "accessToken",
            "refreshToken",
            "sessionHandle",
            "sessionHandles",
            "userDataInJWT",
            "userDataInDatabase",
            "metadataUpdate",
            "superTokensUserId",
            "externalUserId",
            "userIdType",
            "method",
            "enableAntiCsrf",
            "checkDatabase",
            "doAntiCsrfCheck",
            "passwordHash",
            "force",
        ]
    )

    @settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        route=st.sampled_from(ROUTE_LIST),
        body=st.dictionaries(names, values, max_size=5),
        raw=st.one_of(st.none(), st.binary(max_size=40)),
        prefix=st.sampled_from(["", "/public", "/appid-public", "/appid-public/public", "/x_y"]),
        query=st.dictionaries(names, st.text(max_size=10), max_size=3),
    )
    def run(
        route: tuple[str, str],
        body: dict[str, Any],
        raw: bytes | None,
        prefix: str,
        query: dict[str, str],
    ) -> None:
        method, url = route
        content = raw if raw is not None else json.dumps(body).encode()
        response = loop.run_until_complete(
            http.request(
                method, prefix + url, content=content if method != "GET" else None, params=query
            )
        )
        assert response.status_code < 500, (route, body, response.text)

    try:
        run()
    finally:
        loop.run_until_complete(http.aclose())
        loop.run_until_complete(dk.close())
        loop.close()


async def test_tenants_can_be_created_and_keep_their_users_apart(core: httpx.AsyncClient) -> None:
    created = await core.put("/recipe/multitenancy/tenant/v2", json={"tenantId": "acme"})
    assert created.json() == {"status": "OK", "createdNew": True}
    again = await core.put("/recipe/multitenancy/tenant/v2", json={"tenantId": "acme"})
    assert again.json() == {"status": "OK", "createdNew": False}
    body = {"email": "ada@example.com", "password": PASSWORD}
    assert (await core.post("/acme/recipe/signup", json=body)).json()["status"] == "OK"
    assert (await core.post("/recipe/signin", json=body)).json()["status"] == (
        "WRONG_CREDENTIALS_ERROR"
    )
    assert (await core.get("/acme/users/count")).json()["count"] == 1
    assert (await core.get("/users/count")).json()["count"] == 0
    by_recipe = "/acme/users/count?includeRecipeIds="
    assert (await core.get(by_recipe + "emailpassword")).json()["count"] == 1
    assert (await core.get(by_recipe + "thirdparty")).json()["count"] == 0
    bad = await core.put("/recipe/multitenancy/tenant/v2", json={"tenantId": "Not valid!"})
    assert bad.status_code == 400


async def test_input_the_core_refuses_is_a_400_not_a_500(core: httpx.AsyncClient) -> None:
    empty_user = await core.post(
        "/recipe/session",
        json={
            "userId": "",
            "userDataInJWT": {},
            "userDataInDatabase": {},
            "enableAntiCsrf": False,
            "useDynamicSigningKey": True,
        },
    )
    assert empty_user.status_code == 400 and "user_id" in empty_user.text
    bad_payload = await core.post("/recipe/session", json={"userId": "u", "userDataInJWT": [1]})
    assert bad_payload.status_code == 400
