"""CDI routes of the passwordless recipe: codes (create, resend, consume, check, list,
remove) and PUT /recipe/user for passwordless users.

PUT /recipe/user is shared with emailpassword: SuperTokens' core routes it by the
`rid` header; doorkeep routes it by the recipe of the user it names (the header, or
a phoneNumber field, only decide for an unknown user), so an SDK that leaves the
header out still reaches the right recipe.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from doorkeep.core.common import FieldError, UnknownTenantError
from doorkeep.core.passwordless import (
    RECIPE_ID,
    CheckOk,
    CodeCreated,
    ConsumeOk,
    ExpiredUserInputCodeError,
    IncorrectUserInputCodeError,
)
from doorkeep.core.passwordless_results import UNCHANGED, Device, Unchanged
from doorkeep.core.passwordless_users import CLEAR_BOTH
from doorkeep.web.cdi import emailpassword as ep
from doorkeep.web.cdi.protocol import CdiError, CdiRequest, ok, status


def _field_error(error: FieldError) -> CdiError:
    return CdiError(400, "; ".join(f"{name}: {message}" for name, message in error.fields))


def _code_error(result: Any) -> Response:
    if isinstance(result, IncorrectUserInputCodeError | ExpiredUserInputCodeError):
        return status(
            result.status,
            failedCodeInputAttemptCount=result.failed_code_input_attempt_count,
            maximumCodeInputAttempts=result.maximum_code_input_attempts,
        )
    return status(result.status)


async def create_code(req: CdiRequest) -> Response:
    """POST /recipe/signinup/code: {email | phoneNumber | deviceId (resend), userInputCode?}."""
    user_input_code = req.text("userInputCode", required=False)
    device_id = req.text("deviceId", required=False)
    service = req.app.passwordless
    if device_id is not None:
        resent = await service.create_new_code_for_device(
            req.tenant_id, device_id, user_input_code=user_input_code
        )
        return ok(**resent.to_json()) if isinstance(resent, CodeCreated) else status(resent.status)
    email, phone = req.text("email", required=False), req.text("phoneNumber", required=False)
    if email is None and phone is None:
        raise CdiError(400, "Please provide exactly one of email, phoneNumber or deviceId")
    created = await service.create_code(
        req.tenant_id, email=email, phone_number=phone, user_input_code=user_input_code
    )
    if isinstance(created, FieldError):
        raise _field_error(created)
    if isinstance(created, UnknownTenantError):
        raise CdiError(400, "AppId or tenantId not found")
    return ok(**created.to_json())


def _attempt(req: CdiRequest) -> dict[str, Any]:
    """The consume/check body: {preAuthSessionId, linkCode} or {preAuthSessionId,
    deviceId, userInputCode}."""
    pre_auth = req.required_text("preAuthSessionId")
    link_code = req.text("linkCode", required=False)
    if link_code is not None:
        return {"pre_auth_session_id": pre_auth, "link_code": link_code}
    return {
        "pre_auth_session_id": pre_auth,
        "device_id": req.required_text("deviceId"),
        "user_input_code": req.required_text("userInputCode"),
    }


async def consume_code(req: CdiRequest) -> Response:
    attempt = _attempt(req)
    result = await req.app.passwordless.consume_code(
        req.tenant_id, attempt.pop("pre_auth_session_id"), **attempt
    )
    if isinstance(result, ConsumeOk):
        return ok(
            createdNewUser=result.created_new_recipe_user,
            user=result.user.to_json(),
            recipeUserId=result.recipe_user_id,
            consumedDevice=result.consumed_device.to_json(),
        )
    return _code_error(result)


async def check_code(req: CdiRequest) -> Response:
    attempt = _attempt(req)
    result = await req.app.passwordless.check_code(
        req.tenant_id, attempt.pop("pre_auth_session_id"), **attempt
    )
    if isinstance(result, CheckOk):
        return ok(consumedDevice=result.consumed_device.to_json())
    return _code_error(result)


async def remove_code(req: CdiRequest) -> Response:
    """POST /recipe/signinup/code/remove: {codeId} or {preAuthSessionId} (the device)."""
    code_id = req.text("codeId", required=False)
    if code_id is not None:
        await req.app.passwordless.revoke_code(req.tenant_id, code_id)
    else:
        await req.app.passwordless.revoke_device(
            req.tenant_id, req.required_text("preAuthSessionId")
        )
    return ok()


async def list_codes(req: CdiRequest) -> Response:
    """GET /recipe/signinup/codes?email | phoneNumber | deviceId | preAuthSessionId."""
    service, tenant_id, query = req.app.passwordless, req.tenant_id, req.query
    devices: list[Device]
    if email := query.get("email"):
        devices = await service.list_codes_by_email(tenant_id, email)
    elif phone := query.get("phoneNumber"):
        devices = await service.list_codes_by_phone_number(tenant_id, phone)
    else:
        if device_id := query.get("deviceId"):
            found = await service.list_codes_by_device_id(tenant_id, device_id)
        elif pre_auth := query.get("preAuthSessionId"):
            found = await service.list_codes_by_pre_auth_session_id(tenant_id, pre_auth)
        else:
            raise CdiError(
                400, "Please provide one of email, phoneNumber, deviceId or preAuthSessionId"
            )
        devices = [] if found is None else [found]
    return ok(devices=[device.to_json() for device in devices])


async def remove_codes(req: CdiRequest) -> Response:
    """POST /recipe/signinup/codes/remove: {email} or {phoneNumber}: every device of it."""
    email, phone = req.text("email", required=False), req.text("phoneNumber", required=False)
    if email is None and phone is None:
        raise CdiError(400, "Please provide exactly one of email or phoneNumber")
    await req.app.passwordless.revoke_all_codes(req.tenant_id, email=email, phone_number=phone)
    return ok()


def _nullable(req: CdiRequest, name: str) -> str | Unchanged | None:
    """A field that may be absent (leave as is), null (delete) or a string."""
    if name not in req.body:
        return UNCHANGED
    value = req.body[name]
    if value is not None and not isinstance(value, str):
        raise CdiError(400, f"Field name '{name}' is invalid in JSON input")
    return value


async def update_user(req: CdiRequest) -> Response:
    """PUT /recipe/user: the passwordless update for a passwordless user, else
    emailpassword's."""
    user_id = req.text("recipeUserId", required=False) or req.required_text("userId")
    user = await req.app.users.get_user(user_id)
    if user is None:
        asked = req.request.headers.get("rid") == RECIPE_ID or "phoneNumber" in req.body
        return status("UNKNOWN_USER_ID_ERROR") if asked else await ep.update_user(req)
    if not any(m.recipe_id == RECIPE_ID for m in user.login_methods):
        if req.request.headers.get("rid") == RECIPE_ID or "phoneNumber" in req.body:
            return status("UNKNOWN_USER_ID_ERROR")  # not a passwordless login
        return await ep.update_user(req)
    result = await req.app.passwordless.update_user(
        user_id, email=_nullable(req, "email"), phone_number=_nullable(req, "phoneNumber")
    )
    if isinstance(result, FieldError):
        if result.fields[0][1] == CLEAR_BOTH:
            raise CdiError(400, CLEAR_BOTH + "\n")  # as the core says it, newline included
        raise _field_error(result)
    return status(result.status)
