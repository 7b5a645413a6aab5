"""The Flask integration over real HTTP: gunicorn (2 workers x 4 threads, the app built
in the master with --preload, then forked) and, once, Werkzeug's dev server.

The frontend API answers inside the Flask app through the WSGI bridge; Flask views are
protected with `@verify_session()`; the session layer's headers reach the responses.

Mutants tried (in a worktree): a runtime made in init_app (before gunicorn forks) with
the after-fork reset removed made every protected request hang (read timeout); with the
reset kept, the same early runtime is replaced in each worker and the tests pass. An
after_request that adds nothing failed the header-mode, 401/403, revoke and CORS tests.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import reset_postgres, run_outside_loop
from tests.integrations.flask_fixtures import create_app, gunicorn, werkzeug_server

PASSWORD = "correct horse battery"


@dataclass
class Served:
    url: str
    database_url: str


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("flask") / "doorkeep.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        database_url = f"sqlite:///{path}"
    else:
        database_url = request.getfixturevalue("postgres_database")
        run_outside_loop(reset_postgres(database_url))
    environment = {"DOORKEEP_DATABASE_URL": database_url, "DOORKEEP_ANTI_CSRF": "VIA_TOKEN"}
    with gunicorn(environment) as (_process, url):
        yield Served(url, database_url)


def new_email() -> str:
    return f"user-{uuid.uuid4().hex[:12]}@example.com"


def fields(email: str, password: str = PASSWORD) -> dict[str, Any]:
    return {"formFields": [{"id": "email", "value": email}, {"id": "password", "value": password}]}


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def signed_up(url: str, email: str | None = None) -> httpx.Response:
    answer = httpx.post(f"{url}/auth/signup", json=fields(email or new_email()))
    assert answer.status_code == 200 and answer.json()["status"] == "OK", answer.text
    return answer


def test_header_mode_sign_up_in_refresh_and_out(served: Served) -> None:
    url = served.url
    email = new_email()
    created = signed_up(url, email)
    user_id = created.json()["user"]["id"]
    assert created.headers["front-token"] and created.headers["st-refresh-token"]

    signed_in = httpx.post(f"{url}/auth/signin", json=fields(email))
    assert signed_in.json()["status"] == "OK"
    access, refresh = signed_in.headers["st-access-token"], signed_in.headers["st-refresh-token"]
    mine = httpx.get(f"{url}/protected", headers=bearer(access))
    assert mine.status_code == 200 and mine.json()["userId"] == user_id

    refreshed = httpx.post(f"{url}/auth/session/refresh", headers=bearer(refresh))
    assert refreshed.status_code == 200, refreshed.text
    new_access = refreshed.headers["st-access-token"]
    assert new_access != access
    # The refreshed token's first use replaces it: the Flask view's response carries the
    # token the session layer queued (applied by the extension's after_request).
    first_use = httpx.get(f"{url}/protected", headers=bearer(new_access))
    assert first_use.status_code == 200 and first_use.json()["userId"] == user_id
    promoted = first_use.headers["st-access-token"]
    assert promoted and promoted != new_access and first_use.headers["front-token"]

    out = httpx.post(f"{url}/auth/signout", headers=bearer(promoted))
    assert out.status_code == 200 and out.json() == {"status": "OK"}
    gone = httpx.get(f"{url}/db-checked", headers=bearer(promoted))
    assert gone.status_code == 401 and gone.json() == {"message": "unauthorised"}
    # The session is gone: the answer tells a header-mode client to drop its tokens.
    assert gone.headers["front-token"] == "remove" and gone.headers["st-access-token"] == ""
    again = httpx.post(
        f"{url}/auth/session/refresh", headers=bearer(refreshed.headers["st-refresh-token"])
    )
    assert again.status_code == 401


def cookie_client(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"st-auth-mode": "cookie"})


def test_cookie_mode_with_anti_csrf_tokens(served: Served) -> None:
    """VIA_TOKEN: a cookie-mode request that changes something needs the anti-csrf header.
    Mutant tried: passing anti_csrf_check=False to get_session let the tokenless POST
    through (200)."""
    email = new_email()
    signed_up(served.url, email)
    with cookie_client(served.url) as browser:
        signed_in = browser.post("/auth/signin", json=fields(email))
        assert signed_in.json()["status"] == "OK"
        assert browser.cookies.get("sAccessToken") and browser.cookies.get("sRefreshToken")
        csrf = {"anti-csrf": signed_in.headers["anti-csrf"]}

        assert browser.get("/protected").status_code == 200  # safe method: no check
        refused = browser.post("/protected")
        assert refused.status_code == 401 and refused.json() == {"message": "try refresh token"}
        assert browser.post("/protected", headers={"anti-csrf": "forged"}).status_code == 401
        assert browser.post("/protected", headers=csrf).status_code == 200
        assert browser.post("/no-csrf-check").status_code == 200  # the view opted out
        # The frontend API (through the bridge) checks the same way.
        assert browser.post("/auth/signout").status_code == 401

        old_access = browser.cookies.get("sAccessToken")
        refreshed = browser.post("/auth/session/refresh")
        assert refreshed.status_code == 200, refreshed.text
        assert browser.cookies.get("sAccessToken") != old_access
        csrf = {"anti-csrf": refreshed.headers["anti-csrf"]}
        assert browser.post("/protected", headers=csrf).status_code == 200

        out = browser.post("/auth/signout", headers=csrf)
        assert out.status_code == 200
        assert browser.cookies.get("sAccessToken") is None  # cleared by Max-Age=0
        assert browser.get("/protected").status_code == 401


def test_protected_routes_answer_401_and_403(served: Served) -> None:
    url = served.url
    missing = httpx.get(f"{url}/protected")
    assert missing.status_code == 401 and missing.json() == {"message": "unauthorised"}
    assert "front-token" not in missing.headers  # nothing to clear: no session was sent
    forged = httpx.get(f"{url}/protected", headers=bearer("not.a.token"))
    assert forged.status_code == 401 and forged.json() == {"message": "try refresh token"}
    assert httpx.get(f"{url}/optional").json() == {"userId": None}

    created = signed_up(url)
    user_id = created.json()["user"]["id"]
    auth = bearer(created.headers["st-access-token"])
    assert httpx.get(f"{url}/optional", headers=auth).json() == {"userId": user_id}

    unverified = httpx.get(f"{url}/verified", headers=auth)
    assert unverified.status_code == 403
    assert unverified.json()["message"] == "invalid claim"
    assert unverified.json()["claimValidationErrors"][0]["id"] == "st-ev"

    # The claim-validator hook: refused until the access token says admin.
    refused = httpx.get(f"{url}/admin", headers=auth)
    assert refused.status_code == 403
    assert refused.json() == {
        "message": "invalid claim",
        "claimValidationErrors": [
            {"id": "role", "reason": {"message": "wrong value", "expectedValue": "admin"}}
        ],
    }
    changed = httpx.post(f"{url}/payload", json={"role": "admin"}, headers=auth)
    assert changed.json()["payload"]["role"] == "admin"
    admin_token = changed.headers["st-access-token"]  # the new token, queued by the view
    assert httpx.get(f"{url}/admin", headers=bearer(admin_token)).status_code == 200


def test_session_data_revoke_and_cleared_cookies(served: Served) -> None:
    email = new_email()
    signed_up(served.url, email)
    with cookie_client(served.url) as browser:
        signed_in = browser.post("/auth/signin", json=fields(email))
        csrf = {"anti-csrf": signed_in.headers["anti-csrf"]}
        stored = browser.post("/session-data", json={"theme": "dark"}, headers=csrf)
        assert stored.json() == {"data": {"theme": "dark"}}
        access = browser.cookies.get("sAccessToken")

        revoked = browser.post("/revoke", headers=csrf)
        assert revoked.json() == {"status": "OK"} and revoked.headers["front-token"] == "remove"
        cleared = revoked.headers.get_list("set-cookie")
        assert any(c.startswith("sAccessToken=;") and "Max-Age=0" in c for c in cleared)
        assert browser.cookies.get("sAccessToken") is None

    # The revoked token, replayed: a database-checked route refuses it and clears cookies.
    replay = httpx.get(f"{served.url}/db-checked", cookies={"sAccessToken": access or ""})
    assert replay.status_code == 401 and replay.json() == {"message": "unauthorised"}
    assert any(c.startswith("sAccessToken=;") for c in replay.headers.get_list("set-cookie"))


def test_the_synchronous_api_inside_a_view(served: Served) -> None:
    created = signed_up(served.url)
    auth = bearer(created.headers["st-access-token"])
    right = httpx.post(f"{served.url}/check-password", json={"password": PASSWORD}, headers=auth)
    assert right.json() == {"status": "OK"}
    wrong = httpx.post(f"{served.url}/check-password", json={"password": "nope"}, headers=auth)
    assert wrong.json() == {"status": "WRONG_CREDENTIALS_ERROR"}


def test_cors_for_the_website_on_every_route(served: Served) -> None:
    url = served.url
    website = {"origin": url}
    for path in ("/plain", "/protected"):
        answer = httpx.get(url + path, headers=website)
        assert answer.headers["access-control-allow-origin"] == url
        assert answer.headers["access-control-allow-credentials"] == "true"
    stranger = httpx.get(f"{url}/plain", headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in stranger.headers
    for path in ("/protected", "/auth/signin"):
        preflight = httpx.options(
            url + path, headers={**website, "access-control-request-method": "POST"}
        )
        assert preflight.status_code == 204
        assert "anti-csrf" in preflight.headers["access-control-allow-headers"]


def test_concurrent_requests_across_threads_and_workers(served: Served) -> None:
    users = [signed_up(served.url) for _ in range(6)]
    expected = {u.headers["st-access-token"]: u.json()["user"]["id"] for u in users}

    client = no_keepalive()

    def call(i: int) -> tuple[int, str, int]:
        token = list(expected)[i % len(expected)]
        answer = client.get(f"{served.url}/protected", headers=bearer(token))
        assert answer.json()["userId"] == expected[token], answer.text
        return answer.status_code, token, answer.json()["pid"]

    def sign_in(i: int) -> str:
        email = users[i % len(users)].json()["user"]["emails"][0]
        return str(client.post(f"{served.url}/auth/signin", json=fields(email)).json()["status"])

    with ThreadPoolExecutor(16) as pool, client:
        signins = pool.map(sign_in, range(12))
        results = list(pool.map(call, range(240)))
        assert list(signins) == ["OK"] * 12
    assert {status for status, _, _ in results} == {200}
    assert len({pid for _, _, pid in results}) == 2, "both workers served requests"


def no_keepalive() -> httpx.Client:
    """A client (thread-safe) that opens a new connection for each request, so that both
    workers' accept loops get requests; one client, as creating one is not cheap."""
    return httpx.Client(limits=httpx.Limits(max_keepalive_connections=0))


