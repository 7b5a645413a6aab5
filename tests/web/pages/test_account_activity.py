"""The account page lists the user's recent security activity from the audit trail:
sign-ins with the device (user agent) and address they came from, failed ones, and
password changes; a hostile user agent is shown as text. Mutant tried: the page's
template printing the user agent with `|safe`: the escaping assertion fails."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx

from doorkeep import Doorkeep, Settings
from doorkeep.serve.server import create_app
from doorkeep.testing import free_port, serve_in_thread

PASSWORD = "analytical-engine-1843"
DEVICE = "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"
HOSTILE = "<script>alert(1)</script>"


def csrf_token(client: httpx.Client, path: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert found is not None
    return found.group(1)


def log_in(client: httpx.Client, password: str) -> httpx.Response:
    form = {"csrf_token": csrf_token(client, "/auth/login"), "email": "ada@example.com"}
    return client.post("/auth/login", data={**form, "password": password})


def account_page_with(client: httpx.Client, *needles: str) -> str:
    """The account page once it shows every needle (the trail is written right after
    the events, by a background writer)."""
    deadline = time.monotonic() + 10
    while True:
        html = client.get("/auth/account").text
        if all(needle in html for needle in needles) or time.monotonic() > deadline:
            return html
        time.sleep(0.05)


def test_the_account_page_lists_recent_security_activity(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/activity.sqlite3", api_domain=base, website_domain=base
    )
    with serve_in_thread(create_app(Doorkeep(settings)), port=port):
        with httpx.Client(base_url=base, headers={"user-agent": HOSTILE}) as attacker:
            token = csrf_token(attacker, "/auth/register")
            form = {"csrf_token": token, "email": "ada@example.com"}
            registered = attacker.post(
                "/auth/register",
                data={**form, "password": PASSWORD, "confirm_password": PASSWORD},
            )
            assert registered.status_code in (200, 303)
            attacker.cookies.clear()
            log_in(attacker, "not-her-password-1")
        with httpx.Client(base_url=base, headers={"user-agent": DEVICE}) as ada:
            assert log_in(ada, PASSWORD).status_code in (200, 303)
            html = account_page_with(ada, "Recent security activity", "Wrong password", DEVICE)

    activity = html[html.index("Recent security activity") :]
    assert "Signed in" in activity and "from 127.0.0.1" in activity
    assert DEVICE in activity  # the device of the sign-in
    assert "Wrong password" in activity and "Account created" in activity
    assert HOSTILE not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in activity
    newest_first = [activity.index(what) for what in ("Signed in", "Wrong password")]
    assert newest_first == sorted(newest_first)
