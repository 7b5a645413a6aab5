"""Issue 16 row 7 (checklist 37): a cookie session is not usable from another page.

Before, a cookie-authenticated JSON route read a `text/plain` body as JSON and ignored
`Origin` and `Sec-Fetch-Site`; anti-CSRF is NONE by default (SameSite=Lax), so a page on
a sibling subdomain (same site: the Lax cookie goes along) could post
`{"email": "attacker@..."}` to `/auth/user/email/change` as a freshly signed-in user and
take the account. Now a state-changing request that a session cookie authenticates
must come from the website's or the API's origin and, on a JSON route, be
`application/json`; otherwise 403 `{"message": ...}`, nothing changed, tokens kept.

Everything over real HTTP: doorkeep under uvicorn on loopback, requests with the
headers a browser would send.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from doorkeep import Doorkeep, Settings
from doorkeep.serve.server import create_app
from doorkeep.testing import free_port, serve_in_thread

PASSWORD = "correct horse battery"
WEBSITE = "http://app.localhost:3000"  # the website_domain: where the frontend runs
CROSS_SITE = {"message": "cross-site request refused"}
JSON_REQUIRED = {
    "message": (
        "a request authenticated by a session cookie must send Content-Type: application/json"
    )
}


@dataclass
class Server:
    url: str


@pytest.fixture
def server(database_url: str) -> Iterator[Server]:
    port = free_port()
    settings = Settings(
        database_url=database_url,
        website_domain=WEBSITE,
        api_domain=f"http://127.0.0.1:{port}",
        change_email_verify=False,  # the change is immediate: what the attack wants
        rate_limits_enabled=False,
    )
    with serve_in_thread(create_app(Doorkeep(settings)), port=port) as url:
        yield Server(url)


def fields(**values: str) -> dict[str, object]:
    return {"formFields": [{"id": k, "value": v} for k, v in values.items()]}


def frontend_headers(**extra: str) -> dict[str, str]:
    """What supertokens-web-js sends from the website (cookie mode)."""
    return {
        "origin": WEBSITE,
        "content-type": "application/json",
        "rid": "anti-csrf",
        "st-auth-mode": "cookie",
        "fdi-version": "3.1,4.0,4.1,4.2",
        "sec-fetch-site": "same-site",
        **extra,
    }


def signed_in_with_cookies(url: str, email: str) -> httpx.Client:
    client = httpx.Client(base_url=url)
    body = json.dumps(fields(email=email, password=PASSWORD))
    assert (
        client.post("/auth/signup", content=body, headers=frontend_headers()).json()["status"]
        == "OK"
    )
    assert client.cookies.get("sAccessToken")  # a cookie session, the browser's kind
    return client


def change_email(client: httpx.Client, email: str, headers: dict[str, str]) -> httpx.Response:
    return client.post(
        "/auth/user/email/change", content=json.dumps({"email": email}), headers=headers
    )


def exists(url: str, email: str) -> bool:
    answer = httpx.get(f"{url}/auth/emailpassword/email/exists", params={"email": email})
    return bool(answer.json()["exists"])


def test_another_page_cannot_use_the_cookie_session(server: Server) -> None:
    """Fails before the fix: the text/plain post (the sibling page's simple request, no
    preflight) answered {"status": "OK"} and changed the email; so did the ones with a
    foreign Origin and with Sec-Fetch-Site cross-site/same-site. Mutants tried: the
    Origin check only when anti-CSRF is not NONE (the old `check_csrf`) — every refusal
    but text/plain is answered OK; `is_json` accepting any `*json*` type — the
    `text/plain; x=json` post changes the email."""
    client = signed_in_with_cookies(server.url, "ada@example.com")
    no_type = {k: v for k, v in frontend_headers().items() if k != "content-type"}
    attacks: dict[str, tuple[dict[str, str], dict[str, str]]] = {
        # The sibling page's simple requests (no preflight), even "from" the website.
        "text/plain": (frontend_headers(**{"content-type": "text/plain"}), JSON_REQUIRED),
        "text/plain naming json": (
            frontend_headers(**{"content-type": "text/plain; x=json"}),
            JSON_REQUIRED,
        ),
        "no content type (a Blob body)": (no_type, JSON_REQUIRED),
        "a form": (
            frontend_headers(**{"content-type": "application/x-www-form-urlencoded"}),
            JSON_REQUIRED,
        ),
        # Pages that are not the website's or the API's.
        "a foreign origin": (frontend_headers(origin="https://evil.example"), CROSS_SITE),
        "a sibling subdomain": (frontend_headers(origin="http://evil.localhost:3000"), CROSS_SITE),
        "cross-site, no origin": (
            {"content-type": "application/json", "sec-fetch-site": "cross-site"},
            CROSS_SITE,
        ),
        "same-site, no origin": (
            {"content-type": "application/json", "sec-fetch-site": "same-site"},
            CROSS_SITE,
        ),
        "origin null, cross-site": (
            {"content-type": "application/json", "origin": "null", "sec-fetch-site": "cross-site"},
            CROSS_SITE,
        ),
    }
    for name, (headers, expected) in attacks.items():
        answer = change_email(client, "attacker@evil.example", headers)
        assert (answer.status_code, answer.json()) == (403, expected), name
        assert "set-cookie" not in answer.headers, name  # the session is kept
    assert not exists(server.url, "attacker@evil.example")
    assert exists(server.url, "ada@example.com")

    # Sign-out and refresh by cookie are state changes too.
    evil = frontend_headers(origin="https://evil.example")
    assert client.post("/auth/signout", headers=evil).status_code == 403
    assert client.post("/auth/session/refresh", headers=evil).status_code == 403
    assert client.get("/sessioninfo").status_code == 200  # still signed in

    # The website's own frontend, as supertokens-web-js sends it: accepted.
    mine = change_email(client, "ada.new@example.com", frontend_headers())
    assert mine.json() == {"status": "OK"}, mine.text
    assert exists(server.url, "ada.new@example.com")
    # ...also same-origin (the API's own origin) and a non-browser client (no Origin,
    # no Sec-Fetch-Site), both with JSON.
    own = frontend_headers(origin=server.url, **{"sec-fetch-site": "same-origin"})
    assert change_email(client, "ada.own@example.com", own).json() == {"status": "OK"}
    plain = {"content-type": "application/json"}
    assert change_email(client, "ada.cli@example.com", plain).json() == {"status": "OK"}
    refreshed = client.post("/auth/session/refresh", headers=frontend_headers())
    assert refreshed.status_code == 200, refreshed.text
    assert client.post("/auth/signout", headers=frontend_headers()).json() == {"status": "OK"}


def test_header_mode_is_untouched(server: Server) -> None:
    """A bearer token cannot be attached by another page: no Origin, Sec-Fetch-Site or
    content-type rule applies (CORS decides what a foreign page may read)."""
    with httpx.Client(base_url=server.url) as client:
        signed_up = client.post(
            "/auth/signup", json=fields(email="bob@example.com", password=PASSWORD)
        )
        assert not client.cookies.get("sAccessToken")
        auth = {"authorization": f"Bearer {signed_up.headers['st-access-token']}"}
        odd = {
            **auth,
            "origin": "https://evil.example",
            "sec-fetch-site": "cross-site",
            "content-type": "text/plain",
        }
        changed = change_email(client, "bob.new@example.com", odd)
        assert changed.json() == {"status": "OK"}, changed.text
        refresh = {**odd, "authorization": f"Bearer {signed_up.headers['st-refresh-token']}"}
        assert client.post("/auth/session/refresh", headers=refresh).status_code == 200
