"""Session hygiene (checklist 14-17, 40): cookie flags, a new session on every
sign-in, tokens never in URLs, cookies under 4 KiB, refresh replay after sign-out."""

from __future__ import annotations

import httpx

from doorkeep import Doorkeep, Settings
from doorkeep.web.server import create_app

PASSWORD = "correct horse battery"
COOKIE_MODE = {"st-auth-mode": "cookie", "rid": "emailpassword"}


def body(email: str) -> dict[str, object]:
    return {"formFields": [{"id": "email", "value": email}, {"id": "password", "value": PASSWORD}]}


def client_for(dk: Doorkeep, base_url: str = "https://api.example.com") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(dk)), base_url=base_url)


async def test_cookie_flags_on_https(database_url: str) -> None:
    settings = Settings(database_url=database_url, api_domain="https://api.example.com")
    async with Doorkeep(settings) as dk, client_for(dk) as client:
        response = await client.post(
            "/auth/signup", json=body("ada@example.com"), headers=COOKIE_MODE
        )
        cookies = {c.split("=", 1)[0]: c for c in response.headers.get_list("set-cookie")}
        for name in ("sAccessToken", "sRefreshToken"):
            assert "HttpOnly" in cookies[name] and "Secure" in cookies[name]
            assert "SameSite=Lax" in cookies[name]
            assert len(cookies[name].split(";")[0]) < 4096  # name + value under the browser limit
        assert "Path=/auth/session/refresh" in cookies["sRefreshToken"]  # sent to one path only
        assert "Path=/;" in cookies["sAccessToken"]


async def test_same_site_none_forces_secure_and_custom_header_csrf(database_url: str) -> None:
    settings = Settings(database_url=database_url, cookie_same_site="none")
    async with Doorkeep(settings) as dk, client_for(dk, "http://api.example.com") as client:
        response = await client.post(
            "/auth/signup", json=body("ada@example.com"), headers=COOKIE_MODE
        )
        for cookie in response.headers.get_list("set-cookie"):
            assert "SameSite=None" in cookie and "Secure" in cookie
        assert dk.web.anti_csrf == "VIA_CUSTOM_HEADER"


async def test_every_sign_in_issues_a_new_session(database_url: str) -> None:
    async with Doorkeep(Settings(database_url=database_url)) as dk, client_for(dk) as client:
        first = await client.post("/auth/signup", json=body("ada@example.com"))
        old_access = first.headers["st-access-token"]
        # Signing in while holding a session never re-uses the presented tokens.
        second = await client.post(
            "/auth/signin",
            json=body("ada@example.com"),
            headers={"authorization": f"Bearer {old_access}"},
        )
        assert second.headers["st-access-token"] != old_access
        assert second.headers["st-refresh-token"] != first.headers["st-refresh-token"]
        handles = await dk.session.get_all_session_handles_for_user(first.json()["user"]["id"])
        assert len(handles) == 2
        # Tokens travel in headers or cookies, never in a URL.
        for response in (first, second):
            assert old_access not in str(response.url) and "location" not in response.headers


async def test_refresh_token_replay_after_sign_out_is_refused(database_url: str) -> None:
    async with Doorkeep(Settings(database_url=database_url)) as dk, client_for(dk) as client:
        signed_up = await client.post("/auth/signup", json=body("ada@example.com"))
        access, refresh = (
            signed_up.headers["st-access-token"],
            signed_up.headers["st-refresh-token"],
        )
        out = await client.post("/auth/signout", headers={"authorization": f"Bearer {access}"})
        assert out.json() == {"status": "OK"}
        replay = await client.post(
            "/auth/session/refresh", headers={"authorization": f"Bearer {refresh}"}
        )
        assert replay.status_code == 401 and replay.json() == {"message": "unauthorised"}
