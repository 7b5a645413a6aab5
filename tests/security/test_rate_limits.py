"""Rate limits (issue 8, checklist 10, 11, 13, 32): counted atomically before an
attempt is evaluated, keyed on IP, account and account+IP, shared through the
database or Redis."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from doorkeep import Doorkeep, Settings
from doorkeep.ratelimit import Limit, RateLimitConfig
from doorkeep.recipes.emailpassword import EmailPasswordConfig, EmailPasswordFunctions
from doorkeep.web.server import create_app

PASSWORD = "correct horse battery"
REDIS_URL = os.environ.get("DOORKEEP_TEST_REDIS_URL")


def body(email: str, password: str) -> dict[str, object]:
    return {"formFields": [{"id": "email", "value": email}, {"id": "password", "value": password}]}


@pytest.fixture(params=["database", "redis"])
def counters(request: pytest.FixtureRequest) -> str | None:
    """Where counters live: the database (default) or Redis."""
    if request.param == "database":
        return None
    if not REDIS_URL:
        if os.environ.get("DOORKEEP_REQUIRE_SERVICES"):
            pytest.fail("DOORKEEP_REQUIRE_SERVICES is set but DOORKEEP_TEST_REDIS_URL is not")
        pytest.skip("Redis tests need DOORKEEP_TEST_REDIS_URL, e.g. redis://127.0.0.1:6379/0")
    return REDIS_URL


class Harness:
    def __init__(self, dk: Doorkeep, evaluated: list[str]) -> None:
        self.dk = dk
        self.evaluated = evaluated
        self.app = create_app(dk)

    def client(self, ip: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app, client=(ip, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
async def harness(database_url: str, counters: str | None) -> AsyncIterator[Harness]:
    evaluated: list[str] = []

    def count_evaluations(original: EmailPasswordFunctions) -> EmailPasswordFunctions:
        original_sign_in = original.sign_in

        async def sign_in(email: str, password: str, tenant_id: str, user_context: dict[str, Any]):  # type: ignore[no-untyped-def]
            evaluated.append(email)
            return await original_sign_in(email, password, tenant_id, user_context)

        original.sign_in = sign_in  # type: ignore[method-assign]
        return original

    dk = Doorkeep(
        Settings(database_url=database_url, redis_url=counters),
        emailpassword=EmailPasswordConfig(override_functions=count_evaluations),
    )
    await dk.start()
    yield Harness(dk, evaluated)
    await dk.close()


async def test_200_parallel_guesses_evaluate_at_most_the_limit(harness: Harness) -> None:
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    async with harness.client("203.0.113.7") as client:
        assert (await client.post("/auth/signup", json=body(email, PASSWORD))).json()[
            "status"
        ] == "OK"
        responses = await asyncio.gather(
            *(client.post("/auth/signin", json=body(email, f"guess {i}")) for i in range(200))
        )
    limit = harness.dk.rate_limits.sign_in_per_account_ip.limit
    assert len(harness.evaluated) <= limit
    refused = [r for r in responses if r.status_code == 429]
    assert len(refused) >= 200 - limit
    assert all(int(r.headers["retry-after"]) >= 1 for r in refused)
    assert refused[0].json() == {"message": "Too many attempts. Please try again later."}


async def test_an_attacker_cannot_lock_the_owner_out(harness: Harness) -> None:
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    async with harness.client("198.51.100.1") as owner, harness.client("203.0.113.66") as attacker:
        await owner.post("/auth/signup", json=body(email, PASSWORD))
        for _ in range(10):
            await attacker.post("/auth/signin", json=body(email, "guessing"))
        blocked = await attacker.post("/auth/signin", json=body(email, PASSWORD))
        assert blocked.status_code == 429  # the attacker's address is throttled...
        mine = await owner.post("/auth/signin", json=body(email, PASSWORD))
        assert mine.status_code == 200 and mine.json()["status"] == "OK"  # ...the owner's is not


async def test_nist_limit_of_failures_per_account_across_addresses(database_url: str) -> None:
    limits = RateLimitConfig(sign_in_per_account=Limit(100, 3600))
    async with Doorkeep(Settings(database_url=database_url), rate_limits=limits) as dk:
        app = create_app(dk)
        email = "target@example.com"

        def client(ip: str) -> httpx.AsyncClient:
            return httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app, client=(ip, 1)), base_url="http://t"
            )

        async with client("192.0.2.1") as first:
            await first.post("/auth/signup", json=body(email, PASSWORD))
        for i in range(100):  # 100 failures, 4 per address: no per-address limit trips
            async with client(f"10.{i // 250}.{i % 250}.{i % 4}") as c:
                response = await c.post("/auth/signin", json=body(email, "wrong guess"))
                assert response.json() == {"status": "WRONG_CREDENTIALS_ERROR"}, i
        async with client("192.0.2.200") as late:
            throttled = await late.post("/auth/signin", json=body(email, PASSWORD))
        assert throttled.status_code == 429  # even the right password waits for the window


async def test_reset_requests_are_limited_per_account(database_url: str) -> None:
    async with Doorkeep(Settings(database_url=database_url)) as dk:
        transport = httpx.ASGITransport(app=create_app(dk))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            reset = {"formFields": [{"id": "email", "value": "someone@example.com"}]}
            statuses = [
                (await client.post("/auth/user/password/reset/token", json=reset)).status_code
                for _ in range(8)
            ]
        limit = dk.rate_limits.reset_per_account.limit
        assert statuses == [200] * limit + [429] * (8 - limit)


async def test_disabled_limits_count_nothing(database_url: str) -> None:
    async with Doorkeep(Settings(database_url=database_url, rate_limits_enabled=False)) as dk:
        assert (
            await dk.limiter.attempt(("anything", Limit(1, 60)), ("anything", Limit(1, 60))) is None
        )
