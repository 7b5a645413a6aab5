"""The account page shows the user's roles in their tenant, read only, as text (issue
19 item 6). Mutant tried: the template printing a role with `|safe`: the escaping
assertion fails."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx

from doorkeep import Doorkeep, Settings
from doorkeep.serve.server import create_app
from doorkeep.testing import free_port, serve_in_thread

PASSWORD = "analytical-engine-1843"
HOSTILE = "<script>alert(1)</script>"


def csrf_token(client: httpx.Client, path: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert found is not None
    return found.group(1)


def test_the_account_page_lists_the_users_roles(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/roles.sqlite3", api_domain=base, website_domain=base
    )

    async def grant(user_id: str) -> None:
        async with Doorkeep(settings) as dk:
            for role in ("editor", HOSTILE, "auditor"):
                await dk.userroles.create_new_role_or_add_permissions(role, [])
            await dk.userroles.add_role_to_user("public", user_id, "editor")
            await dk.userroles.add_role_to_user("public", user_id, HOSTILE)

    with (
        serve_in_thread(create_app(Doorkeep(settings)), port=port),
        httpx.Client(base_url=base, follow_redirects=True) as ada,
    ):
        form = {"csrf_token": csrf_token(ada, "/auth/register"), "email": "ada@example.com"}
        ada.post(
            "/auth/register", data={**form, "password": PASSWORD, "confirm_password": PASSWORD}
        )
        before = ada.get("/auth/account").text
        assert "Your account" in before and "Roles" not in before  # no roles, no row

        async def find() -> str:
            async with Doorkeep(settings) as dk:
                user = await dk.core.public.users.get_user_by_identifier(
                    "public", "ada@example.com"
                )
                assert user is not None
                return user.id

        user_id = asyncio.run(find())
        asyncio.run(grant(user_id))
        html = ada.get("/auth/account").text

    roles = html[html.index("<dt>Roles</dt>") : html.index("</dl>")]
    assert "editor" in roles and "auditor" not in roles  # hers only
    assert HOSTILE not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in roles
    assert "<form" not in roles  # read only
