"""Seed 001: just-in-time migration from a legacy provider, over HTTP. The legacy
provider is a real HTTP server started by the test, counting its calls."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from doorkeep import Doorkeep, FlowsConfig, Settings
from doorkeep.flows.legacy_migration import (
    TEMPORARY_PASSWORD_FLAG,
    LegacyMigration,
    LegacyProviderUnavailable,
)
from doorkeep.serve.server import create_app
from doorkeep.testing import SmtpSink, email_text, free_port, serve_in_thread

NEW_PASSWORD = "a brand new passphrase"


@dataclass
class LegacyProviderServer:
    users: dict[str, tuple[str, str, bool]]  # email -> (legacy id, password, verified)
    calls: list[str] = field(default_factory=list)
    down: bool = False
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
        with self.lock:
            self.calls.append(f"{kind}:{body['email']}")
        if self.down:
            return JSONResponse({"error": "maintenance"}, status_code=503)
        known = self.users.get(body["email"])
        if known is None or (kind == "verify" and body.get("password") != known[1]):
            return Response(status_code=404 if kind == "lookup" else 401)
        return JSONResponse({"userId": known[0], "emailVerified": known[2]})


@pytest.fixture
def legacy() -> Iterator[tuple[LegacyProviderServer, str]]:
    server = LegacyProviderServer(
        {
            "old@example.com": ("legacy-1", "old password", True),
            "forgot@example.com": ("legacy-2", "forgotten one", False),
            "pending@example.com": ("legacy-3", "still remembered", False),
        }
    )
    with serve_in_thread(server.app()) as url:
        yield server, url


def fields(**values: object) -> dict[str, object]:
    return {"formFields": [{"id": k, "value": v} for k, v in values.items()]}


def sign_in(client: httpx.Client, email: str, password: str) -> dict[str, object]:
    return client.post("/auth/signin", json=fields(email=email, password=password)).json()


def exists(client: httpx.Client, email: str) -> bool:
    return client.get("/auth/emailpassword/email/exists", params={"email": email}).json()["exists"]


def recording_temporary_passwords(into: list[str]):  # type: ignore[no-untyped-def]
    """An override (FlowsConfig) that lets the test see the temporary passwords."""

    def override(original: LegacyMigration) -> LegacyMigration:
        original_temporary_password = original.temporary_password

        def temporary_password() -> str:
            into.append(original_temporary_password())
            return into[-1]

        original.temporary_password = temporary_password  # type: ignore[method-assign]
        return original

    return override


def test_seed_001_just_in_time_migration(
    database_url: str, legacy: tuple[LegacyProviderServer, str]
) -> None:
    provider, legacy_url = legacy
    with SmtpSink() as smtp:
        settings = Settings(
            database_url=database_url, legacy_provider_url=legacy_url, smtp_url=smtp.url
        )
        temporary_passwords: list[str] = []
        flows = FlowsConfig(
            override_legacy_migration=recording_temporary_passwords(temporary_passwords)
        )
        dk = Doorkeep(settings, flows=flows)
        with serve_in_thread(create_app(dk)) as url, httpx.Client(base_url=url) as client:
            # Step 1: no sign-up for an email the legacy provider knows.
            blocked = client.post(
                "/auth/signup", json=fields(email="old@example.com", password="some new passphrase")
            )
            assert blocked.json()["status"] == "FIELD_ERROR" and not exists(
                client, "old@example.com"
            )

            # Step 2: the first sign-in with legacy credentials migrates the user.
            assert sign_in(client, "old@example.com", "wrong password") == {
                "status": "WRONG_CREDENTIALS_ERROR"
            }
            assert not exists(client, "old@example.com")  # a wrong password stores nothing
            migrated = client.post(
                "/auth/signin", json=fields(email="old@example.com", password="old password")
            )
            user = migrated.json()["user"]
            assert migrated.json()["status"] == "OK" and user["id"] == "legacy-1"  # the legacy ID
            assert user["loginMethods"][0]["verified"] is True  # verification carried over
            auth = {"authorization": f"Bearer {migrated.headers['st-access-token']}"}
            assert client.get("/sessioninfo", headers=auth).json()["userId"] == "legacy-1"
            calls = len(provider.calls)
            assert sign_in(client, "old@example.com", "old password")["status"] == "OK"
            assert len(provider.calls) == calls  # the second login never asks the legacy provider

            # Step 3: a reset for an unmigrated user creates the account with a temporary password.
            asked = client.post(
                "/auth/user/password/reset/token", json=fields(email="forgot@example.com")
            )
            assert asked.json() == {"status": "OK"}
            message = smtp.wait_for(1)[0]  # the migration and the email follow the answer
            assert exists(client, "forgot@example.com")
            assert message["To"] == "forgot@example.com"
            temporary = temporary_passwords[-1]
            # Step 5: the temporary password never signs in.
            assert sign_in(client, "forgot@example.com", temporary) == {
                "status": "WRONG_CREDENTIALS_ERROR"
            }
            # Step 4: a completed reset clears the flag; the new password works.
            token = re.search(r"token=([^&\s]+)", email_text(message))
            assert token is not None
            reset = client.post(
                "/auth/user/password/reset",
                json={"method": "token", "token": token.group(1), **fields(password=NEW_PASSWORD)},
            )
            assert reset.json() == {"status": "OK"}
            assert sign_in(client, "forgot@example.com", NEW_PASSWORD)["status"] == "OK"

            # Step 5, other branch: started a reset, then remembered the legacy password.
            client.post("/auth/user/password/reset/token", json=fields(email="pending@example.com"))
            smtp.wait_for(2)  # the reset was started: the migration after the answer is done
            remembered = sign_in(client, "pending@example.com", "still remembered")
            assert remembered["status"] == "OK" and remembered["user"]["id"] == "legacy-3"  # type: ignore[index]
            calls = len(provider.calls)
            assert sign_in(client, "pending@example.com", "still remembered")["status"] == "OK"
            assert len(provider.calls) == calls  # the flag is gone; the password is local now


async def test_flags_follow_the_seed(
    database_url: str, legacy: tuple[LegacyProviderServer, str]
) -> None:
    _, legacy_url = legacy
    async with Doorkeep(Settings(database_url=database_url, legacy_provider_url=legacy_url)) as dk:
        migration = dk.flows.legacy_migration
        assert migration is not None
        await migration.prepare_reset(
            dk.emailpassword.functions, "forgot@example.com", "public", {}
        )
        assert await dk.usermetadata.get_user_metadata("legacy-2") == {
            TEMPORARY_PASSWORD_FLAG: True
        }
        assert (await dk.useridmapping.get_user_id_mapping("legacy-2")).status == "OK"


def test_legacy_provider_down_fails_closed(
    database_url: str, legacy: tuple[LegacyProviderServer, str]
) -> None:
    provider, legacy_url = legacy
    provider.down = True
    unreachable = f"http://127.0.0.1:{free_port()}"
    for url_of_provider in (legacy_url, unreachable):
        dk = Doorkeep(Settings(database_url=database_url, legacy_provider_url=url_of_provider))
        with serve_in_thread(create_app(dk)) as url, httpx.Client(base_url=url) as client:
            answer = sign_in(client, "old@example.com", "old password")
            assert answer["status"] == "GENERAL_ERROR" and "try again later" in str(
                answer["message"]
            )
            reset = client.post(
                "/auth/user/password/reset/token", json=fields(email="forgot@example.com")
            )
            # Answered before the provider is asked (issue 16 row 6); it fails closed then.
            assert reset.json() == {"status": "OK"}
        # (The server's shutdown waited for the work after the answer.)
        assert not exists_in(database_url, "old@example.com")
        assert not exists_in(database_url, "forgot@example.com")
    assert "lookup:forgot@example.com" in provider.calls  # it was asked, after the answer


def exists_in(database_url: str, email: str) -> bool:
    import asyncio

    async def lookup() -> bool:
        async with Doorkeep(Settings(database_url=database_url)) as dk:
            return await dk.emailpassword.get_user_by_email(email) is not None

    return asyncio.run(lookup())


async def test_ten_concurrent_first_logins_make_one_user(
    database_url: str, legacy: tuple[LegacyProviderServer, str]
) -> None:
    import asyncio

    _, legacy_url = legacy
    async with Doorkeep(Settings(database_url=database_url, legacy_provider_url=legacy_url)) as dk:
        results = await asyncio.gather(
            *(dk.emailpassword.sign_in("old@example.com", "old password") for _ in range(10))
        )
        assert all(r.status == "OK" and r.user.id == "legacy-1" for r in results)  # type: ignore[union-attr]
        assert await dk.core.public.users.count_users() == 1
        mapping = await dk.useridmapping.get_user_id_mapping("legacy-1")
        assert mapping.status == "OK"


async def test_a_migration_that_fails_part_way_leaves_no_user(
    database_url: str, legacy: tuple[LegacyProviderServer, str]
) -> None:
    """The legacy provider hands out an ID that an account here already holds: the
    migration is refused as a whole, and nobody signs in as that other account."""
    server, legacy_url = legacy
    server.users["twin@example.com"] = ("legacy-1", "twin password", True)
    async with Doorkeep(Settings(database_url=database_url, legacy_provider_url=legacy_url)) as dk:
        first = await dk.emailpassword.sign_in("old@example.com", "old password")
        assert first.status == "OK"
        with pytest.raises(LegacyProviderUnavailable):
            await dk.emailpassword.sign_in("twin@example.com", "twin password")
        assert await dk.core.public.users.count_users() == 1
        assert await dk.core.public.users.get_users_by_email("public", "twin@example.com") == []


def test_username_sign_up_is_refused_for_an_email_the_legacy_provider_knows(
    database_url: str, legacy: tuple[LegacyProviderServer, str]
) -> None:
    """With username login, a sign-up whose optional email the legacy provider knows is
    refused like a plain one (they should sign in), and creates nothing.

    Before: the migration wrapped `sign_up` but not `sign_up_with_username`, so such a
    sign-up made a second account for a legacy user."""
    _, legacy_url = legacy
    settings = Settings(
        database_url=database_url, legacy_provider_url=legacy_url, login_identifier="username"
    )
    dk = Doorkeep(settings)
    with serve_in_thread(create_app(dk)) as url, httpx.Client(base_url=url) as client:
        known = fields(email="olduser", actualEmail="old@example.com", password=NEW_PASSWORD)
        refused = client.post("/auth/signup", json=known).json()
        assert refused["status"] == "FIELD_ERROR"
        assert refused["formFields"][0]["id"] == "actualEmail"
        assert not exists(client, "olduser") and not exists(client, "old@example.com")
        fresh = fields(email="newuser", actualEmail="new@example.com", password=NEW_PASSWORD)
        assert client.post("/auth/signup", json=fresh).json()["status"] == "OK"
        without_email = fields(email="bare", password=NEW_PASSWORD)
        assert client.post("/auth/signup", json=without_email).json()["status"] == "OK"
