"""`doorkeep serve`: the standalone server, its health and demo routes, and
`--app module:attribute` serving an application's own configured instance."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
import pytest

from doorkeep import Doorkeep, Settings
from doorkeep.cli import listening_origin, load_instance
from doorkeep.config import set_listening_origin
from doorkeep.serve.server import create_app
from doorkeep.startup import StartupError
from doorkeep.testing import free_port, serve_in_thread, wait_until_answering

MY_APP = """
from doorkeep import Doorkeep, Settings
from doorkeep.core.emailpassword import EmailAlreadyExistsError
from doorkeep.recipes.emailpassword import EmailPasswordConfig


def no_sign_ups(original):
    async def sign_up(email, password, tenant_id, user_context):
        return EmailAlreadyExistsError()

    original.sign_up = sign_up
    return original


dk = Doorkeep(
    Settings(database_url="sqlite:///{db}"),
    emailpassword=EmailPasswordConfig(override_functions=no_sign_ups),
)
not_doorkeep = 42
"""


def test_app_option_serves_the_applications_own_instance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "my_auth.py").write_text(MY_APP.format(db=tmp_path / "app.sqlite3"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    dk = load_instance("my_auth:dk")
    assert isinstance(dk, Doorkeep)
    with serve_in_thread(create_app(dk)) as url, httpx.Client(base_url=url) as client:
        assert client.get("/hello").text == "Hello"
        body = {
            "formFields": [
                {"id": "email", "value": "a@example.com"},
                {"id": "password", "value": "correct horse battery"},
            ]
        }
        refused = client.post("/auth/signup", json=body).json()
        # The override of the configured instance applies: the FDI maps it to a field error.
        assert refused == {
            "status": "FIELD_ERROR",
            "formFields": [
                {"id": "email", "error": "This email already exists. Please sign in instead."}
            ],
        }
        assert "doorkeep is running" in client.get("/").text
        assert client.get("/sessioninfo").json() == {"message": "unauthorised"}
    for bad in ("my_auth", "my_auth:not_doorkeep", "my_auth:missing", "no_such_module:dk"):
        with pytest.raises(StartupError) as refused:
            load_instance(bad)
        assert refused.value.status in (1, 2) and "\n" not in str(refused.value)


def test_environment_configures_the_default_instance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOORKEEP_DATABASE_URL", f"sqlite:///{tmp_path}/env.sqlite3")
    monkeypatch.setenv("DOORKEEP_API_BASE_PATH", "/identity")
    monkeypatch.setenv("DOORKEEP_COOKIE_SAME_SITE", "strict")
    dk = load_instance(None)
    assert dk.settings.api_base_path == "/identity" and dk.settings.cookie_same_site == "strict"
    with serve_in_thread(create_app(dk)) as url, httpx.Client(base_url=url) as client:
        body = {
            "formFields": [
                {"id": "email", "value": "a@example.com"},
                {"id": "password", "value": "correct horse battery"},
            ]
        }
        signed_up = client.post("/identity/signup", json=body, headers={"st-auth-mode": "cookie"})
        assert signed_up.json()["status"] == "OK"
        assert all("SameSite=Strict" in c for c in signed_up.headers.get_list("set-cookie"))
        session = client.get("/sessioninfo")
        assert (
            session.status_code == 200
            and session.json()["userId"] == signed_up.json()["user"]["id"]
        )


def test_capital_none_same_site_sends_secure_cookies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 16: DOORKEEP_COOKIE_SAME_SITE=None sent `SameSite=None` without `Secure`.
    Mutant tried: no case folding in Settings -> the value is refused, not served."""
    monkeypatch.setenv("DOORKEEP_DATABASE_URL", f"sqlite:///{tmp_path}/none.sqlite3")
    monkeypatch.setenv("DOORKEEP_COOKIE_SAME_SITE", "None")
    with (
        serve_in_thread(create_app(load_instance(None))) as url,
        httpx.Client(base_url=url) as client,
    ):
        body = {
            "formFields": [
                {"id": "email", "value": "a@example.com"},
                {"id": "password", "value": "correct horse battery"},
            ]
        }
        signed_up = client.post("/auth/signup", json=body, headers={"st-auth-mode": "cookie"})
        cookies = signed_up.headers.get_list("set-cookie")
    assert cookies and all("SameSite=None" in c and "Secure" in c for c in cookies), cookies


def test_listening_origin() -> None:
    assert listening_origin("127.0.0.1", 18010) == "http://127.0.0.1:18010"
    assert listening_origin("0.0.0.0", 80) == "http://127.0.0.1:80"
    assert listening_origin("::1", 8000) == "http://[::1]:8000"
    try:
        set_listening_origin("http://127.0.0.1:18010")
        assert Settings().website_domain == "http://127.0.0.1:18010"
        explicit = Settings.from_env({"DOORKEEP_WEBSITE_DOMAIN": "https://app.example.com"})
        assert explicit.website_domain == "https://app.example.com"
        assert explicit.api_domain == "http://127.0.0.1:18010"
    finally:
        set_listening_origin(None)
    assert Settings().website_domain == "http://127.0.0.1:3567"


def test_serve_logs_json_and_links_point_where_it_listens(tmp_path: Path) -> None:
    """`doorkeep serve --port P --log-format json` as a process: every stderr line is a JSON
    object (doorkeep's, uvicorn's and the console email's record), the access log carries
    the request's ID, and the emailed link, printed to stdout (never in a log record: it
    carries a token), points at port P (it pointed at 3567)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOORKEEP_")}
    env["DOORKEEP_DATABASE_URL"] = f"sqlite:///{tmp_path}/links.sqlite3"
    log_path, out_path = tmp_path / "serve.log", tmp_path / "serve.out"
    command = [sys.executable, "-m", "doorkeep.cli", "serve", "--port", str(port)]
    with log_path.open("w") as log_file, out_path.open("w") as out_file:
        process = subprocess.Popen(
            [*command, "--log-format", "json"],
            env=env,
            stderr=log_file,
            stdout=out_file,
            cwd=tmp_path,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(f"{url}/health", "doorkeep serve")
        body = {
            "formFields": [
                {"id": "email", "value": "ada@example.com"},
                {"id": "password", "value": "correct horse battery"},
            ]
        }
        with httpx.Client(base_url=url) as client:
            assert client.post("/auth/signup", json=body).json()["status"] == "OK"
            reset = client.post(
                "/auth/user/password/reset/token",
                json={"formFields": body["formFields"][:1]},
                headers={"x-request-id": "reset-1"},
            )
            assert reset.json() == {"status": "OK"}
        email = wait_for_record(log_path, lambda r: r["logger"] == "doorkeep.email")
    finally:
        process.terminate()
        process.wait(30)
    assert f"http://127.0.0.1:{port}/auth/reset-password?token=" in out_path.read_text()
    assert "ada@example.com" in email["message"] and "token" not in email["message"]
    assert email["request_id"] == "reset-1"  # the email went out for that request
    records = [json.loads(line) for line in log_path.read_text().splitlines()]
    access = [r for r in records if r["logger"] == "uvicorn.access"]
    assert any("/auth/user/password/reset/token" in r["message"] for r in access)
    assert {r["request_id"] for r in access if "reset/token" in r["message"]} == {"reset-1"}
    assert any(r["message"] == f"doorkeep {version('doorkeep')} serving {url}" for r in records)


def wait_for_record(path: Path, wanted: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    for _ in range(300):  # the email goes out in the background
        for line in path.read_text().splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:  # a line still being written
                continue
            if wanted(record):
                return record
        time.sleep(0.1)
    raise AssertionError(f"no such record in {path.read_text()}")