def census(url: str) -> dict[int, dict[str, Any]]:
    """The runtime of each worker, asked until both have answered (new connections)."""
    found: dict[int, dict[str, Any]] = {}
    with no_keepalive() as client:
        answers = (client.get(f"{url}/debug/runtime").json() for _ in range(300))
        for answer in answers:
            found.setdefault(answer["pid"], answer)
            if len(found) == 2:
                return found
    raise AssertionError(f"only workers {sorted(found)} answered")


def test_no_thread_or_event_loop_leak_over_1000_requests(served: Served) -> None:
    """Each worker keeps one loop on one thread, whatever it serves. Mutant tried: a
    new ProcessRuntime per request (threads and loops grew by hundreds)."""
    created = signed_up(served.url)
    token = created.headers["st-access-token"]
    paths = ["/protected"] * 7 + ["/db-checked"] * 2 + ["/auth/jwt/jwks.json"]

    client = no_keepalive()

    def call(i: int) -> int:
        return client.get(served.url + paths[i % len(paths)], headers=bearer(token)).status_code

    def load(count: int) -> None:
        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(call, range(count))) == {200}

    with client:
        load(200)  # warm-up: every pool the requests use reaches its working size
        before = census(served.url)
        load(1000)
        after = census(served.url)
    assert sorted(after) == sorted(before), "the same two workers"
    for pid, now in after.items():
        then = before[pid]
        assert now["loops"] == 1 and now["loop_threads"] == 1, now
        assert now["loop_thread_id"] == then["loop_thread_id"]
        assert now["threads"] == then["threads"], (then["thread_names"], now["thread_names"])
        assert now["os_threads"] == then["os_threads"]


