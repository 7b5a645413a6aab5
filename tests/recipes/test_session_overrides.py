"""The session object of a request goes through the session recipe's overridable
functions, as every other path does."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from doorkeep import Doorkeep, Settings
from doorkeep.integrations.starlette import install, requires_session
from doorkeep.recipes.session import SessionConfig, SessionFunctions

PASSWORD = "correct horse battery"


async def test_merge_into_access_token_payload_goes_through_the_overridable_functions(
    database_url: str,
) -> None:
    """`session.merge_into_access_token_payload` calls the recipe's (overridden)
    `regenerate_access_token`, so an override sees, and may change, the new payload.

    Before: it called the core's sessions service directly, past every override."""
    calls: list[dict[str, Any]] = []

    def recording(original: SessionFunctions) -> SessionFunctions:
        original_regenerate = original.regenerate_access_token

        async def regenerate_access_token(
            access_token: str,
            new_access_token_payload: Mapping[str, Any] | None,
            user_context: dict[str, Any],
        ) -> Any:
            payload = dict(new_access_token_payload or {})
            calls.append(dict(payload))
            payload["stamped"] = True  # the override's own change reaches the token
            return await original_regenerate(access_token, payload, user_context)

        original.regenerate_access_token = regenerate_access_token  # type: ignore[method-assign]
        return original

    @requires_session()
    async def promote(request: Request) -> JSONResponse:
        session = request.state.session
        await session.merge_into_access_token_payload({"role": "admin"})
        return JSONResponse(session.get_access_token_payload())

    dk = Doorkeep(
        Settings(database_url=database_url), session=SessionConfig(override_functions=recording)
    )
    app = Starlette(routes=[Route("/promote", promote, methods=["POST"])])
    install(app, dk)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        await dk.start()
        await dk.emailpassword.sign_up("ada@example.com", PASSWORD)
        body = {"formFields": [{"id": "email", "value": "ada@example.com"}]}
        body["formFields"].append({"id": "password", "value": PASSWORD})
        signed_in = await client.post("/auth/signin", json=body)
        access = signed_in.headers["st-access-token"]
        promoted = await client.post("/promote", headers={"authorization": f"Bearer {access}"})
    await dk.close()
    assert calls == [{"role": "admin"}]
    assert promoted.json()["role"] == "admin" and promoted.json()["stamped"] is True
    assert promoted.headers["st-access-token"] not in ("", access)  # the client got the new token
