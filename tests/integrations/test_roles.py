"""Routes that require a role or a permission, over real HTTP: FastAPI's
`Depends(verify_session(claims=...))`, `session_of(request, claims=...)` and Starlette's
`@requires_session(claims=...)` answer 403 with SuperTokens' claim-error body without
the role and 200 with it; a role taken away stops passing on the user's other session
once that session refreshes, or at once where the route checks the database."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Request
from sqlalchemy import event
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from doorkeep import Doorkeep, Settings
from doorkeep.core.roles import RoleService
from doorkeep.integrations.fastapi import Session, install, session_of, verify_session
from doorkeep.integrations.starlette import requires_session
from doorkeep.recipes.userroles import PermissionClaim, UserRoleClaim, UserRolesConfig
from doorkeep.testing import serve_in_thread

PASSWORD = "correct horse battery"
ADMIN = UserRoleClaim.includes("admin")
PUBLISHER = [
    UserRoleClaim.includes_any(["admin", "editor"]),
    PermissionClaim.includes_all(["write", "publish"]),
    UserRoleClaim.excludes("banned"),
]


def fastapi_app(dk: Doorkeep) -> FastAPI:
    app = FastAPI()
    install(app, dk)

    @app.get("/admin")
    async def admin(session: Session = Depends(verify_session(claims=[ADMIN]))) -> dict[str, Any]:
        return {"user_id": session.user_id}

    @app.get("/admin-direct")
    async def admin_direct(request: Request) -> dict[str, Any]:
        session = await session_of(request, claims=[ADMIN])
        assert session is not None
        return {"user_id": session.user_id}

    @app.get("/admin-now")
    async def admin_now(
        session: Session = Depends(verify_session(check_database=True, claims=[ADMIN])),
    ) -> dict[str, Any]:
        return {"user_id": session.user_id}

    @app.get("/publisher")
    async def publisher(
        session: Session = Depends(verify_session(claims=PUBLISHER)),
    ) -> dict[str, Any]:
        return {"user_id": session.user_id}

    @app.get("/plain")
    async def plain(session: Session = Depends(verify_session())) -> dict[str, Any]:
        return {"user_id": session.user_id}

    return app


def starlette_app(dk: Doorkeep) -> Starlette:
    @requires_session(claims=[ADMIN])
    async def admin(request: Request) -> JSONResponse:
        return JSONResponse({"user_id": request.state.session.user_id})

    app = Starlette(routes=[Route("/admin", admin)])
    install(app, dk)
    return app


@dataclass
class Stack:
    fastapi: str
    starlette: str
    settings: Settings
    statements: list[str]  # SQL the FastAPI app's doorkeep ran, in order

    def about_sessions_or_roles(self) -> list[str]:
        """The statements a request's check could make (background workers, such as the
        webhook poller, run their own SQL on the same engine meanwhile)."""
        tables = re.compile(r"\b(sessions|user_roles|role_permissions|userid_mappings)\b")
        return [sql for sql in self.statements if tables.search(sql)]

    def admin(self, work: Callable[[RoleService], Awaitable[Any]]) -> Any:
        """Change roles with doorkeep's own API on the same database."""

        async def run() -> Any:
            async with Doorkeep(self.settings) as dk:
                return await work(dk.core.public.roles)

        return asyncio.run(run())


@pytest.fixture
def stack(database_url: str) -> Iterator[Stack]:
    settings = Settings(database_url=database_url)
    fast = Doorkeep(settings, userroles=UserRolesConfig())
    statements: list[str] = []
    engines = [fast.core.db.engine.sync_engine]
    unit_engine = getattr(fast.core.db, "_unit_engine", None)  # SQLite's unit-of-work engine
    if unit_engine is not None:
        engines.append(unit_engine)
    for engine in engines:
        event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with (
        serve_in_thread(fastapi_app(fast)) as fast_url,
        serve_in_thread(starlette_app(Doorkeep(settings, userroles=UserRolesConfig()))) as plain,
    ):
        yield Stack(fast_url, plain, settings, statements)


def sign_up(url: str, email: str) -> tuple[str, dict[str, str]]:
    form = {"formFields": [{"id": "email", "value": email}, {"id": "password", "value": PASSWORD}]}
    answer = httpx.post(f"{url}/auth/signup", json=form, headers={"st-auth-mode": "header"})
    assert answer.status_code == 200 and answer.json()["status"] == "OK", answer.text
    return answer.json()["user"]["id"], dict(answer.headers)


