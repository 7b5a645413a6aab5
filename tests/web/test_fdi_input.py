"""Bad input to the frontend API: always a documented 4xx or FIELD_ERROR, never a 5xx,
and never a written user. A hypothesis run throws arbitrary bodies at every route."""

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
from doorkeep.ratelimit import Limit, RateLimitConfig
from doorkeep.serve.server import create_app

PASSWORD = "correct horse battery"


@pytest.fixture
async def client(dk_settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Doorkeep]]:
    dk = Doorkeep(dk_settings)
    transport = httpx.ASGITransport(app=create_app(dk))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http, dk
    await dk.close()


@pytest.fixture
def dk_settings(database_url: str) -> Settings:
    return Settings(database_url=database_url)


def fields(**values: Any) -> dict[str, Any]:
    return {"formFields": [{"id": k, "value": v} for k, v in values.items()]}


MALFORMED = [
    (b"not json", "request body is not valid JSON"),
    (b"[1, 2]", "request body must be a JSON object"),
    (b"{}", "Missing input param: formFields"),
    (b'{"formFields": "email"}', "formFields must be an array"),
    (b'{"formFields": [1]}', "each of formFields must be an object with an id and a value"),
    (
        b'{"formFields": [{"id": "email"}]}',
        "each of formFields must be an object with an id and a value",
    ),
    (json.dumps({"formFields": [{"id": "x" * 10, "value": "v"}]}).encode(), None),
    (b"{" + b'"a":' + b'"' + b"x" * 1_000_000 + b'"}', "request body is too large"),
]


