"""Both faces run one flow: the JSON API (FDI) and the HTML pages, given the same inputs,
write the same rows and count the same rate-limit attempts.

Each face gets a fresh database and the same script: sign up, sign in, ask for a
reset link and complete the reset, each with a good input, a bad password and a bad
field. Then the accounts, sessions, reset tokens and counters are compared, and also
checked against the counts the flows promise (so that two faces wrong alike fail too).

Mutant tried: counting sign-up attempts after validation (the pages' old rule) makes
`sign-up-ip` 1 instead of 3 and this test fails; before the flows existed the two faces
differed exactly there.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select

from doorkeep import Doorkeep, Settings
from doorkeep.delivery import EmailDelivery, EmailDeliveryConfig, PasswordResetEmail
from doorkeep.ratelimit import counter_key
from doorkeep.serve.server import create_app
from doorkeep.storage import tables as t
from tests.conftest import reset_postgres

PASSWORD = "correct horse battery"
NEW_PASSWORD = "a brand new passphrase"
SHORT = "short"  # fails the password policy
ADA, BOB, NOBODY, NOT_AN_EMAIL = "ada@example.com", "bob@example.com", "x@example.com", "nope"
IP = "127.0.0.1"  # httpx's ASGI transport, for both faces

Face = Callable[[httpx.AsyncClient, str, dict[str, str]], Awaitable[None]]


def fields(**values: str) -> dict[str, Any]:
    return {"formFields": [{"id": k, "value": v} for k, v in values.items()]}


async def api(client: httpx.AsyncClient, step: str, values: dict[str, str]) -> None:
    if step == "sign_up":
        await client.post("/auth/signup", json=fields(**values))
    elif step == "sign_in":
        await client.post("/auth/signin", json=fields(**values))
    elif step == "request_link":
        await client.post("/auth/user/password/reset/token", json=fields(**values))
    else:
        body = {"method": "token", "token": values["token"], **fields(password=values["password"])}
        await client.post("/auth/user/password/reset", json=body)


PAGES = {
    "sign_up": "/auth/register",
    "sign_in": "/auth/login",
    "request_link": "/auth/forgot-password",
    "reset": "/auth/reset-password",
}


async def pages(client: httpx.AsyncClient, step: str, values: dict[str, str]) -> None:
    path = PAGES[step]
    query = f"?token={values['token']}" if step == "reset" else ""
    html = (await client.get(path + query)).text
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None, html
    form = {"csrf_token": found.group(1), **values}
    if "password" in values and step in ("sign_up", "reset"):
        form["confirm_password"] = values["password"]
    answer = await client.post(path + query, data=form)
    assert answer.status_code in (200, 303, 400), answer.text


def script(reset_link: Callable[[], str]) -> list[tuple[str, Callable[[], dict[str, str]]]]:
    """(step, its inputs): good, bad password, bad field, for each flow."""
    return [
        ("sign_up", lambda: {"email": ADA, "password": PASSWORD}),
        ("sign_up", lambda: {"email": BOB, "password": SHORT}),
        ("sign_up", lambda: {"email": NOT_AN_EMAIL, "password": PASSWORD}),
        ("sign_in", lambda: {"email": ADA, "password": PASSWORD}),
        ("sign_in", lambda: {"email": ADA, "password": "not the password"}),
        ("sign_in", lambda: {"email": NOT_AN_EMAIL, "password": PASSWORD}),
        ("request_link", lambda: {"email": ADA}),
        ("request_link", lambda: {"email": NOBODY}),
        ("request_link", lambda: {"email": NOT_AN_EMAIL}),
        ("reset", lambda: {"token": reset_link(), "password": SHORT}),
        ("reset", lambda: {"token": "not-a-token", "password": NEW_PASSWORD}),
        ("reset", lambda: {"token": reset_link(), "password": NEW_PASSWORD}),
    ]


async def run_face(database_url: str, face: Face) -> dict[str, Any]:
    links: list[str] = []

    def capture(original: EmailDelivery) -> EmailDelivery:
        async def send_email(email: Any, user_context: dict[str, Any]) -> None:
            if isinstance(email, PasswordResetEmail):  # (the sign-up page also sends a
                links.append(email.password_reset_link)  # first verification link)

        original.send_email = send_email  # type: ignore[method-assign]
        return original

    def reset_link() -> str:
        assert len(links) == 1, links  # one link: for the known account only
        return parse_qs(urlsplit(links[0]).query)["token"][0]

    dk = Doorkeep(
        Settings(database_url=database_url),
        email_delivery=EmailDeliveryConfig(override=capture),
    )
    transport = httpx.ASGITransport(app=create_app(dk))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        await dk.start()
        for step, inputs in script(reset_link):
            await face(client, step, inputs())
            await dk.background.drain()  # the reset email goes after the answer
        written = await snapshot(dk)
        signs_in = {
            password: (await dk.emailpassword.sign_in(ADA, password)).status
            for password in (PASSWORD, NEW_PASSWORD)
        }
    await dk.close()
    return {**written, "signs_in": signs_in}


async def snapshot(dk: Doorkeep) -> dict[str, Any]:
    """What the flows wrote, without generated IDs, times and digests."""
    ep, s, r, c = (
        t.emailpassword_users,
        t.sessions,
        t.password_reset_tokens,
        t.rate_limit_counters,
    )
    async with dk.core.db.read() as conn:
        accounts = (await conn.execute(select(ep.c.email))).scalars().all()
        sessions = (
            await conn.execute(select(ep.c.email).join(s, s.c.user_id == ep.c.user_id))
        ).scalars()
        tokens = (await conn.execute(select(r.c.email))).scalars().all()
        counters = (await conn.execute(select(c.c.key, c.c.count))).all()
    return {
        "accounts": sorted(accounts),
        "sessions": sorted(sessions),
        "reset_tokens": sorted(tokens),
        "counters": dict(sorted((key, count) for key, count in counters)),
    }


@pytest.fixture
def fresh_database(
    database_url: str, request: pytest.FixtureRequest
) -> Callable[[], Awaitable[str]]:
    """The test's database, emptied again for the second face."""

    async def fresh() -> str:
        if database_url.startswith("sqlite"):
            template = request.getfixturevalue("sqlite_template")
            shutil.copy(template, Path(database_url.removeprefix("sqlite:///")))
        else:
            await reset_postgres(database_url)
        return database_url

    return fresh


