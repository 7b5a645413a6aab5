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
from doorkeep.serve.server import create_app

PASSWORD = "correct horse battery"
REDIS_URL = os.environ.get("DOORKEEP_TEST_REDIS_URL")


def fresh_ip() -> str:
    """An address no earlier test used: Redis counters outlive a test (and its database)."""
    return "10." + ".".join(str(b) for b in uuid.uuid4().bytes[:3])


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


async def test_200_parallel_guesses_evaluate_exactly_the_limit(harness: Harness) -> None:
    """Checklist C4, both bounds: of 200 parallel wrong guesses from one address exactly
    `limit` reach the password check (answered WRONG_CREDENTIALS), the rest are 429s,
    and the owner, from another address, still signs in.
    Fails on a limiter that lets one too many through (mutant: `count > limit.limit + 1`
    in `RateLimiter.attempt`) and on one that refuses everything (mutant: `attempt`
    always returns a wait)."""
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    assert (await harness.dk.emailpassword.sign_up(email, PASSWORD)).status == "OK"
    async with harness.client(fresh_ip()) as client:
        responses = await asyncio.gather(
            *(client.post("/auth/signin", json=body(email, f"guess {i}")) for i in range(200))
        )
    limit = harness.dk.rate_limits.sign_in_per_account_ip.limit
    assert len(harness.evaluated) == limit  # not more (upper) and not fewer (lower)
    wrong = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code == 429]
    assert len(wrong) == limit and len(refused) == 200 - limit
    assert all(r.json() == {"status": "WRONG_CREDENTIALS_ERROR"} for r in wrong)
    assert all(int(r.headers["retry-after"]) >= 1 for r in refused)
    assert refused[0].json() == {"message": "Too many attempts. Please try again later."}


async def test_guesses_refused_at_one_address_do_not_throttle_the_account(
    harness: Harness,
) -> None:
    """Checklist 11: 101 guesses from ONE address (all but five refused there) leave the
    owner free to sign in from another. Failed before the fix (issue 21 report): the
    refused guesses still counted toward the account-wide limit, which then throttled
    the account everywhere for an hour. Mutant tried: all three counters counted in one
    `attempts.count` call again (the old rule) — the owner gets a 429."""
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    async with harness.client(fresh_ip()) as owner:
        await owner.post("/auth/signup", json=body(email, PASSWORD))
    limit = harness.dk.rate_limits.sign_in_per_account.limit
    async with harness.client(fresh_ip()) as attacker:
        for i in range(limit + 1):  # all but the first five are refused, unevaluated
            await attacker.post("/auth/signin", json=body(email, f"guess {i}"))
    async with harness.client(fresh_ip()) as owner:
        mine = await owner.post("/auth/signin", json=body(email, PASSWORD))
    assert mine.status_code == 200 and mine.json()["status"] == "OK"


async def test_sign_up_and_email_exists_are_limited_per_address(harness: Harness) -> None:
    """Checklist 13: an existing email at sign-up is a FIELD_ERROR (the FDI requires it),
    so probing for accounts is limited per address, at sign-up and at email-exists,
    with the shipped limits. Fails if either route is not counted (mutant: the
    `_limited` call removed from `FrontendApi.sign_up` / `.email_exists`)."""
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    limits = harness.dk.rate_limits
    async with harness.client(fresh_ip()) as prober, harness.client(fresh_ip()) as other:
        first = await prober.post("/auth/signup", json=body(email, PASSWORD))
        assert first.json()["status"] == "OK"
        probes = [
            await prober.post("/auth/signup", json=body(email, PASSWORD))
            for _ in range(limits.sign_up_per_ip.limit)
        ]
        assert [p.json()["status"] for p in probes[:-1]] == ["FIELD_ERROR"] * (
            limits.sign_up_per_ip.limit - 1
        )
        assert probes[-1].status_code == 429 and int(probes[-1].headers["retry-after"]) >= 1
        # Another address is counted on its own.
        assert (await other.post("/auth/signup", json=body(email, PASSWORD))).status_code == 200

        checks = [
            await prober.get("/auth/emailpassword/email/exists", params={"email": email})
            for _ in range(limits.email_exists_per_ip.limit + 1)
        ]
        assert [c.json() for c in checks[:-1]] == [{"status": "OK", "exists": True}] * (
            limits.email_exists_per_ip.limit
        )
        assert checks[-1].status_code == 429
        assert checks[-1].json() == {"message": "Too many attempts. Please try again later."}
        assert int(checks[-1].headers["retry-after"]) >= 1
        other_check = await other.get("/auth/emailpassword/email/exists", params={"email": email})
        assert other_check.status_code == 200


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
