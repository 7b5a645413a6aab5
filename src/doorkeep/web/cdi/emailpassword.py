"""CDI routes of the emailpassword recipe: sign up, sign in, update, reset tokens, import."""

from __future__ import annotations

from starlette.responses import Response

from doorkeep.core.common import FieldError, UnknownTenantError, UnknownUserIdError
from doorkeep.core.emailpassword import (
    EmailAlreadyExistsError,
    ImportOk,
    SignInOk,
    SignUpOk,
    WrongCredentialsError,
)
from doorkeep.core.passwordreset import ResetTokenConsumed, ResetTokenCreated
from doorkeep.web.cdi.protocol import CdiError, CdiRequest, ok, status


def _field_error(error: FieldError) -> CdiError:
    return CdiError(400, "; ".join(f"{name}: {message}" for name, message in error.fields))


async def sign_up(req: CdiRequest) -> Response:
    email, password = req.required_text("email"), req.required_text("password")
    result = await req.app.emailpassword.sign_up(
        req.tenant_id, email, password, apply_password_policy=False
    )
    if isinstance(result, SignUpOk):
        return ok(user=result.user.to_json(), recipeUserId=result.recipe_user_id)
    if isinstance(result, FieldError):
        raise _field_error(result)
    if isinstance(result, UnknownTenantError):
        raise CdiError(400, "AppId or tenantId not found")
    return status(result.status)


async def sign_in(req: CdiRequest) -> Response:
    email, password = req.required_text("email"), req.required_text("password")
    result = await req.app.emailpassword.sign_in(req.tenant_id, email, password)
    if isinstance(result, SignInOk):
        return ok(user=result.user.to_json(), recipeUserId=result.recipe_user_id)
    assert isinstance(result, WrongCredentialsError)
    return status(result.status)


async def update_user(req: CdiRequest) -> Response:
    """PUT /recipe/user: change the email and/or password of an emailpassword login."""
    user_id = req.text("recipeUserId", required=False) or req.required_text("userId")
    email = req.text("email", required=False)
    password = req.text("password", required=False)
    result = await req.app.emailpassword.update_email_or_password(
        user_id, email=email, password=password, apply_password_policy=False
    )
    if isinstance(result, FieldError):
        raise _field_error(result)
    if isinstance(result, UnknownUserIdError | EmailAlreadyExistsError):
        return status(result.status)
    return ok()


async def create_reset_token(req: CdiRequest) -> Response:
    user_id, email = req.required_text("userId"), req.required_text("email")
    if not email:  # the SDK sends "" when it lets the core use the account's email
        user = await req.app.users.get_user(user_id)
        email = (user and user.password_login_email) or ""
    result = await req.app.passwordreset.create_token(user_id, email, req.tenant_id)
    if isinstance(result, ResetTokenCreated):
        return ok(token=result.token)
    return status(result.status)


async def consume_reset_token(req: CdiRequest) -> Response:
    result = await req.app.passwordreset.consume_token(req.required_text("token"), req.tenant_id)
    if isinstance(result, ResetTokenConsumed):
        return ok(userId=result.user_id, email=result.email)
    return status(result.status)


async def import_password_hash(req: CdiRequest) -> Response:
    result = await req.app.emailpassword.import_user(
        req.tenant_id,
        req.required_text("email"),
        req.required_text("passwordHash"),
        req.text("hashingAlgorithm", required=False),
    )
    if isinstance(result, ImportOk):
        return ok(user=result.user.to_json(), didUserAlreadyExist=result.did_user_already_exist)
    if isinstance(result, FieldError):
        raise _field_error(result)
    raise CdiError(400, "AppId or tenantId not found")
