"""Issue 16 rows 3, 4 and 6: just-in-time legacy migration (flows/legacy_migration.py).

The legacy provider is a real HTTP server on loopback (Starlette under uvicorn in a
thread) that records each call; doorkeep runs in the test's loop behind httpx's ASGI
transport, so the test can wait for its background work.

- Row 3: a tenant that does not exist gets the answers it gets without a legacy
  provider (sign-in WRONG_CREDENTIALS_ERROR, sign-up "Tenant not found", reset OK),
  and the provider is never asked: no session, no user in a tenant nobody made.
- Row 4: the email is normalised once and the provider is asked about that form, so
  `Legacy2@example.com` cannot squat the legacy user `legacy2@example.com`.
- Row 6: the answer to a reset request never waits for the provider: the same status
  and body for a local account, an unknown address, an unmigrated legacy user and a
  provider that is down, and the provider is called only after the answer has reached
  the client (an order of events, not a clock).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from doorkeep import Doorkeep, Settings
from doorkeep.delivery import EmailDelivery, EmailDeliveryConfig, PasswordResetEmail
from doorkeep.flows.legacy_migration import HttpLegacyProvider
from doorkeep.serve.server import create_app
from doorkeep.testing import serve_in_thread

LEGACY_PASSWORD = "legacy passphrase"
ATTACKER_PASSWORD = "attacker passphrase"
GATE_TIMEOUT_S = 10.0  # only a provider called before the answer ever waits this long


@dataclass
class LegacyServer:
    """The legacy provider: exact-match lookups (as a case-sensitive store would do).

    With `gate` set up, each call first waits for the test to say that doorkeep's answer
    has arrived, and records whether it had (True) or the wait ran out (False)."""

    users: dict[str, tuple[str, str]]  # email as the legacy store has it -> (id, password)
    calls: list[str] = field(default_factory=list)
    gated: list[bool] = field(default_factory=list)
    down: bool = False
    gate: threading.Event | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Starlette:
        async def lookup(request: Request) -> Response:
            return await self.answer(request, "lookup")

        async def verify(request: Request) -> Response:
            return await self.answer(request, "verify")

        return Starlette(
            routes=[
                Route("/lookup", lookup, methods=["POST"]),
                Route("/verify", verify, methods=["POST"]),
            ]
        )

    async def answer(self, request: Request, kind: str) -> Response:
        body = await request.json()
        if self.gate is not None:
            opened = await asyncio.to_thread(self.gate.wait, GATE_TIMEOUT_S)
            with self.lock:
                self.gated.append(opened)
        with self.lock:
            self.calls.append(f"{kind}:{body['email']}")
        if self.down:
            return JSONResponse({"error": "maintenance"}, status_code=503)
        known = self.users.get(body["email"])
        if known is None or (kind == "verify" and body.get("password") != known[1]):
            return Response(status_code=404 if kind == "lookup" else 401)
        return JSONResponse({"userId": known[0], "emailVerified": True})


@pytest.fixture
def legacy() -> Iterator[tuple[LegacyServer, str]]:
    server = LegacyServer(
        {
            "legacy1@example.com": ("legacy-1", LEGACY_PASSWORD),
            "legacy2@example.com": ("legacy-2", LEGACY_PASSWORD),
        }
    )
    with serve_in_thread(server.app()) as url:
        yield server, url


@dataclass
class Running:
    dk: Doorkeep
    client: httpx.AsyncClient
    reset_emails: list[str]


@pytest.fixture
async def running(database_url: str, legacy: tuple[LegacyServer, str]) -> AsyncIterator[Running]:
    sent: list[str] = []

    def capture(original: EmailDelivery) -> EmailDelivery:
        async def send_email(email: Any, user_context: dict[str, Any]) -> None:
            if isinstance(email, PasswordResetEmail):
                sent.append(email.user.email)

        original.send_email = send_email  # type: ignore[method-assign]
        return original

    settings = Settings(database_url=database_url, rate_limits_enabled=False)
    provider = HttpLegacyProvider(legacy[1], timeout=GATE_TIMEOUT_S * 2)
    async with Doorkeep(
        settings, legacy_provider=provider, email_delivery=EmailDeliveryConfig(override=capture)
    ) as dk:
        transport = httpx.ASGITransport(app=create_app(dk))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield Running(dk, client, sent)


def fields(**values: str) -> dict[str, object]:
    return {"formFields": [{"id": k, "value": v} for k, v in values.items()]}


async def users_in(dk: Doorkeep) -> int:
    return await dk.core.public.users.count_users()


# -- row 3 --------------------------------------------------------------------------------


async def test_an_unknown_tenant_is_refused_as_without_a_legacy_provider(
    running: Running, legacy: tuple[LegacyServer, str], database_url: str
) -> None:
    """Fails before the fix: the sign-in to `/auth/nosuch/signin` with the legacy
    password answered OK with a session (st-access-token) and made a user in tenant
    `nosuch`; the reset request migrated one there too. Mutant tried: the tenant check
    only in `sign_in` — the reset creates the user in `nosuch` and the test fails."""
    server, _ = legacy
    client, dk = running.client, running.dk
    requests = [
        ("/auth/nosuch/signin", fields(email="legacy1@example.com", password=LEGACY_PASSWORD)),
        ("/auth/nosuch/signup", fields(email="legacy2@example.com", password=ATTACKER_PASSWORD)),
        ("/auth/nosuch/user/password/reset/token", fields(email="legacy2@example.com")),
    ]
    with_provider = []
    for path, body in requests:
        answer = await client.post(path, json=body)
        await dk.background.drain()
        assert "st-access-token" not in answer.headers and "set-cookie" not in answer.headers
        with_provider.append((answer.status_code, answer.json()))
    assert server.calls == []  # the provider is never asked about a tenant nobody made
    assert await users_in(dk) == 0

    # The same requests to a doorkeep without a legacy provider: the same answers.
    plain = Settings(database_url=database_url, rate_limits_enabled=False)
    async with Doorkeep(plain) as without:
        transport = httpx.ASGITransport(app=create_app(without))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as other:
            without_provider = [
                ((a := await other.post(path, json=body)).status_code, a.json())
                for path, body in requests
            ]
    assert with_provider == without_provider
    assert with_provider[0] == (200, {"status": "WRONG_CREDENTIALS_ERROR"})
    assert with_provider[1] == (200, {"status": "GENERAL_ERROR", "message": "Tenant not found"})
    assert with_provider[2] == (200, {"status": "OK"})


# -- row 4 --------------------------------------------------------------------------------


async def test_a_case_variant_cannot_squat_a_legacy_user(
    running: Running, legacy: tuple[LegacyServer, str]
) -> None:
    """Fails before the fix: the provider was asked about `Legacy2@example.com` (404 in
    a case-sensitive store), so the attacker's sign-up answered OK, the account was stored
    as `legacy2@example.com`, and the real user's legacy password then got
    WRONG_CREDENTIALS_ERROR. Mutant tried: normalising in `refuses_sign_up` only — the
    mixed-case sign-in below asks the provider about `LEGACY2@Example.COM` and fails."""
    server, _ = legacy
    client = running.client
    squat = await client.post(
        "/auth/signup", json=fields(email="Legacy2@example.com", password=ATTACKER_PASSWORD)
    )
    assert squat.json()["status"] == "FIELD_ERROR", squat.text  # "sign in instead"
    assert await users_in(running.dk) == 0

    real = await client.post(
        "/auth/signin", json=fields(email="LEGACY2@Example.COM", password=LEGACY_PASSWORD)
    )
    assert real.json()["status"] == "OK", real.text
    assert real.json()["user"]["id"] == "legacy-2"
    assert real.json()["user"]["emails"] == ["legacy2@example.com"]
    # Every question the provider got was about the one normalised address.
    assert server.calls == ["lookup:legacy2@example.com", "verify:legacy2@example.com"]
    attacker = await client.post(
        "/auth/signin", json=fields(email="legacy2@example.com", password=ATTACKER_PASSWORD)
    )
    assert attacker.json() == {"status": "WRONG_CREDENTIALS_ERROR"}


# -- row 6 --------------------------------------------------------------------------------


async def test_the_reset_answer_does_not_depend_on_the_legacy_provider(
    running: Running, legacy: tuple[LegacyServer, str]
) -> None:
    """Fails before the fix: the handler awaited `prepare_reset` (provider lookup, then
    an Argon2 hash of a temporary password) before answering, so the gated provider
    waited in vain (`gated` holds False) and, with the provider down, the answer was
    GENERAL_ERROR instead of OK. Mutant tried: `prepare_reset` awaited in
    `generate_password_reset_token_post` again — the same two failures."""
    server, _ = legacy
    dk, client = running.dk, running.client
    local = await dk.emailpassword.sign_up("local@example.com", "local passphrase")
    assert local.status == "OK"
    server.calls.clear()  # (the sign-up asked the provider: step 1)

    answers: dict[str, tuple[int, Any]] = {}
    for case, email in (
        ("local", "local@example.com"),
        ("unknown", "nobody@example.com"),
        ("legacy", "legacy1@example.com"),
        ("provider down", "legacy2@example.com"),
    ):
        server.down = case == "provider down"
        server.gate = gate = threading.Event()
        answer = await client.post("/auth/user/password/reset/token", json=fields(email=email))
        gate.set()  # the answer has reached the client: now the provider may answer
        answers[case] = (answer.status_code, answer.json())
        await dk.background.drain()

    assert answers == dict.fromkeys(answers, (200, {"status": "OK"}))
    # The provider was asked about each address not known here, only after the answer.
    assert server.calls == [
        "lookup:nobody@example.com",
        "lookup:legacy1@example.com",
        "lookup:legacy2@example.com",
    ]
    assert server.gated == [True, True, True], "the provider was called before the answer"
    # The work after the answer still happens: the legacy user was migrated and mailed,
    # the local user mailed, nobody else; the provider being down created nothing.
    assert running.reset_emails == ["local@example.com", "legacy1@example.com"]
    migrated = await dk.emailpassword.get_user_by_email("legacy1@example.com")
    assert migrated is not None and migrated.id == "legacy-1"
    assert await dk.emailpassword.get_user_by_email("legacy2@example.com") is None