def test_werkzeug_dev_server_with_settings_from_app_config(
    tmp_path: Path, sqlite_template: Path
) -> None:
    """Flask's own server, settings as typed app.config values; nothing starts before a
    view needs doorkeep."""
    path = tmp_path / "doorkeep.sqlite3"
    shutil.copy(sqlite_template, path)
    app = create_app(
        {
            "DOORKEEP_DATABASE_URL": f"sqlite:///{path}",
            "DOORKEEP_RATE_LIMITS_ENABLED": False,
            "DOORKEEP_ANTI_CSRF": "VIA_CUSTOM_HEADER",
        }
    )
    ext = app.extensions["doorkeep"]
    assert ext.settings.rate_limits_enabled is False
    try:
        with werkzeug_server(app) as url, cookie_client(url) as browser:
            assert browser.get("/plain").status_code == 200
            assert not ext._lazy.created  # an app route that needs no doorkeep started none
            email = new_email()
            assert browser.post("/auth/signup", json=fields(email)).json()["status"] == "OK"
            assert ext._lazy.created
            refused = browser.post("/protected")
            assert refused.status_code == 401 and refused.json() == {"message": "try refresh token"}
            assert browser.post("/protected", headers={"rid": "session"}).status_code == 200
    finally:
        ext.close()


def test_a_lost_database_is_a_503_then_recovers(postgres_database: str) -> None:
    """check_database=True with PostgreSQL's port closed: 503 with retry-after, as the
    Starlette middleware answers, not a 500; the next request after it is back passes.
    Mutant tried: without the decorator's is_unavailable branch the view answered 500."""
    from sqlalchemy.engine import make_url

    from doorkeep.testing import TcpProxy

    run_outside_loop(reset_postgres(postgres_database))
    target = make_url(postgres_database)
    proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432).start()
    via_proxy = target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    app = create_app({"DOORKEEP_DATABASE_URL": via_proxy, "DOORKEEP_RATE_LIMITS_ENABLED": False})
    try:
        with werkzeug_server(app) as url, httpx.Client(base_url=url) as client:
            auth = bearer(signed_up(url).headers["st-access-token"])
            assert client.get("/db-checked", headers=auth).status_code == 200
            proxy.cut()
            for _ in range(2):  # the pooled connection, then a new one: both refused
                lost = client.get("/db-checked", headers=auth)
                assert lost.status_code == 503, lost.text
                assert lost.headers["retry-after"] == "1"
            proxy.start()
            answers = [client.get("/db-checked", headers=auth).status_code for _ in range(3)]
            assert answers[-1] == 200, answers
    finally:
        app.extensions["doorkeep"].close()
        proxy.close()
