"""Issue 16, row 5: a request that came through a reverse proxy never reaches the core
API (CDI) without a key.

Without DOORKEEP_CORE_API_KEYS the CDI used to trust every loopback peer. A reverse proxy
on the same host is a loopback peer, and nginx's default `proxy_pass` adds no header that
says so: every Internet request could create a session for any user. Now:

- a keyless CDI trusts a loopback peer only when the request carries no proxy header
  (Forwarded, X-Forwarded-*, X-Real-IP, Via, ...);
- `doorkeep serve` never serves the keyless CDI on the port of the frontend API (the port
  a proxy fronts): without keys the CDI answers there only with a 401 that says what to
  do, and `--core-port` serves it alone on a loopback listener nobody proxies;
- `--core-host` other than loopback without keys is refused at start-up.

The header-free proxy is a real TCP relay (doorkeep.testing.TcpProxy): bytes in, bytes
out, exactly what nginx's default `proxy_pass` looks like to doorkeep.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from doorkeep import Doorkeep, Settings
from doorkeep.serve.server import create_app
from doorkeep.testing import TcpProxy, free_port, wait_until_answering

PASSWORD = "correct horse battery"
NEW_SESSION = {
    "userDataInJWT": {},
    "userDataInDatabase": {},
    "enableAntiCsrf": False,
    "useDynamicSigningKey": True,
}
PROXY_HEADERS = [
    {"forwarded": "for=203.0.113.9;proto=https"},
    {"x-forwarded-for": "127.0.0.1"},  # a spoofed or passed-through value
    {"x-forwarded-host": "auth.example.com"},
    {"x-forwarded-proto": "https"},
    {"x-real-ip": "203.0.113.9"},
    {"via": "1.1 proxy"},
]


@pytest.fixture
async def keyless(database_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, Doorkeep]]:
    dk = Doorkeep(Settings(database_url=database_url))
    transport = httpx.ASGITransport(app=create_app(dk), client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        yield http, dk
    await dk.close()


@pytest.mark.parametrize("headers", PROXY_HEADERS, ids=lambda h: next(iter(h)))
async def test_a_loopback_request_with_proxy_headers_is_not_trusted(
    keyless: tuple[httpx.AsyncClient, Doorkeep], headers: dict[str, str]
) -> None:
    """fails on main: each of these created a session for the user (200 OK).
    Mutant tried: `came_through_a_proxy` returning False -> 200 and this test fails."""
    http, dk = keyless
    user = await http.post(
        "/recipe/signup", json={"email": "ada@example.com", "password": PASSWORD}
    )
    user_id = user.json()["user"]["id"]
    refused = await http.post(
        "/recipe/session", json={"userId": user_id, **NEW_SESSION}, headers=headers
    )
    assert refused.status_code == 401
    assert "DOORKEEP_CORE_API_KEYS" in refused.text
    assert await dk.session.get_all_session_handles_for_user(user_id) == []
    # A direct loopback caller (a backend SDK on this machine) is still served.
    direct = await http.post("/recipe/session", json={"userId": user_id, **NEW_SESSION})
    assert direct.json()["status"] == "OK"


@contextmanager
def doorkeep_serve(
    database_url: str, *options: str, rate_limits: bool = False
) -> Iterator[subprocess.Popen[bytes]]:
    """`doorkeep serve` as its own process, with the options given."""
    env = {
        **os.environ,
        "DOORKEEP_DATABASE_URL": database_url,
        "DOORKEEP_RATE_LIMITS_ENABLED": "true" if rate_limits else "false",
    }
    env.pop("DOORKEEP_CORE_API_KEYS", None)
    env.pop("FORWARDED_ALLOW_IPS", None)
    command = [sys.executable, "-m", "doorkeep.cli", "serve", "--log-level", "warning", *options]
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        assert process.stderr is not None
        process.stderr.close()


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "doorkeep.sqlite3"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


def sign_up(http: httpx.Client) -> httpx.Response:
    form = [{"id": "email", "value": "ada@example.com"}, {"id": "password", "value": PASSWORD}]
    return http.post("/auth/signup", json={"formFields": form})


def test_through_a_header_free_proxy_the_core_api_needs_a_key(sqlite_url: str) -> None:
    """`doorkeep serve` without keys, fronted by a same-host proxy that adds nothing.
    fails on main: through the relay, POST /recipe/session created a session (200).
    Mutant tried: `create_app(dk)` in cli._serve (the shared CDI trusting loopback
    peers again) -> 200 through the relay and this test fails."""
    port = free_port()
    with doorkeep_serve(sqlite_url, "--port", str(port)):
        wait_until_answering(f"http://127.0.0.1:{port}/hello", "doorkeep serve")
        proxy = TcpProxy("127.0.0.1", port).start()
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{proxy.port}") as internet:
                signed_up = sign_up(internet)  # the FDI works through the proxy
                assert signed_up.json()["status"] == "OK"
                user_id = signed_up.json()["user"]["id"]
                hijack = internet.post("/recipe/session", json={"userId": user_id, **NEW_SESSION})
                assert hijack.status_code == 401
                assert "--core-port" in hijack.text and "DOORKEEP_CORE_API_KEYS" in hijack.text
                assert internet.get("/users").status_code == 401
        finally:
            proxy.close()


def test_core_port_serves_the_keyless_core_api_alone_on_loopback(sqlite_url: str) -> None:
    """fails on main: `--core-port` was not an option (exit status 2)."""
    port, core_port = free_port(), free_port()
    with doorkeep_serve(sqlite_url, "--port", str(port), "--core-port", str(core_port)):
        wait_until_answering(f"http://127.0.0.1:{port}/hello", "doorkeep serve")
        with (
            httpx.Client(base_url=f"http://127.0.0.1:{port}") as public,
            httpx.Client(base_url=f"http://127.0.0.1:{core_port}") as core,
        ):
            user_id = sign_up(public).json()["user"]["id"]
            # The core listener: the CDI, keyless for this machine's SDKs ...
            created = core.post("/recipe/session", json={"userId": user_id, **NEW_SESSION})
            assert created.json()["status"] == "OK"
            assert core.get("/users/count").json() == {"status": "OK", "count": 1}
            # ... and nothing else: the FDI and pages are not on it.
            assert core.post("/auth/signin", json={}).status_code == 404
            # The public listener has no CDI at all.
            hijack = public.post("/recipe/session", json={"userId": user_id, **NEW_SESSION})
            assert hijack.status_code == 404
            # Through a proxy in front of the core port, headers still count.
            proxied = core.get("/users/count", headers={"x-forwarded-for": "203.0.113.9"})
            assert proxied.status_code == 401


@pytest.mark.parametrize(
    ("core_options", "message"),
    [
        (("--core-host", "0.0.0.0"), "loopback"),
        (("--core-host", "::"), "loopback"),
        (("--core-port", "{port}"), "--core-port"),
    ],
)
def test_serve_refuses_a_keyless_core_api_on_a_network_address(
    sqlite_url: str, core_options: tuple[str, str], message: str
) -> None:
    """A core API without keys on a non-loopback address, or on the frontend API's own
    port, is a usage error: one line, exit status 2, nothing served.
    fails on main: `--core-host`/`--core-port` were not options (a usage error too, but
    not this one: the message is checked)."""
    port = free_port()
    name, value = core_options
    options = ["--port", str(port), "--core-port", str(free_port())]
    options += [name, value.format(port=port)]
    with doorkeep_serve(sqlite_url, *options) as process:
        assert process.wait(30) == 2
        assert process.stderr is not None
        lines = process.stderr.read().decode().strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines


def test_client_ip_comes_from_the_proxies_uvicorn_trusts(sqlite_url: str) -> None:
    """Per-IP limits behind a proxy: with `--forwarded-allow-ips` naming the proxy, each
    X-Forwarded-For client has its own bucket; naming another address, the header is
    not believed and every client shares the proxy's bucket.
    fails on main: `--forwarded-allow-ips` was not an option."""
    for allowed, separate in (("127.0.0.1", True), ("192.0.2.1", False)):
        port = free_port()
        options = ("--port", str(port), "--forwarded-allow-ips", allowed)
        with doorkeep_serve(sqlite_url, *options, rate_limits=True) as process:
            wait_until_answering(f"http://127.0.0.1:{port}/hello", "doorkeep serve")
            with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
                http.get("/hello")
                answers = [
                    http.get(
                        "/auth/emailpassword/email/exists",
                        params={"email": f"u{i}@example.com"},
                        headers={"x-forwarded-for": "198.51.100.1"},
                    ).status_code
                    for i in range(31)
                ]
                assert answers[:30] == [200] * 30 and answers[30] == 429
                other = http.get(
                    "/auth/emailpassword/email/exists",
                    params={"email": "v@example.com"},
                    headers={"x-forwarded-for": "198.51.100.2"},
                )
                assert (other.status_code == 200) is separate, allowed
            process.kill()
