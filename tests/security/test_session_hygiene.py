"""Session hygiene (checklist 14-17, 40): cookie flags, a new session on every
sign-in, tokens never in URLs, cookies under 4 KiB, refresh replay after sign-out."""

from __future__ import annotations

import re
from urllib.parse import unquote

import httpx

from doorkeep import Doorkeep, Settings
from doorkeep.serve.server import create_app

PASSWORD = "correct horse battery"
COOKIE_MODE = {"st-auth-mode": "cookie", "rid": "emailpassword"}


def body(email: str, password: str = PASSWORD) -> dict[str, object]:
    return {"formFields": [{"id": "email", "value": email}, {"id": "password", "value": password}]}


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
        assert dk.session.anti_csrf == "VIA_CUSTOM_HEADER"


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


TOKEN_HEADERS = ("st-access-token", "st-refresh-token", "front-token", "anti-csrf")
TOKEN_COOKIES = ("sAccessToken", "sRefreshToken", "sAntiCsrf")
LINK_ATTRIBUTE = re.compile(r'(?:href|action|src|formaction|content)="([^"]*)"')


class Recorder:
    """Every response a client saw, redirects included: the URLs it visited, every
    Location header, every link, form action and source in the pages it got, and
    every session token handed out on the way."""

    def __init__(self) -> None:
        self.responses: list[httpx.Response] = []

    async def __call__(self, response: httpx.Response) -> None:
        await response.aread()
        self.responses.append(response)

    def tokens(self) -> set[str]:
        found = set()
        for response in self.responses:
            found.update(response.headers[h] for h in TOKEN_HEADERS if h in response.headers)
            for cookie in response.headers.get_list("set-cookie"):
                name, _, rest = cookie.partition("=")
                value = rest.split(";", 1)[0].strip('"')
                if name in TOKEN_COOKIES and value:
                    found.add(value)
        return {t for t in found if len(t) >= 16}

    def urls(self) -> list[str]:
        urls = []
        for response in self.responses:
            urls.append(str(response.request.url))
            urls.extend(response.headers.get_list("location"))
            if response.headers.get("content-type", "").startswith("text/html"):
                urls.extend(LINK_ATTRIBUTE.findall(response.text))
        return urls


async def test_tokens_never_travel_in_a_url(database_url: str) -> None:
    """Checklist 16: through the pages (sign up, account, sign in again, change password,
    sign out) and the JSON API (sign in, refresh), no access, refresh or front token
    appears in any URL visited, Location header, link or form action of a page.
    Fails if a token is put in a redirect (mutant: the sign-in page redirects to
    `/auth/account?token=<access token>`)."""
    base = "http://127.0.0.1:3567"
    settings = Settings(database_url=database_url, api_domain=base, website_domain=base)
    recorder = Recorder()
    async with Doorkeep(settings) as dk:
        app = create_app(dk)

        def browser() -> httpx.AsyncClient:
            return httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url=base,
                follow_redirects=True,
                event_hooks={"response": [recorder]},
            )

        async def form(
            client: httpx.AsyncClient, path: str, page_path: str | None = None, **values: str
        ) -> httpx.Response:
            page = await client.get(page_path or path)
            found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert found is not None, page.text
            return await client.post(path, data={"csrf_token": found.group(1), **values})

        async with browser() as laptop, browser() as phone, browser() as api:
            email, new_password = "ada@example.com", "difference-engine-1822"
            signed_up = await form(
                laptop, "/auth/register", email=email, password=PASSWORD, confirm_password=PASSWORD
            )
            assert signed_up.status_code == 200
            signed_in = await form(phone, "/auth/login", email=email, password=PASSWORD)
            assert signed_in.url.path == "/auth/account"
            assert "Sign out other devices" in (await laptop.get("/auth/account")).text
            changed = await form(
                phone,
                "/auth/change-password",
                current_password=PASSWORD,
                new_password=new_password,
                confirm_new_password=new_password,
            )
            assert changed.url.path == "/auth/login"
            again = await form(phone, "/auth/login", email=email, password=new_password)
            assert again.url.path == "/auth/account"
            signed_out = await form(phone, "/auth/logout", "/auth/account")
            assert signed_out.url.path == "/auth/login"

            json_sign_in = await api.post("/auth/signin", json=body(email, new_password))
            assert json_sign_in.json()["status"] == "OK"
            refreshed = await api.post(
                "/auth/session/refresh",
                headers={"authorization": f"Bearer {json_sign_in.headers['st-refresh-token']}"},
            )
            assert refreshed.status_code == 200

    tokens = recorder.tokens()
    assert len(tokens) >= 6  # the journey was handed tokens to leak
    urls = recorder.urls()
    assert any("/auth/account" in url for url in urls)
    leaks = [(t[:12], u) for u in urls for t in tokens if t in u or t in unquote(u)]
    assert leaks == []


async def test_a_completed_reset_signs_nobody_in(database_url: str) -> None:
    """Checklist 33: completing a reset (JSON API, in header and in cookie mode, and the
    reset page) hands out no session: no `st-access-token`, `st-refresh-token` or
    `front-token` header, no token cookie with a value, and the user's sessions end.
    Fails if a reset signs the user in (mutant: `password_reset_post` creates a
    session for the user after the reset)."""
    async with Doorkeep(Settings(database_url=database_url)) as dk, client_for(dk) as client:
        signed_up = await client.post("/auth/signup", json=body("ada@example.com"))
        user_id = signed_up.json()["user"]["id"]
        refresh = signed_up.headers["st-refresh-token"]
        resets = dk.core.public.passwordreset
        answers = []
        for number, mode in enumerate(("header", "cookie", "page")):
            created = await resets.create_token(user_id, "ada@example.com")
            token = created.token  # type: ignore[union-attr]
            password = f"a brand new passphrase {number}"
            if mode == "page":
                page = await client.get(f"/auth/reset-password?token={token}")
                csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
                assert csrf is not None
                form = {
                    "csrf_token": csrf.group(1),
                    "token": token,
                    "password": password,
                    "confirm_password": password,
                }
                answer = await client.post("/auth/reset-password", data=form)
                assert answer.status_code == 303
                assert answer.headers["location"].endswith("/auth/login?notice=password-reset")
            else:
                reset = {
                    "method": "token",
                    "token": token,
                    "formFields": [{"id": "password", "value": password}],
                }
                answer = await client.post(
                    "/auth/user/password/reset",
                    json=reset,
                    headers={"st-auth-mode": mode, "rid": "emailpassword"},
                )
                assert answer.json() == {"status": "OK"}
            answers.append(answer)
        for answer in answers:
            assert not {h for h in TOKEN_HEADERS if h in answer.headers}
            for cookie in answer.headers.get_list("set-cookie"):
                name, _, rest = cookie.partition("=")
                if name in TOKEN_COOKIES:
                    assert rest.split(";", 1)[0].strip('"') == "", cookie  # only clearing
        assert await dk.session.get_all_session_handles_for_user(user_id) == []
        replay = await client.post(
            "/auth/session/refresh", headers={"authorization": f"Bearer {refresh}"}
        )
        assert replay.status_code == 401
