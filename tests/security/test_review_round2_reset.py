"""Issue 16 row 2: `POST /auth/user/password/reset` must not be a free Argon2id oracle.

Before, the flow hashed the new password (Argon2id, ~40 ms of a core) and only then
looked the token up, with no limit on the endpoint: anyone could burn the server's CPU
with made-up tokens. Now the token is checked (a digest lookup that it exists, is
unexpired and in scope; nothing consumed) before the hash, the consumption stays atomic
with the password write, and the endpoint is limited per IP in the flow, so the JSON API
and the reset page count alike.

The work is counted, not timed: every Argon2 evaluation the hasher runs is recorded.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from doorkeep import Doorkeep, Settings
from doorkeep.core.common import sha256_hex
from doorkeep.ratelimit import Limit, RateLimitConfig
from doorkeep.serve.server import create_app
from doorkeep.storage import tables as t

PASSWORD = "correct horse battery"
NEW_PASSWORD = "a brand new passphrase"
EMAIL = "ada@example.com"


class CountingArgon2:
    """The hasher's own argon2-cffi object, with every hash and verification recorded."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def hash(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append("hash")
        return self.inner.hash(*args, **kwargs)

    def verify(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append("verify")
        return self.inner.verify(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def count_argon2(dk: Doorkeep) -> list[str]:
    counting = CountingArgon2(dk.core.hasher._argon2)
    dk.core.hasher._argon2 = counting  # type: ignore[assignment]
    return counting.calls


def reset_body(token: str, password: str = NEW_PASSWORD) -> dict[str, Any]:
    return {
        "method": "token",
        "token": token,
        "formFields": [{"id": "password", "value": password}],
    }


async def new_token(dk: Doorkeep) -> str:
    user = await dk.emailpassword.get_user_by_email(EMAIL)
    assert user is not None
    created = await dk.core.public.passwordreset.create_token(user.id, EMAIL)
    return created.token  # type: ignore[union-attr]


async def page_reset(client: httpx.AsyncClient, token: str) -> httpx.Response:
    """The reset page's form, posted as a browser would (with its CSRF field)."""
    path = f"/auth/reset-password?token={token}"
    html = (await client.get(path)).text
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None, html
    form = {
        "csrf_token": found.group(1),
        "token": token,
        "password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD,
    }
    return await client.post(path, data=form)


@pytest.fixture
async def started(database_url: str, request: pytest.FixtureRequest) -> AsyncIterator[Doorkeep]:
    limits = RateLimitConfig(**getattr(request, "param", {}))
    async with Doorkeep(Settings(database_url=database_url), rate_limits=limits) as dk:
        signed_up = await dk.emailpassword.sign_up(EMAIL, PASSWORD)
        assert signed_up.status == "OK"
        yield dk


async def test_a_token_that_cannot_reset_costs_no_argon2(started: Doorkeep) -> None:
    """Unknown, spent and expired tokens: the invalid-token answer and not one Argon2
    evaluation, on the JSON API and on the reset page. A good token costs exactly one.

    Fails before the fix: each invalid token cost one `hash` (calls == ["hash"]), since
    `PasswordResetService.reset_password` hashed before `single_use.consume`. Mutant
    tried: the new `single_use.is_live` check moved after the hash — fails the same way.
    """
    dk = started
    spent, expired = await new_token(dk), await new_token(dk)
    await dk.core.public.passwordreset.consume_token(spent)
    # Expire one token where it is stored (its digest row), as an hour's wait would.
    async with dk.core.db.transaction() as conn:
        rows = t.password_reset_tokens
        await conn.execute(
            update(rows).where(rows.c.token_hash == sha256_hex(expired)).values(expires_at=0)
        )
    calls = count_argon2(dk)
    transport = httpx.ASGITransport(app=create_app(dk))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        for token in ("made-up-" + "x" * 40, spent, expired):
            answer = await client.post("/auth/user/password/reset", json=reset_body(token))
            assert answer.json() == {"status": "RESET_PASSWORD_INVALID_TOKEN_ERROR"}
            assert calls == [], f"an invalid token was hashed for: {calls}"
            page = await page_reset(client, token)
            assert page.status_code == 400 and "invalid, used or expired" in page.text
            assert calls == [], f"the reset page hashed for an invalid token: {calls}"
        good = await client.post("/auth/user/password/reset", json=reset_body(await new_token(dk)))
    assert good.json() == {"status": "OK"}
    assert calls == ["hash"]  # the counter sees real work: one hash for the one real reset
    assert (await dk.emailpassword.sign_in(EMAIL, NEW_PASSWORD)).status == "OK"


@pytest.mark.parametrize("started", [{"reset_password_per_ip": Limit(3, 60)}], indirect=True)
async def test_resets_are_limited_per_ip_on_both_faces(started: Doorkeep) -> None:
    """Three attempts from one IP (two on the JSON API, one on the page) are answered; the
    fourth, on either face, is a 429 with Retry-After, even with a good token, and does
    no work (no hash, the token stays unspent, the password unchanged).

    Fails before the fix: `RateLimitConfig` had no `reset_password_per_ip` and the fourth
    attempt was answered RESET_PASSWORD_INVALID_TOKEN_ERROR (then OK with the good token).
    Mutant tried: the limit counted in web/fdi.py only — the page's attempt is not
    counted, so the fourth JSON attempt is answered and the test fails.
    """
    dk = started
    transport = httpx.ASGITransport(app=create_app(dk))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        for _ in range(2):
            bad = await client.post("/auth/user/password/reset", json=reset_body("no-such-token"))
            assert bad.json() == {"status": "RESET_PASSWORD_INVALID_TOKEN_ERROR"}
        assert (await page_reset(client, "no-such-token")).status_code == 400
        calls = count_argon2(dk)
        good = await new_token(dk)
        refused = await client.post("/auth/user/password/reset", json=reset_body(good))
        assert refused.status_code == 429, refused.text
        assert int(refused.headers["retry-after"]) >= 1
        refused_page = await page_reset(client, good)
        assert refused_page.status_code == 429 and "Too many attempts" in refused_page.text
    assert calls == []
    assert (await dk.emailpassword.sign_in(EMAIL, PASSWORD)).status == "OK"
    # The refused attempts left the token alone: it still resets (through the in-process
    # API, which is not an HTTP client and is not limited per IP).
    spent = await dk.core.public.passwordreset.consume_token(good)
    assert spent.status == "OK"
