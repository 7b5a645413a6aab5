"""Issue 16, row 11 (checklist 18): a refresh chain ends at a finite absolute lifetime by
default, 30 days (NIST SP 800-63B, AAL1 reauthentication: at least once per 30 days of an
extended session, whatever the activity; AAL2: 12 hours).

The clock is doorkeep's own (`core.common.now_ms` and the JWT verifier), moved by the
test: thirty days pass without waiting.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from doorkeep import Doorkeep, Settings
from doorkeep.serve.server import create_app
from tests.core.conftest import Clock

PASSWORD = "correct horse battery"
DAY = 24 * 3600
THIRTY_DAYS = 30 * DAY


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr("doorkeep.core.common.time", fake)
    monkeypatch.setattr("doorkeep.core.jwt._time", fake.time)
    return fake


@asynccontextmanager
async def fdi(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with Doorkeep(settings) as dk:
        transport = httpx.ASGITransport(app=create_app(dk))
        async with httpx.AsyncClient(transport=transport, base_url="http://doorkeep") as http:
            yield http


async def sign_up(http: httpx.AsyncClient) -> str:
    form = [{"id": "email", "value": "ada@example.com"}, {"id": "password", "value": PASSWORD}]
    answer = await http.post("/auth/signup", json={"formFields": form})
    assert answer.json()["status"] == "OK"
    return answer.headers["st-refresh-token"]


async def refresh(http: httpx.AsyncClient, token: str) -> httpx.Response:
    return await http.post("/auth/session/refresh", headers={"authorization": f"Bearer {token}"})


def assert_refused_and_cleared(answer: httpx.Response) -> None:
    assert answer.status_code == 401 and answer.json() == {"message": "unauthorised"}
    assert answer.headers["front-token"] == "remove"
    assert answer.headers["st-access-token"] == ""
    assert answer.headers["st-refresh-token"] == ""


def test_the_default_absolute_lifetime_is_thirty_days() -> None:
    """fails on main: the default was None (no cap)."""
    assert Settings().session_absolute_lifetime == THIRTY_DAYS


async def test_by_default_a_refresh_chain_ends_after_thirty_days(
    database_url: str, clock: Clock
) -> None:
    """A session refreshed every 5 days (far inside the 100-day idle limit) lives until
    30 days after sign-in and no longer; the refusal clears the client's tokens.
    fails on main: the sixth refresh, 30 days and a minute in, answered 200.
    Mutant tried: `_expiry` capping at `now + absolute` (the cap moving forward on each
    refresh) -> the chain never ends and this test fails."""
    async with fdi(Settings(database_url=database_url)) as http:
        token = await sign_up(http)
        for _ in range(5):  # day 5, 10, ... 25
            clock.advance(5 * DAY)
            answer = await refresh(http, token)
            assert answer.status_code == 200
            token = answer.headers["st-refresh-token"]
        clock.advance(5 * DAY - 120)  # 29 days, 23 h 58 min: still inside
        answer = await refresh(http, token)
        assert answer.status_code == 200
        token = answer.headers["st-refresh-token"]
        clock.advance(180)  # 30 days and a minute after sign-in
        assert_refused_and_cleared(await refresh(http, token))
        # Gone for good: the token does not come back to life.
        assert (await refresh(http, token)).status_code == 401


async def test_a_session_from_before_the_cap_ends_at_its_first_refresh_past_it(
    database_url: str, clock: Clock
) -> None:
    """A session started with no cap (the old default) and refreshed for 40 days carries
    an idle expiry months ahead. Under the new default its next refresh is past the cap:
    refused, tokens cleared, the session deleted.
    fails on main: answered 200 (no cap by default). Also failed with the default alone:
    the rotation wrote an expiry already in the past and still issued fresh tokens.
    Mutant tried: removing the `expires_at <= now` refusal after computing the new expiry
    in `session_store.rotate` -> 200 and this test fails."""
    uncapped = Settings(database_url=database_url, session_absolute_lifetime=None)
    async with fdi(uncapped) as http:
        token = await sign_up(http)
        for _ in range(4):
            clock.advance(10 * DAY)
            answer = await refresh(http, token)
            assert answer.status_code == 200
            token = answer.headers["st-refresh-token"]
    async with fdi(Settings(database_url=database_url)) as http:
        assert_refused_and_cleared(await refresh(http, token))
        assert (await refresh(http, token)).status_code == 401
