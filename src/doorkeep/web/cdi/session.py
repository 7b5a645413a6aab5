"""CDI routes of the session recipe. They call the same `SessionService` as the
in-process API and the FDI, so a session created through one is the session of all."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.responses import JSONResponse, Response

from doorkeep.core.session_models import (
    NewSession,
    TokenTheftDetectedError,
    UnauthorisedError,
    VerifiedSession,
)
from doorkeep.core.users import resolve_user_id
from doorkeep.web.cdi.protocol import CdiError, CdiRequest, ok, status


def _new_session_json(new: NewSession) -> Response:
    body: dict[str, Any] = {
        "status": "OK",
        "session": new.session.to_json(),
        "accessToken": new.access_token.to_json(),
        "refreshToken": new.refresh_token.to_json(),
    }
    if new.anti_csrf_token is not None:
        body["antiCsrfToken"] = new.anti_csrf_token
    return JSONResponse(body)


def _verified_json(verified: VerifiedSession) -> Response:
    body: dict[str, Any] = {"status": "OK", "session": verified.session.to_json()}
    if verified.new_access_token is not None:
        body["accessToken"] = verified.new_access_token.to_json()
    return JSONResponse(body)


async def create(req: CdiRequest) -> Response:
    asked = req.required_text("userId")
    # Sessions carry the ID the application knows: the external one when mapped.
    async with req.app.ctx.db.read() as conn:
        user_id = (await resolve_user_id(conn, req.app.ctx.app_id, asked)).public_id
    new = await req.app.sessions.create(
        user_id,
        recipe_user_id=user_id,
        tenant_id=req.tenant_id,
        access_token_payload=req.object("userDataInJWT", required=False),
        session_data=req.object("userDataInDatabase", required=False),
        enable_anti_csrf=req.flag("enableAntiCsrf"),
        use_static_key=not req.flag("useDynamicSigningKey", default=True),
    )
    return _new_session_json(new)


async def verify(req: CdiRequest) -> Response:
    result = await req.app.sessions.verify(
        req.required_text("accessToken"),
        anti_csrf_token=req.text("antiCsrfToken", required=False),
        do_anti_csrf_check=req.flag("doAntiCsrfCheck"),
        check_database=req.flag("checkDatabase"),
    )
    if isinstance(result, VerifiedSession):
        return _verified_json(result)
    return status(result.status, message=result.message)


async def refresh(req: CdiRequest) -> Response:
    # The SDK says which kind of key it verifies with; a session switches on refresh.
    dynamic = req.body.get("useDynamicSigningKey")
    result = await req.app.sessions.refresh(
        req.required_text("refreshToken"),
        enable_anti_csrf=req.flag("enableAntiCsrf"),
        use_static_key=None if dynamic is None else not req.flag("useDynamicSigningKey"),
    )
    if isinstance(result, NewSession):
        return _new_session_json(result)
    if isinstance(result, TokenTheftDetectedError):
        session = {
            "handle": result.session_handle,
            "userId": result.user_id,
            "recipeUserId": result.recipe_user_id,
        }
        return status(result.status, session=session)
    return status(result.status, message=result.message)


async def remove(req: CdiRequest) -> Response:
    sessions = req.app.sessions
    handles = req.body.get("sessionHandles")
    if handles is not None:
        if not isinstance(handles, list) or not all(isinstance(h, str) for h in handles):
            raise CdiError(400, "Field name 'sessionHandles' is invalid in JSON input")
        return ok(sessionHandlesRevoked=await sessions.revoke(handles))
    user_id = req.required_text("userId")
    tenant = None if req.flag("revokeAcrossAllTenants", default=True) else req.tenant_id
    return ok(sessionHandlesRevoked=await sessions.revoke_all_for_user(user_id, tenant_id=tenant))


async def handles_for_user(req: CdiRequest) -> Response:
    user_id = req.param("userId")
    assert user_id is not None
    tenant = None if req.bool_param("fetchAcrossAllTenants", True) else req.tenant_id
    return ok(sessionHandles=await req.app.sessions.handles_for_user(user_id, tenant_id=tenant))


async def information(req: CdiRequest) -> Response:
    handle = req.param("sessionHandle")
    assert handle is not None
    record = await req.app.sessions.get(handle)
    if record is None:
        return status(UnauthorisedError.status, message="Session does not exist.")
    return ok(
        sessionHandle=record.handle,
        userId=record.user_id,
        recipeUserId=record.recipe_user_id,
        userDataInDatabase=record.session_data,
        userDataInJWT=record.user_data_in_jwt,
        expiry=record.expiry,
        timeCreated=record.time_created,
        tenantId=record.tenant_id,
    )


async def update_data(req: CdiRequest) -> Response:
    update = req.app.sessions.update_session_data
    return await _update(req, "userDataInDatabase", update)


async def update_jwt_data(req: CdiRequest) -> Response:
    return await _update(req, "userDataInJWT", req.app.sessions.update_access_token_payload)


async def _update(
    req: CdiRequest, field: str, update: Callable[[str, dict[str, Any]], Awaitable[bool]]
) -> Response:
    if not await update(req.required_text("sessionHandle"), req.object(field)):
        return status(UnauthorisedError.status, message="Session does not exist.")
    return ok()


async def regenerate(req: CdiRequest) -> Response:
    payload = req.body.get("userDataInJWT")
    if payload is not None and not isinstance(payload, dict):
        raise CdiError(400, "Field name 'userDataInJWT' is invalid in JSON input")
    result = await req.app.sessions.regenerate_access_token(
        req.required_text("accessToken"), payload
    )
    if isinstance(result, VerifiedSession):
        return _verified_json(result)
    return status(result.status, message=result.message)


async def jwks(req: CdiRequest) -> Response:
    keys = req.app.keys
    return JSONResponse(
        await keys.jwks(), headers={"cache-control": f"max-age={keys.jwks_max_age()}"}
    )
