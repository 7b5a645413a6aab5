"""`doorkeep serve`: the standalone server, its health and demo routes, and
`--app module:attribute` serving an application's own configured instance."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest

from doorkeep import Doorkeep
from doorkeep.cli import load_instance
from doorkeep.startup import StartupError
from doorkeep.testing import serve_in_thread
from doorkeep.web.server import create_app

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
