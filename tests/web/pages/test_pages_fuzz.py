"""hypothesis throws arbitrary forms, methods and headers at every page, signed in and
out, with and without a valid CSRF token: never a 5xx."""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from doorkeep import Doorkeep, Settings
from doorkeep.serve.server import create_app

PASSWORD = "analytical-engine-1843"
PAGES = [
    "/auth",
    "/auth/login",
    "/auth/register",
    "/auth/forgot-password",
    "/auth/reset-password",
    "/auth/verify-email",
    "/auth/verify-email/sent",
    "/auth/account",
    "/auth/account/sign-out-others",
    "/auth/change-password",
    "/auth/change-email",
    "/auth/logout",
    "/auth/static/theme.css",
]
FIELD_NAMES = [
    "email",
    "password",
    "confirm_password",
    "actualEmail",
    "token",
    "tenant_id",
    "redirect_to",
    "current_password",
    "new_password",
    "confirm_new_password",
    "csrf_token",
]
text = st.text(max_size=40)
forms = st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=8), text, max_size=6)


def scraped_token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def test_fuzzed_page_requests_never_get_a_5xx(tmp_path: Path, sqlite_template: Path) -> None:
    path = tmp_path / "fuzz.sqlite3"
    shutil.copy(sqlite_template, path)
    loop = asyncio.new_event_loop()
    dk = Doorkeep(Settings(database_url=f"sqlite:///{path}", rate_limits_enabled=False))
    app = create_app(dk)

    def client() -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")

    anonymous, user = client(), client()

    async def prepare() -> tuple[str, str]:
        signed_out = scraped_token((await anonymous.get("/auth/login")).text)
        register = scraped_token((await user.get("/auth/register")).text)
        form = {"csrf_token": register, "email": "a@example.com", "password": PASSWORD}
        created = await user.post("/auth/register", data={**form, "confirm_password": PASSWORD})
        assert created.status_code == 303
        return signed_out, scraped_token((await user.get("/auth/account")).text)

    signed_out_token, signed_in_token = loop.run_until_complete(prepare())

    @settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        page=st.sampled_from(PAGES),
        method=st.sampled_from(["GET", "POST", "POST", "POST", "PUT", "HEAD"]),
        form=forms,
        signed_in=st.booleans(),
        genuine=st.booleans(),
        raw=st.one_of(st.none(), st.binary(max_size=80)),
        headers=st.dictionaries(
            st.sampled_from(["origin", "sec-fetch-site", "referer", "accept", "content-type"]),
            st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
            max_size=3,
        ),
        query=st.dictionaries(
            st.sampled_from(["token", "tenantId", "notice", "redirect_to"]), text
        ),
    )
    def run(
        page: str,
        method: str,
        form: dict[str, str],
        signed_in: bool,
        genuine: bool,
        raw: bytes | None,
        headers: dict[str, str],
        query: dict[str, str],
    ) -> None:
        http = user if signed_in else anonymous
        if genuine:
            form = {**form, "csrf_token": signed_in_token if signed_in else signed_out_token}
        kwargs: dict[str, Any] = {"headers": headers, "params": query}
        if method in ("POST", "PUT"):
            if raw is not None:
                kwargs["content"] = raw
            else:
                kwargs["data"] = form
        response = loop.run_until_complete(http.request(method, page, **kwargs))
        assert response.status_code < 500, (page, method, form, headers, response.text[:300])

    try:
        run()
    finally:
        loop.run_until_complete(anonymous.aclose())
        loop.run_until_complete(user.aclose())
        loop.run_until_complete(dk.close())
        loop.close()
