"""The official SDK's user roles and JWT recipes (supertokens-python 0.31.4) with doorkeep
as their core, over HTTP: roles made through the SDK are doorkeep's and the other way
round, the SDK's sessions carry `st-role`/`st-perm` from doorkeep's CDI, its role checks
answer as its own core would, and a JWT it has doorkeep sign verifies as a session."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from doorkeep import Doorkeep, Settings
from doorkeep.serve.server import create_app
from doorkeep.testing import free_port, serve_in_thread
from tests.optional import SERVICES, import_or_skip
from tests.sdk_reset import reset_sdk

import_or_skip("supertokens_python", SERVICES)  # CI: a missing SDK fails, never skips

PASSWORD = "validPass123"


@dataclass
class Stack:
    api: str  # the SDK's application
    database_url: str


def build_app(core_url: str, api_url: str) -> Any:
    from fastapi import Depends, FastAPI
    from supertokens_python import InputAppInfo, SupertokensConfig, init
    from supertokens_python.framework.fastapi import get_middleware
    from supertokens_python.recipe import emailpassword, session, userroles
    from supertokens_python.recipe.session import SessionContainer
    from supertokens_python.recipe.session.framework.fastapi import verify_session
    from supertokens_python.recipe.userroles import UserRoleClaim

    init(
        app_info=InputAppInfo(
            app_name="roles",
            api_domain=api_url,
            website_domain=api_url,
            api_base_path="/auth",
            website_base_path="/auth",
        ),
        supertokens_config=SupertokensConfig(connection_uri=core_url),
        framework="fastapi",
        recipe_list=[session.init(), emailpassword.init(), userroles.init()],
        mode="asgi",
    )
    app = FastAPI()
    app.add_middleware(get_middleware())
    admin_only = verify_session(
        override_global_claim_validators=lambda validators, _s, _c: [
            *validators,
            UserRoleClaim.validators.includes("admin"),
        ]
    )

    @app.get("/admin")
    async def admin(s: SessionContainer = Depends(admin_only)) -> dict[str, Any]:
        return {"userId": s.get_user_id(), "payload": s.get_access_token_payload()}

    return app


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    reset_sdk()  # whatever another module initialised
    database_url = f"sqlite:///{tmp_path_factory.mktemp('roles') / 'core.sqlite3'}"
    api_port = free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    core_app = create_app(Doorkeep(Settings(database_url=database_url)))
    with (
        serve_in_thread(core_app) as core,
        serve_in_thread(build_app(core, api_url), port=api_port),
    ):
        yield Stack(api_url, database_url)
    reset_sdk()


def in_doorkeep(stack: Stack, work: Any) -> Any:
    async def run() -> Any:
        async with Doorkeep(Settings(database_url=stack.database_url)) as dk:
            return await work(dk)

    return asyncio.run(run())


def sign_up(http: httpx.Client, email: str) -> tuple[str, str]:
    form = {"formFields": [{"id": "email", "value": email}, {"id": "password", "value": PASSWORD}]}
    answer = http.post("/auth/signup", json=form, headers={"st-auth-mode": "header"})
    assert answer.json()["status"] == "OK", answer.text
    return answer.json()["user"]["id"], answer.headers["st-access-token"]


def test_roles_are_shared_both_ways(stack: Stack) -> None:
    from supertokens_python.recipe.userroles import interfaces as r
    from supertokens_python.recipe.userroles.syncio import (
        add_role_to_user,
        create_new_role_or_add_permissions,
        delete_role,
        get_permissions_for_role,
        get_roles_for_user,
        get_roles_that_have_permission,
        get_users_that_have_role,
        remove_user_role,
    )

    made = create_new_role_or_add_permissions("editor", ["write", "read"])
    assert isinstance(made, r.CreateNewRoleOrAddPermissionsOkResult) and made.created_new_role
    permissions = get_permissions_for_role("editor")
    assert isinstance(permissions, r.GetPermissionsForRoleOkResult)
    assert sorted(permissions.permissions) == ["read", "write"]
    assert isinstance(add_role_to_user("public", "u1", "editor"), r.AddRoleToUserOkResult)
    assert isinstance(add_role_to_user("public", "u1", "ghost"), r.UnknownRoleError)

    # doorkeep's own API sees what the SDK made, and the SDK sees what doorkeep makes.
    async def seen_and_made(dk: Doorkeep) -> list[str]:
        await dk.userroles.create_new_role_or_add_permissions("auditor", ["read"])
        await dk.userroles.add_role_to_user("public", "u1", "auditor")
        return await dk.userroles.get_roles_for_user("public", "u1")

    assert in_doorkeep(stack, seen_and_made) == ["auditor", "editor"]
    roles = get_roles_for_user("public", "u1")
    assert sorted(roles.roles) == ["auditor", "editor"]
    having = get_roles_that_have_permission("read")
    assert sorted(having.roles) == ["auditor", "editor"]
    users = get_users_that_have_role("public", "auditor")
    assert isinstance(users, r.GetUsersThatHaveRoleOkResult) and users.users == ["u1"]
    removed = remove_user_role("public", "u1", "auditor")
    assert isinstance(removed, r.RemoveUserRoleOkResult) and removed.did_user_have_role
    deleted = delete_role("editor")
    assert isinstance(deleted, r.DeleteRoleOkResult) and deleted.did_role_exist
    assert in_doorkeep(stack, lambda dk: dk.userroles.get_roles_for_user("public", "u1")) == []


def test_the_sdk_session_carries_roles_from_doorkeep(stack: Stack) -> None:
    with httpx.Client(base_url=stack.api) as http:
        user_id, access = sign_up(http, "ada@example.com")
        bearer = {"authorization": f"Bearer {access}"}
        refused = http.get("/admin", headers=bearer)
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

        async def grant(dk: Doorkeep) -> None:
            await dk.userroles.create_new_role_or_add_permissions("admin", ["everything"])
            await dk.userroles.add_role_to_user("public", user_id, "admin")

        in_doorkeep(stack, grant)
        form = {
            "formFields": [
                {"id": "email", "value": "ada@example.com"},
                {"id": "password", "value": PASSWORD},
            ]
        }
        signed_in = http.post("/auth/signin", json=form, headers={"st-auth-mode": "header"})
        allowed = http.get(
            "/admin", headers={"authorization": f"Bearer {signed_in.headers['st-access-token']}"}
        )
        assert allowed.status_code == 200
        payload = allowed.json()["payload"]
        assert payload["st-role"]["v"] == ["admin"]
        assert payload["st-perm"]["v"] == ["everything"]


def test_a_jwt_doorkeep_signs_for_the_sdk_verifies_as_its_session(stack: Stack) -> None:
    """What three of the SDK's session tests do: a JWT of a session's payload, made by
    the core's JWT recipe, passes the SDK's own session verification."""
    from supertokens_python.recipe.jwt.interfaces import CreateJwtOkResult
    from supertokens_python.recipe.session.asyncio import (
        create_jwt,
        create_new_session_without_request_response,
        get_session_without_request_response,
    )
    from supertokens_python.types import RecipeUserId

    async def check() -> None:
        s = await create_new_session_without_request_response(
            "public", RecipeUserId("jwt-user"), {}, {}
        )
        payload = s.get_access_token_payload()
        del payload["iat"], payload["exp"]
        made = await create_jwt(payload, 60, use_static_signing_key=False)
        assert isinstance(made, CreateJwtOkResult)
        verified = await get_session_without_request_response(made.jwt)
        assert verified is not None and verified.get_user_id() == "jwt-user"

    asyncio.run(check())
