"""Issue 16 row 8: the `st-ev` claim is checked again once it is old.

Before, a session whose token said `{"st-ev": {"v": true}}` passed
`require_verified_email` forever: after an immediate change to an unverified address in
session A, session B kept passing. Now a true value is trusted only while it is younger
than the claim's max age (SuperTokens' `EmailVerificationClaim.validators.isVerified`
default: 300 s), then valued again from the database (and B gets a new token with the
new value); a refresh values it again too (a refreshed B is refused at once). While the
value is fresh, checking it reads nothing from the database.

The max age is set to one second here so that the test can outwait it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from doorkeep import Doorkeep, Settings
from doorkeep.recipes.emailverification import EmailVerificationConfig
from doorkeep.serve.server import create_app

PASSWORD = "correct horse battery"
MAX_AGE_S = 1
ST_EV_REFUSED = {
    "message": "invalid claim",
    "claimValidationErrors": [
        {
            "id": "st-ev",
            "reason": {"message": "wrong value", "expectedValue": True, "actualValue": False},
        }
    ],
}


def fields(**values: str) -> dict[str, Any]:
    return {"formFields": [{"id": k, "value": v} for k, v in values.items()]}


class Client:
    """One signed-in device in header mode: it keeps whatever tokens doorkeep sends."""

    def __init__(self, http: httpx.AsyncClient, access: str, refresh: str) -> None:
        self.http, self.access, self.refresh_token = http, access, refresh

    def keep(self, response: httpx.Response) -> httpx.Response:
        self.access = response.headers.get("st-access-token") or self.access
        self.refresh_token = response.headers.get("st-refresh-token") or self.refresh_token
        return response

    async def get(self, path: str) -> httpx.Response:
        auth = {"authorization": f"Bearer {self.access}"}
        return self.keep(await self.http.get(path, headers=auth))

    async def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        auth = {"authorization": f"Bearer {self.access}"}
        return self.keep(await self.http.post(path, json=body, headers=auth))

    async def refresh(self) -> None:
        auth = {"authorization": f"Bearer {self.refresh_token}"}
        response = self.keep(await self.http.post("/auth/session/refresh", headers=auth))
        assert response.status_code == 200, response.text


@pytest.fixture
async def dk(database_url: str) -> AsyncIterator[Doorkeep]:
    settings = Settings(database_url=database_url, change_email_verify=False)
    config = EmailVerificationConfig(mode="REQUIRED", claim_max_age_seconds=MAX_AGE_S)
    async with Doorkeep(settings, emailverification=config) as instance:
        yield instance


def count_verification_reads(dk: Doorkeep) -> list[str]:
    """Every SQL statement that reads the verified-emails table."""
    statements: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "verified_emails" in statement:
            statements.append(statement)

    event.listen(dk.core.db.engine.sync_engine, "before_cursor_execute", before)
    return statements


async def test_an_email_change_reaches_the_other_sessions(dk: Doorkeep) -> None:
    """Fails before the fix: B's true claim was never checked again, so B's request after
    the max age answered 200 (and `EmailVerificationConfig` had no max age). Mutant
    tried: the age compared in seconds against milliseconds (`now - t > max_age`) — the
    fresh claim is then always re-read and the hot-path assertion fails."""
    user = await dk.emailpassword.sign_up("ada@example.com", PASSWORD)
    assert user.status == "OK"
    await dk.core.public.emailverification.mark_verified(user.user.id, "ada@example.com")  # type: ignore[union-attr]
    transport = httpx.ASGITransport(app=create_app(dk))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        devices = []
        for _ in range(3):
            signed_in = await http.post(
                "/auth/signin", json=fields(email="ada@example.com", password=PASSWORD)
            )
            assert signed_in.json()["status"] == "OK"
            headers = signed_in.headers
            devices.append(Client(http, headers["st-access-token"], headers["st-refresh-token"]))
        a, b, c = devices

        reads = count_verification_reads(dk)
        for device in devices:
            assert (await device.get("/sessioninfo")).status_code == 200
        assert reads == []  # a fresh true claim costs no database read

        changed = await a.post("/auth/user/email/change", {"email": "new@example.com"})
        assert changed.json() == {"status": "OK"}
        assert (await a.get("/sessioninfo")).json() == ST_EV_REFUSED  # A's token says so
        assert (await b.get("/sessioninfo")).status_code == 200  # B: fresh, not asked yet

        await c.refresh()  # a refresh values the claim again: C is refused at once
        assert (await c.get("/sessioninfo")).json() == ST_EV_REFUSED

        await asyncio.sleep(MAX_AGE_S + 0.2)  # B's value is now older than its max age
        refused = await b.get("/sessioninfo")
        assert refused.status_code == 403 and refused.json() == ST_EV_REFUSED
        assert refused.headers.get("st-access-token")  # B got a token with the new value
        assert reads, "the stale claim was valued again from the database"

        # Verifying the new address lets every device in again.
        await dk.core.public.emailverification.mark_verified(user.user.id, "new@example.com")  # type: ignore[union-attr]
        for device in devices:
            assert (await device.get("/sessioninfo")).status_code == 200
