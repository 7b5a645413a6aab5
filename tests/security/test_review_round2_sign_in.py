"""Issue 16 row 9: in username mode an account's username and its email share one budget
of failed sign-ins.

Before, the per-account counters (per account, per account+IP) were keyed by the
identifier typed, so alternating `ada_l` / `ada@example.com` doubled the guesses an
attacker got before the account's limit. Now the flow resolves the identifier to the
account and counts the account; an identifier nobody has is still counted by itself
(it has no account), so the count at which the 429 comes says nothing about existence.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from doorkeep import Doorkeep, Settings
from doorkeep.ratelimit import Limit, RateLimitConfig
from doorkeep.serve.server import create_app

PASSWORD = "correct horse battery"
LIMIT = 4  # failures per account (and per account+IP) before the 429
UNREACHABLE = Limit(10**6, 60)


def fields(**values: str) -> dict[str, Any]:
    return {"formFields": [{"id": k, "value": v} for k, v in values.items()]}


@pytest.fixture(params=["per account", "per account and IP"])
async def client(
    database_url: str, request: pytest.FixtureRequest
) -> AsyncIterator[httpx.AsyncClient]:
    """A username-mode doorkeep whose only reachable limit is the one under test."""
    tight = Limit(LIMIT, 3600)
    per_account = request.param == "per account"
    limits = RateLimitConfig(
        sign_in_per_ip=UNREACHABLE,
        sign_in_per_account=tight if per_account else UNREACHABLE,
        sign_in_per_account_ip=UNREACHABLE if per_account else tight,
    )
    settings = Settings(database_url=database_url, login_identifier="username")
    async with Doorkeep(settings, rate_limits=limits) as dk:
        transport = httpx.ASGITransport(app=create_app(dk))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            for username, email in (("ada_l", "ada@example.com"), ("bob_l", "bob@example.com")):
                signed_up = await http.post(
                    "/auth/signup",
                    json=fields(email=username, password=PASSWORD, actualEmail=email),
                )
                assert signed_up.json()["status"] == "OK", signed_up.text
            yield http


async def answered_before_429(client: httpx.AsyncClient, identifiers: list[str]) -> int:
    """Wrong passwords, cycling through `identifiers`, until the first 429; how many
    were evaluated (WRONG_CREDENTIALS_ERROR) before it."""
    for attempt in range(3 * LIMIT):
        identifier = identifiers[attempt % len(identifiers)]
        answer = await client.post(
            "/auth/signin", json=fields(email=identifier, password="not the password")
        )
        if answer.status_code == 429:
            return attempt
        assert answer.json() == {"status": "WRONG_CREDENTIALS_ERROR"}
    raise AssertionError(f"no 429 after {3 * LIMIT} failures on {identifiers}")


async def test_username_and_email_share_the_accounts_budget(client: httpx.AsyncClient) -> None:
    """Fails before the fix: alternating the username and the email got 2 * LIMIT = 8
    evaluated guesses before the 429, against 4 for one identifier. Mutant tried: the
    account resolved but the counter keyed by the typed identifier again — 8 again."""
    assert await answered_before_429(client, ["ada_l"]) == LIMIT
    # Another account, reached both ways, mixed case included: the same budget.
    alternating = ["bob_l", "bob@example.com", "BOB_L", "Bob@Example.com"]
    assert await answered_before_429(client, alternating) == LIMIT
    # Even the right password waits now, by either identifier.
    for identifier in ("bob_l", "bob@example.com"):
        refused = await client.post(
            "/auth/signin", json=fields(email=identifier, password=PASSWORD)
        )
        assert refused.status_code == 429


async def test_unknown_identifiers_are_counted_by_themselves(client: httpx.AsyncClient) -> None:
    """An identifier without an account reaches its 429 at the same count as an account
    (nothing to learn from the count), and is counted on its own."""
    assert await answered_before_429(client, ["ghost"]) == LIMIT
    assert await answered_before_429(client, ["ghost@example.com"]) == LIMIT
