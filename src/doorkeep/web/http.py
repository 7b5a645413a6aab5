"""Small HTTP helpers shared by doorkeep's JSON routes: bounded JSON bodies, the wire
shape of results, tenants and client addresses."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from doorkeep.core.common import PUBLIC, FieldError, Status
from doorkeep.core.errors import BadRequest, TooManyAttemptsError
from doorkeep.core.tenants import is_tenant_id
from doorkeep.core.users import User
from doorkeep.recipes.apis import GeneralError
from doorkeep.recipes.session.request import refuse_unless_json
from doorkeep.web.json_body import JsonTooDeepError, parse_json

MAX_BODY_BYTES = 64 * 1024


async def password_change_input(request: Request) -> tuple[object, object, object]:
    """JSON, or a form from a header-mode client (a cookie session needs JSON: csrf.py)."""
    refuse_unless_json(request)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form(max_files=0, max_fields=10)
        return (
            form.get("current_password"),
            form.get("new_password"),
            form.get("confirm_new_password"),
        )
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object")
    return (
        body.get("oldPassword", body.get("current_password")),
        body.get("newPassword", body.get("new_password")),
        body.get("confirmNewPassword", body.get("confirm_new_password")),
    )


async def json_not_found(scope: Any, receive: Any, send: Any) -> None:
    response = JSONResponse({"message": "not found"}, status_code=404)
    await response(scope, receive, send)


async def read_json(request: Request) -> Any:
    """The JSON body, refusing bodies over MAX_BODY_BYTES without reading them whole,
    and, with a session cookie, any body that is not `application/json` (403, csrf.py)."""
    refuse_unless_json(request)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise BadRequest("request body is too large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise BadRequest("request body is too large")
        chunks.append(chunk)
    try:
        return parse_json(b"".join(chunks))
    except JsonTooDeepError:
        raise BadRequest("request body is nested too deeply") from None
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("request body is not valid JSON") from None


def too_many_attempts(retry_after_seconds: int, **fields: str) -> JSONResponse:
    """The 429 of every limit on attempts, with Retry-After."""
    return JSONResponse(
        {**fields, "message": "Too many attempts. Please try again later."},
        status_code=429,
        headers={"retry-after": str(retry_after_seconds)},
    )


def status_json(result: Status) -> JSONResponse:
    if isinstance(result, TooManyAttemptsError):
        return too_many_attempts(result.retry_after, status=result.status)
    body: dict[str, Any] = {"status": result.status}
    if isinstance(result, FieldError):
        body["formFields"] = result.to_json()
    elif isinstance(result, GeneralError):
        body["message"] = result.message
    elif hasattr(result, "reason"):
        body["reason"] = result.reason
    return JSONResponse(body)


def user_json(user: User, request: Request) -> dict[str, Any]:
    """The user object in the shape the client's FDI version expects (4.x: the CDI user)."""
    if fdi_major(request) >= 4:
        return user.to_json()
    return {
        "id": user.id,
        "email": user.email,
        "timeJoined": user.time_joined,
        "tenantIds": list(user.tenant_ids),
    }


def fdi_major(request: Request) -> int:
    header = request.headers.get("fdi-version")
    if not header:
        return 4
    majors = []
    for version in header.split(","):
        head = version.strip().split(".")[0]
        if head.isdigit():
            majors.append(int(head))
    return max(majors, default=4)


def tenant_of(request: Request) -> str:
    tenant_id: str = request.path_params.get("tenant_id", PUBLIC)  # the route's {tenant_id}
    if not is_tenant_id(tenant_id):
        raise BadRequest("invalid tenant id")
    return tenant_id
