"""Issue 16, row 10: deeply nested JSON is a 400 on both faces, never a RecursionError 500.

Bodies already have a size cap (64 KiB on the FDI, 256 KiB on the CDI); within it,
`"[" * 50000` used to blow the parser's recursion limit, and nesting just below it
(~900 levels) was parsed, stored as user metadata and then failed deeper in the stack.
Both faces now refuse nesting deeper than `MAX_JSON_DEPTH` before anything is written.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator

import httpx
import pytest

from doorkeep import Doorkeep, Settings
from doorkeep.serve.server import create_app
from doorkeep.web.json_body import MAX_JSON_DEPTH

PASSWORD = "validPass123"
JSON = {"content-type": "application/json"}


@pytest.fixture
async def served(database_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, Doorkeep]]:
    dk = Doorkeep(Settings(database_url=database_url))
    # raise_app_exceptions=False: a 500 must show up as a 500, not as a test error.
    transport = httpx.ASGITransport(
        app=create_app(dk), client=("127.0.0.1", 50000), raise_app_exceptions=False
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://doorkeep") as http:
        yield http, dk
    await dk.close()


def nested(depth: int) -> bytes:
    return b"[" * depth + b"1" + b"]" * depth


@pytest.mark.parametrize("body", [b"[" * 50000, b'{"a":' * 10000, nested(5000)])
async def test_fdi_refuses_deep_json_with_a_400_json_message(
    served: tuple[httpx.AsyncClient, Doorkeep], body: bytes
) -> None:
    """fails on main: 500 Internal Server Error (RecursionError in json.loads).
    Mutant tried: dropping RecursionError from parse_json's except -> 500 again."""
    http, dk = served
    for path in ("/auth/signup", "/auth/signin", "/auth/user/password/reset/token"):
        response = await http.post(path, content=body, headers=JSON)
        assert response.status_code == 400, (path, response.text[:200])
        assert response.json() == {"message": "request body is nested too deeply"}
    assert await dk.core.public.users.count_users() == 0


@pytest.mark.parametrize("body", [b"[" * 50000, b'{"a":' * 10000])
async def test_cdi_refuses_deep_json_with_a_400(
    served: tuple[httpx.AsyncClient, Doorkeep], body: bytes
) -> None:
    """fails on main: 500 (RecursionError). The CDI answers request errors in plain text,
    as SuperTokens' core does (web/cdi/protocol.py), so the message is text, not JSON."""
    http, dk = served
    response = await http.post("/recipe/signup", content=body, headers=JSON)
    assert response.status_code == 400
    assert response.text == "Invalid Json Input: nested too deeply"
    assert await dk.core.public.users.count_users() == 0


async def test_metadata_nesting_is_capped_before_it_is_stored(
    served: tuple[httpx.AsyncClient, Doorkeep],
) -> None:
    """fails on main: 900 levels were stored (a 200) and 990 levels were a 500.
    Mutant tried: checking depth with `>` replaced by `> 10 * MAX_JSON_DEPTH` -> the
    900-level update is stored and this test fails."""
    http, _ = served
    signed_up = await http.post(
        "/recipe/signup", json={"email": "ada@example.com", "password": PASSWORD}
    )
    user_id = signed_up.json()["user"]["id"]

    def update(depth: int) -> bytes:
        return b'{"userId":"%s","metadataUpdate":{"a":%s}}' % (user_id.encode(), nested(depth))

    # Exactly at the cap (the body's own two objects count): stored as it was sent.
    fits = MAX_JSON_DEPTH - 2
    ok = await http.put("/recipe/user/metadata", content=update(fits), headers=JSON)
    assert ok.status_code == 200 and ok.json()["status"] == "OK"
    for depth in (fits + 1, 900, 990, 5000):
        refused = await http.put("/recipe/user/metadata", content=update(depth), headers=JSON)
        assert refused.status_code == 400, depth
        assert refused.text == "Invalid Json Input: nested too deeply"
    stored = await http.get("/recipe/user/metadata", params={"userId": user_id})
    assert stored.json()["metadata"]["a"] == json.loads(nested(fits))


async def test_a_deeply_nested_pagination_token_is_a_400(
    served: tuple[httpx.AsyncClient, Doorkeep],
) -> None:
    """The CDI's `/users?paginationToken=` is base64 JSON, decoded with json.loads.
    fails on main: 500 (RecursionError in core/users.py _decode_cursor)."""
    http, _ = served
    token = base64.urlsafe_b64encode(b"[" * 5000).decode()
    answer = await http.get("/users", params={"paginationToken": token})
    assert answer.status_code == 400
    assert "paginationToken" in answer.text or "pagination" in answer.text.lower()
