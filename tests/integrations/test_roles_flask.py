"""A Flask view that requires a role: Flask's `@verify_session(claims=[...])` takes the
same validators as FastAPI and Starlette and answers SuperTokens' 403 without the role,
200 with it (Werkzeug's server, real HTTP, a SQLite file)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import httpx
from flask import Flask, jsonify
from flask.typing import ResponseReturnValue

from doorkeep import Doorkeep as Core
from doorkeep import Settings
from doorkeep.integrations.flask import Doorkeep, verify_session
from doorkeep.recipes.userroles import UserRoleClaim
from tests.integrations.flask_fixtures import werkzeug_server

PASSWORD = "correct horse battery"


def test_a_flask_view_requires_a_role(tmp_path: Path, sqlite_template: Path) -> None:
    path = tmp_path / "doorkeep.sqlite3"
    shutil.copy(sqlite_template, path)
    database_url = f"sqlite:///{path}"
    app = Flask(__name__)
    app.config.update({"DOORKEEP_DATABASE_URL": database_url})
    ext = Doorkeep(app)

    @app.route("/admin")
    @verify_session(claims=[UserRoleClaim.includes("admin")])
    def admin() -> ResponseReturnValue:
        return jsonify({"ok": True})

    async def grant(user_id: str) -> None:
        async with Core(Settings(database_url=database_url)) as dk:
            await dk.userroles.create_new_role_or_add_permissions("admin", [])
            await dk.userroles.add_role_to_user("public", user_id, "admin")

    form = {"formFields": [{"id": "email", "value": "ada@example.com"}]}
    form["formFields"].append({"id": "password", "value": PASSWORD})
    try:
        with werkzeug_server(app) as url:
            signed_up = httpx.post(f"{url}/auth/signup", json=form)
            bearer = {"authorization": f"Bearer {signed_up.headers['st-access-token']}"}
            refused = httpx.get(f"{url}/admin", headers=bearer)
            assert refused.status_code == 403
            assert refused.json() == {
                "message": "invalid claim",
                "claimValidationErrors": [
                    {
                        "id": "st-role",
                        "reason": {
                            "message": "wrong value",
                            "expectedToInclude": "admin",
                            "actualValue": [],
                        },
                    }
                ],
            }
            asyncio.run(grant(signed_up.json()["user"]["id"]))
            signed_in = httpx.post(f"{url}/auth/signin", json=form)
            bearer = {"authorization": f"Bearer {signed_in.headers['st-access-token']}"}
            assert httpx.get(f"{url}/admin", headers=bearer).status_code == 200
    finally:
        ext.close()