@pytest.mark.parametrize("path", ["/auth/signup", "/auth/signin", "/auth/public/signup"])
@pytest.mark.parametrize(("body", "message"), MALFORMED)
async def test_malformed_bodies_are_400_json(
    client: tuple[httpx.AsyncClient, Doorkeep], path: str, body: bytes, message: str | None
) -> None:
    http, dk = client
    response = await http.post(path, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    if message is not None:
        assert response.json() == {"message": message}
    else:
        assert "message" in response.json()
    assert await dk.core.public.users.count_users() == 0


async def test_wrong_value_types_are_field_errors(
    client: tuple[httpx.AsyncClient, Doorkeep],
) -> None:
    http, dk = client
    cases = [
        (fields(email=42, password=PASSWORD), "email", "Email must be a string."),
        (
            fields(email="ada@example.com", password=12345678),
            "password",
            "Password must be a string.",
        ),
        (fields(email="", password=PASSWORD), "email", "Field is not optional"),
        (fields(email="nope", password=PASSWORD), "email", "Email is invalid"),
        (
            fields(email="ada@example.com", password="x" * 10_000),
            "password",
            "Password must be at most 128 characters long.",
        ),
        (fields(password=PASSWORD), "email", "Field is not optional"),
    ]
    for body, field_id, message in cases:
        response = await http.post("/auth/signup", json=body)
        assert response.status_code == 200
        assert response.json() == {
            "status": "FIELD_ERROR",
            "formFields": [{"id": field_id, "error": message}],
        }
    assert await dk.core.public.users.count_users() == 0


async def test_duplicate_sign_up_is_a_field_error_on_email(
    client: tuple[httpx.AsyncClient, Doorkeep],
) -> None:
    http, _ = client
    assert (
        await http.post("/auth/signup", json=fields(email="a@example.com", password=PASSWORD))
    ).json()["status"] == "OK"
    again = await http.post("/auth/signup", json=fields(email="A@example.com", password=PASSWORD))
    assert again.json() == {
        "status": "FIELD_ERROR",
        "formFields": [
            {"id": "email", "error": "This email already exists. Please sign in instead."}
        ],
    }


async def test_sign_in_wrong_credentials_and_email_exists(
    client: tuple[httpx.AsyncClient, Doorkeep],
) -> None:
    http, _ = client
    await http.post("/auth/signup", json=fields(email="a@example.com", password=PASSWORD))
    wrong = await http.post(
        "/auth/signin", json=fields(email="a@example.com", password="wrong password")
    )
    unknown = await http.post(
        "/auth/signin", json=fields(email="b@example.com", password="wrong password")
    )
    assert wrong.json() == unknown.json() == {"status": "WRONG_CREDENTIALS_ERROR"}
    for path in ("/auth/emailpassword/email/exists", "/auth/public/signup/email/exists"):
        assert (await http.get(path, params={"email": "A@example.com"})).json() == {
            "status": "OK",
            "exists": True,
        }
        assert (await http.get(path, params={"email": "b@example.com"})).json() == {
            "status": "OK",
            "exists": False,
        }
    assert (await http.get("/auth/emailpassword/email/exists")).status_code == 400


async def test_unknown_tenant_and_bad_tenant_ids(
    client: tuple[httpx.AsyncClient, Doorkeep],
) -> None:
    http, dk = client
    body = fields(email="a@example.com", password=PASSWORD)
    unknown = await http.post("/auth/acme/signup", json=body)
    assert unknown.status_code == 200 and unknown.json() == {
        "status": "GENERAL_ERROR",
        "message": "Tenant not found",
    }
    bad = await http.post("/auth/ACME_1/signup", json=body)
    assert bad.status_code == 400
    assert await dk.core.public.users.count_users() == 0


async def test_jwks_is_published(client: tuple[httpx.AsyncClient, Doorkeep]) -> None:
    http, _ = client
    response = await http.get("/auth/jwt/jwks.json")
    assert response.status_code == 200
    keys = response.json()["keys"]
    assert keys and keys[0]["kty"] == "RSA" and keys[0]["alg"] == "RS256"
    assert response.headers["cache-control"].startswith("max-age=")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
form_bodies = (
    st.fixed_dictionaries(
        {
            "formFields": st.lists(
                st.fixed_dictionaries(
                    {"id": st.sampled_from(["email", "password", "x"]), "value": json_values}
                ),
                max_size=3,
            )
        }
    )
    | json_values
)
ROUTES = [
    ("POST", "/auth/signup"),
    ("POST", "/auth/signin"),
    ("POST", "/auth/public/signin"),
    ("POST", "/auth/session/refresh"),
    ("POST", "/auth/signout"),
    ("GET", "/auth/emailpassword/email/exists"),
    ("GET", "/auth/signup/email/exists"),
    ("GET", "/auth/jwt/jwks.json"),
    ("POST", "/auth/user/password/reset/token"),
    ("POST", "/auth/public/user/password/reset"),
    ("POST", "/auth/user/email/verify/token"),
    ("POST", "/auth/user/email/verify"),
    ("GET", "/auth/user/email/verify"),
    ("POST", "/auth/user/password/change"),
    ("POST", "/auth/user/email/change"),
]


def test_fuzzed_requests_never_get_a_5xx(tmp_path: Path, sqlite_template: Path) -> None:
    """hypothesis drives its own event loop here: it calls the test body synchronously.

    Limits are counted but set out of reach, so every example reaches its handler: with
    the shipped limits, every parseable sign-up after the 20th would be a 429 and test
    nothing. Fails if the limits keep their defaults (then 429s appear)."""
    path = tmp_path / "fuzz.sqlite3"
    shutil.copy(sqlite_template, path)
    loop = asyncio.new_event_loop()
    unreachable = Limit(10**9, 60)
    limits = RateLimitConfig(
        **{name: unreachable for name in RateLimitConfig.__dataclass_fields__ if name != "extra"}
    )
    dk = Doorkeep(Settings(database_url=f"sqlite:///{path}"), rate_limits=limits)
    answered: dict[str, set[int]] = {}
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(dk)), base_url="http://t")
    signed_up = loop.run_until_complete(
        http.post("/auth/signup", json=fields(email="a@example.com", password=PASSWORD))
    )
    session_header = {"authorization": f"Bearer {signed_up.headers['st-access-token']}"}

    @settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        route=st.sampled_from(ROUTES),
        body=form_bodies,
        raw=st.binary(max_size=64),
        use_raw=st.booleans(),
        headers=st.dictionaries(
            st.sampled_from(
                ["authorization", "st-auth-mode", "rid", "anti-csrf", "fdi-version", "cookie"]
            ),
            st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30),
            max_size=3,
        ),
        email=st.text(max_size=30),
        signed_in=st.booleans(),
    )
    def run(
        route: tuple[str, str],
        body: Any,
        raw: bytes,
        use_raw: bool,
        headers: dict[str, str],
        email: str,
        signed_in: bool,
    ) -> None:
        method, url = route
        if signed_in and "authorization" not in headers:
            headers = {**headers, **session_header}
        content = (raw if use_raw else json.dumps(body).encode()) if method == "POST" else None
        params = {"email": email} if method == "GET" else None
        response = loop.run_until_complete(
            http.request(method, url, content=content, headers=headers, params=params)
        )
        assert response.status_code < 500, (route, body, headers, response.text)
        assert response.status_code != 429, "a limit stopped the example before its handler"
        answered.setdefault(url, set()).add(response.status_code)
        assert response.headers["content-type"].startswith("application/json")

    try:
        run()
    finally:
        loop.run_until_complete(http.aclose())
        loop.run_until_complete(dk.close())
        loop.close()
    # The handlers were reached: sign-up and sign-in answered (200 carries their
    # FIELD_ERROR / WRONG_CREDENTIALS statuses), not only refused at the door.
    assert 200 in answered["/auth/signup"] and 200 in answered["/auth/signin"], answered