def sign_in(url: str, email: str) -> dict[str, str]:
    form = {"formFields": [{"id": "email", "value": email}, {"id": "password", "value": PASSWORD}]}
    answer = httpx.post(f"{url}/auth/signin", json=form, headers={"st-auth-mode": "header"})
    assert answer.json()["status"] == "OK"
    return dict(answer.headers)


def bearer(headers: dict[str, str]) -> dict[str, str]:
    return {"authorization": f"Bearer {headers['st-access-token']}"}


def refreshed(url: str, headers: dict[str, str]) -> dict[str, str]:
    answer = httpx.post(
        f"{url}/auth/session/refresh",
        headers={"authorization": f"Bearer {headers['st-refresh-token']}"},
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.headers)


def payload_of(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    loaded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return loaded


def lacks(claim: str, key: str, expected: Any, actual: list[str]) -> dict[str, Any]:
    return {"id": claim, "reason": {"message": "wrong value", key: expected, "actualValue": actual}}


@pytest.mark.parametrize(
    ("face", "path"), [("fastapi", "/admin"), ("fastapi", "/admin-direct"), ("starlette", "/admin")]
)
def test_a_role_route_refuses_without_the_role_and_passes_with_it(
    stack: Stack, face: str, path: str
) -> None:
    """Mutant tried: `ArrayClaimValidator._holds` returning True lets the first
    request through (200 instead of 403)."""
    url = stack.fastapi if face == "fastapi" else stack.starlette
    user_id, tokens = sign_up(url, "ada@example.com")
    assert payload_of(tokens["st-access-token"])["st-role"]["v"] == []

    refused = httpx.get(url + path, headers=bearer(tokens))
    assert refused.status_code == 403
    assert refused.json() == {
        "message": "invalid claim",
        "claimValidationErrors": [lacks("st-role", "expectedToInclude", "admin", [])],
    }

    stack.admin(lambda roles: roles.create_role_or_add_permissions("admin", []))
    stack.admin(lambda roles: roles.add_role_to_user("public", user_id, "admin"))
    signed_in = sign_in(url, "ada@example.com")
    assert payload_of(signed_in["st-access-token"])["st-role"]["v"] == ["admin"]
    allowed = httpx.get(url + path, headers=bearer(signed_in))
    assert allowed.status_code == 200 and allowed.json() == {"user_id": user_id}


def test_every_failed_requirement_is_listed(stack: Stack) -> None:
    user_id, _ = sign_up(stack.fastapi, "grace@example.com")
    stack.admin(lambda roles: roles.create_role_or_add_permissions("editor", ["write"]))
    stack.admin(lambda roles: roles.create_role_or_add_permissions("banned", []))
    stack.admin(lambda roles: roles.add_role_to_user("public", user_id, "editor"))
    stack.admin(lambda roles: roles.add_role_to_user("public", user_id, "banned"))
    tokens = sign_in(stack.fastapi, "grace@example.com")
    refused = httpx.get(f"{stack.fastapi}/publisher", headers=bearer(tokens))
    assert refused.status_code == 403
    assert refused.json() == {
        "message": "invalid claim",
        "claimValidationErrors": [
            lacks("st-perm", "expectedToInclude", ["write", "publish"], ["write"]),
            lacks("st-role", "expectedToNotInclude", "banned", ["banned", "editor"]),
        ],
    }
    stack.admin(lambda roles: roles.create_role_or_add_permissions("editor", ["publish"]))
    stack.admin(lambda roles: roles.remove_user_role("public", user_id, "banned"))
    again = sign_in(stack.fastapi, "grace@example.com")
    assert httpx.get(f"{stack.fastapi}/publisher", headers=bearer(again)).status_code == 200


def test_a_removed_role_stops_passing_after_the_other_sessions_refresh(stack: Stack) -> None:
    """Mutant tried: `SessionFunctions._claim_values` returning None (claims not valued
    again on refresh) keeps the refreshed session passing."""
    url = stack.fastapi
    user_id, _ = sign_up(url, "hopper@example.com")
    stack.admin(lambda roles: roles.create_role_or_add_permissions("admin", []))
    stack.admin(lambda roles: roles.add_role_to_user("public", user_id, "admin"))
    laptop, phone = sign_in(url, "hopper@example.com"), sign_in(url, "hopper@example.com")
    for device in (laptop, phone):
        assert httpx.get(f"{url}/admin", headers=bearer(device)).status_code == 200

    stack.admin(lambda roles: roles.remove_user_role("public", user_id, "admin"))
    # The phone's token still says admin: the check reads the token, not the database.
    assert httpx.get(f"{url}/admin", headers=bearer(phone)).status_code == 200
    phone = refreshed(url, phone)
    assert payload_of(phone["st-access-token"])["st-role"]["v"] == []
    after = httpx.get(f"{url}/admin", headers=bearer(phone))
    assert after.status_code == 403
    assert after.json()["claimValidationErrors"] == [
        lacks("st-role", "expectedToInclude", "admin", [])
    ]

    # A route that checks the database refuses the laptop at once, and sends it a token
    # with the user's current roles (so the ordinary route refuses it too from now on).
    now = httpx.get(f"{url}/admin-now", headers=bearer(laptop))
    assert now.status_code == 403
    fresh = now.headers["st-access-token"]
    assert payload_of(fresh)["st-role"]["v"] == []
    assert httpx.get(f"{url}/admin", headers=bearer({"st-access-token": fresh})).status_code == 403


def test_the_role_check_reads_the_token_only(stack: Stack) -> None:
    """No SQL between a role route's requests once the session has its claim (mutant
    tried: `should_refetch` returning True makes every request read the roles)."""
    url = stack.fastapi
    user_id, _ = sign_up(url, "lamarr@example.com")
    stack.admin(lambda roles: roles.create_role_or_add_permissions("admin", []))
    stack.admin(lambda roles: roles.add_role_to_user("public", user_id, "admin"))
    tokens = sign_in(url, "lamarr@example.com")
    assert httpx.get(f"{url}/admin", headers=bearer(tokens)).status_code == 200  # warm
    stack.statements.clear()
    for _ in range(5):
        assert httpx.get(f"{url}/admin", headers=bearer(tokens)).status_code == 200
        assert httpx.get(f"{url}/plain", headers=bearer(tokens)).status_code == 200
    assert stack.about_sessions_or_roles() == []
    # The listener does see the queries a route that checks the database makes.
    assert httpx.get(f"{url}/admin-now", headers=bearer(tokens)).status_code == 200
    assert stack.about_sessions_or_roles() != []


@pytest.mark.parametrize(
    "config", [None, UserRolesConfig(skip_adding_roles_to_access_token=True)], ids=["off", "skip"]
)
def test_a_session_without_the_claim_gets_it_from_the_database(
    database_url: str, config: UserRolesConfig | None
) -> None:
    """Without the recipe's config (or with `skip_adding_roles_to_access_token`), new
    sessions carry no `st-role`; the first role route reads it once and sends the client
    a token that carries it, and from then on refreshes value it again."""
    settings = Settings(database_url=database_url)
    dk = Doorkeep(settings, userroles=config)

    async def admin(work: Callable[[RoleService], Awaitable[Any]]) -> None:
        async with Doorkeep(settings) as other:
            await work(other.core.public.roles)

    with serve_in_thread(fastapi_app(dk)) as url:
        user_id, tokens = sign_up(url, "noether@example.com")
        assert "st-role" not in payload_of(tokens["st-access-token"])
        asyncio.run(admin(lambda roles: roles.create_role_or_add_permissions("admin", [])))
        asyncio.run(admin(lambda roles: roles.add_role_to_user("public", user_id, "admin")))
        answer = httpx.get(f"{url}/admin", headers=bearer(tokens))
        assert answer.status_code == 200
        fetched = answer.headers["st-access-token"]
        assert payload_of(fetched)["st-role"]["v"] == ["admin"]

        asyncio.run(admin(lambda roles: roles.remove_user_role("public", user_id, "admin")))
        assert (
            httpx.get(f"{url}/admin", headers=bearer({"st-access-token": fetched})).status_code
            == 200
        )
        renewed = refreshed(url, tokens)
        assert payload_of(renewed["st-access-token"])["st-role"]["v"] == []
        assert httpx.get(f"{url}/admin", headers=bearer(renewed)).status_code == 403
