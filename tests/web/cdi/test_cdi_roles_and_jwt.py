"""The CDI's user roles and JWT routes, on SQLite and PostgreSQL: the shapes of
cdi_5.3.yaml, UNKNOWN_ROLE_ERROR, roles per tenant and per app, plain-text 400s for
bad input, and a JWT whose signature checks against the JWKS the CDI publishes."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers
from cryptography.hazmat.primitives.hashes import SHA256

from doorkeep import Doorkeep, Settings
from doorkeep.serve.server import create_app


@pytest.fixture
async def core(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    dk = Doorkeep(Settings(database_url=database_url))
    transport = httpx.ASGITransport(app=create_app(dk), client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://core") as http:
        yield http
    await dk.close()


async def test_roles_permissions_and_users(core: httpx.AsyncClient) -> None:
    put = await core.put("/recipe/role", json={"role": "editor", "permissions": ["w", "r"]})
    assert put.json() == {"status": "OK", "createdNewRole": True}
    again = await core.put("/recipe/role", json={"role": "editor"})  # permissions optional
    assert again.json() == {"status": "OK", "createdNewRole": False}
    await core.put("/recipe/role", json={"role": "viewer", "permissions": ["r"]})
    assert (await core.get("/recipe/roles")).json() == {
        "status": "OK",
        "roles": ["editor", "viewer"],
    }
    perms = await core.get("/recipe/role/permissions", params={"role": "editor"})
    assert perms.json() == {"status": "OK", "permissions": ["r", "w"]}
    having = await core.get("/recipe/permission/roles", params={"permission": "r"})
    assert having.json() == {"status": "OK", "roles": ["editor", "viewer"]}

    add = await core.put("/public/recipe/user/role", json={"userId": "u1", "role": "editor"})
    assert add.json() == {"status": "OK", "didUserAlreadyHaveRole": False}
    add = await core.put("/recipe/user/role", json={"userId": "u1", "role": "editor"})
    assert add.json() == {"status": "OK", "didUserAlreadyHaveRole": True}
    roles = await core.get("/recipe/user/roles", params={"userId": "u1"})
    assert roles.json() == {"status": "OK", "roles": ["editor"]}
    users = await core.get("/recipe/role/users", params={"role": "editor"})
    assert users.json() == {"status": "OK", "users": ["u1"]}

    removed = await core.post(
        "/recipe/role/permissions/remove", json={"role": "editor", "permissions": ["w"]}
    )
    assert removed.json() == {"status": "OK"}
    await core.post("/recipe/role/permissions/remove", json={"role": "viewer"})  # all of them
    assert (await core.get("/recipe/permission/roles", params={"permission": "r"})).json()[
        "roles"
    ] == ["editor"]
    gone = await core.post("/recipe/user/role/remove", json={"userId": "u1", "role": "editor"})
    assert gone.json() == {"status": "OK", "didUserHaveRole": True}
    deleted = await core.post("/recipe/role/remove", json={"role": "viewer"})
    assert deleted.json() == {"status": "OK", "didRoleExist": True}
    deleted = await core.post("/recipe/role/remove", json={"role": "viewer"})
    assert deleted.json() == {"status": "OK", "didRoleExist": False}


async def test_unknown_roles(core: httpx.AsyncClient) -> None:
    unknown = {"status": "UNKNOWN_ROLE_ERROR"}
    assert (
        await core.put("/recipe/user/role", json={"userId": "u", "role": "x"})
    ).json() == unknown
    assert (
        await core.post("/recipe/user/role/remove", json={"userId": "u", "role": "x"})
    ).json() == unknown
    assert (await core.get("/recipe/role/users", params={"role": "x"})).json() == unknown
    assert (await core.get("/recipe/role/permissions", params={"role": "x"})).json() == unknown
    assert (
        await core.post("/recipe/role/permissions/remove", json={"role": "x"})
    ).json() == unknown
    assert (await core.get("/recipe/permission/roles", params={"permission": "x"})).json() == {
        "status": "OK",
        "roles": [],
    }


async def test_roles_of_a_user_are_per_tenant_and_roles_per_app(core: httpx.AsyncClient) -> None:
    await core.put("/recipe/multitenancy/tenant/v2", json={"tenantId": "acme"})
    await core.put("/recipe/role", json={"role": "admin"})
    await core.put("/acme/recipe/user/role", json={"userId": "u1", "role": "admin"})
    assert (await core.get("/acme/recipe/user/roles", params={"userId": "u1"})).json()["roles"] == [
        "admin"
    ]
    assert (await core.get("/recipe/user/roles", params={"userId": "u1"})).json()["roles"] == []
    await core.put("/recipe/multitenancy/app/v2", json={"appId": "other"})
    assert (await core.get("/appid-other/recipe/roles")).json()["roles"] == []
    missing = await core.put("/nope/recipe/user/role", json={"userId": "u1", "role": "admin"})
    assert missing.status_code == 400


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/recipe/role", {}),
        ("PUT", "/recipe/role", {"role": "  "}),
        ("PUT", "/recipe/role", {"role": "x" * 256}),
        ("PUT", "/recipe/role", {"role": "a", "permissions": "write"}),
        ("PUT", "/recipe/role", {"role": "a", "permissions": [1]}),
        ("PUT", "/recipe/user/role", {"role": "a"}),
        ("PUT", "/recipe/user/role", {"userId": "", "role": "a"}),
        ("POST", "/recipe/role/remove", {"role": 5}),
        ("GET", "/recipe/role/users", None),
        ("GET", "/recipe/user/roles", None),
        ("POST", "/recipe/jwt", {"payload": {}, "algorithm": "RS256"}),
        ("POST", "/recipe/jwt", {"payload": [], "algorithm": "RS256", "validity": 5}),
        ("POST", "/recipe/jwt", {"payload": {}, "algorithm": "RS256", "validity": -5}),
        ("POST", "/recipe/jwt", {"payload": {}, "validity": 5}),
    ],
)
async def test_bad_input_is_a_plain_400_that_changes_nothing(
    core: httpx.AsyncClient, method: str, path: str, body: dict[str, object] | None
) -> None:
    answer = await core.request(method, path, json=body)
    assert answer.status_code == 400, answer.text
    assert (await core.get("/recipe/roles")).json()["roles"] == []


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


async def test_a_signed_jwt_checks_against_the_published_keys(core: httpx.AsyncClient) -> None:
    made = await core.post(
        "/recipe/jwt",
        json={
            "payload": {"scope": "reports"},
            "algorithm": "RS256",
            "jwksDomain": "https://api.example.com",
            "validity": 100,
            "useStaticSigningKey": False,
        },
    )
    assert made.json()["status"] == "OK"
    token = made.json()["jwt"]
    head, body, signature = token.split(".")
    header, claims = json.loads(_b64(head)), json.loads(_b64(body))
    assert header["kid"].startswith("d-")
    assert claims["scope"] == "reports" and claims["iss"] == "https://api.example.com"
    assert claims["exp"] - claims["iat"] == 100

    published = (await core.get("/recipe/jwt/jwks")).json()
    assert published["status"] == "OK"
    jwk = next(k for k in published["keys"] if k["kid"] == header["kid"])
    public = RSAPublicNumbers(
        int.from_bytes(_b64(jwk["e"]), "big"), int.from_bytes(_b64(jwk["n"]), "big")
    ).public_key()
    public.verify(_b64(signature), f"{head}.{body}".encode(), PKCS1v15(), SHA256())

    static = await core.post(
        "/recipe/jwt", json={"payload": {}, "algorithm": "RS256", "validity": 5}
    )
    assert json.loads(_b64(static.json()["jwt"].split(".")[0]))["kid"].startswith("s-")
    other = await core.post(
        "/recipe/jwt", json={"payload": {}, "algorithm": "HS256", "validity": 5}
    )
    assert other.json() == {"status": "UNSUPPORTED_ALGORITHM_ERROR"}