async def test_the_api_and_the_pages_write_and_count_alike(
    fresh_database: Callable[[], Awaitable[str]],
) -> None:
    through_api = await run_face(await fresh_database(), api)
    through_pages = await run_face(await fresh_database(), pages)
    assert through_api == through_pages

    # What both wrote, spelled out.
    assert through_api["accounts"] == [ADA]  # the bad password and the bad email made none
    assert through_api["sessions"] == []  # the completed reset ended both sign-ins' sessions
    assert through_api["reset_tokens"] == []  # the one token was spent by the good reset
    assert through_api["signs_in"] == {PASSWORD: "WRONG_CREDENTIALS_ERROR", NEW_PASSWORD: "OK"}
    assert through_api["counters"] == dict(
        sorted(
            {
                # Every sign-up whose shape was read, before validation: all three.
                counter_key("sign-up-ip", IP): 3,
                # Sign-in counts after validation (the bad email is not an account); the
                # success reset the account's counters, the wrong password counted again.
                counter_key("sign-in-ip", IP): 2,
                counter_key("sign-in-account-ip", "public", ADA, IP): 1,
                counter_key("sign-in-account", "public", ADA): 1,
                # Reset requests: per IP and per account, after validation.
                counter_key("reset-ip", IP): 2,
                counter_key("reset-account", "public", ADA): 1,
                counter_key("reset-account", "public", NOBODY): 1,
                # Completing a reset: per IP, after validation (the short password is
                # not counted), before the token is looked up (the made-up one is).
                counter_key("reset-password-ip", IP): 2,
            }.items()
        )
    )
