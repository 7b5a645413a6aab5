"""Pages for a visitor who is not signed in yet: sign in, sign up, forgot and reset
password, verify email, sign out.

Every handler calls the same flow as the JSON route (doorkeep.flows), so validation,
rate limits and overrides apply to both faces alike; a handler only turns the flow's
status into a page.
"""

from __future__ import annotations

from collections.abc import Mapping

from doorkeep.core.common import PUBLIC, FieldError
from doorkeep.core.emailpassword import WrongCredentialsError
from doorkeep.core.emailverification import EmailVerified
from doorkeep.core.errors import TooManyAttemptsError
from doorkeep.core.passwordreset import ResetTokenConsumed
from doorkeep.core.tenants import is_tenant_id
from doorkeep.recipes.apis import GeneralError, OkResult
from doorkeep.recipes.emailpassword.apis import SignInPostOk, SignUpPostOk
from doorkeep.recipes.emailpassword.forms import FormField, InputFormField
from doorkeep.recipes.session.request import api_options
from doorkeep.web.pages.outcome import Outcome, PageRequest, Redirect, Render
from doorkeep.web.pages.security import local_path

# Fixed texts chosen by a `notice` query parameter: nothing from the URL is echoed.
NOTICES = {
    "signed-out": "You are signed out.",
    "password-reset": "Your password was changed. Sign in with the new one.",
    "password-changed": "Your password was changed.",
    "password-changed-signed-out": "Your password was changed. Please sign in again.",
    "email-changed": "Your email address was changed.",
    "others-signed-out": "Your other devices are signed out.",
    "phone-changed": "Your phone number was changed.",
}
WRONG_CREDENTIALS = "That combination of {identifier} and password is not right."
INVALID_RESET_LINK = "This reset link is invalid, used or expired. Ask for a new one."
INVALID_VERIFY_LINK = "This verification link is invalid, used or expired."
# The flows name fields as the JSON API does; the forms use these names.
FORM_NAMES = {"confirmPassword": "confirm_password"}


def field_errors(error: FieldError, renames: dict[str, str] | None = None) -> dict[str, str]:
    renames = renames or FORM_NAMES
    return {renames.get(field_id, field_id): message for field_id, message in error.fields}


def too_many(
    template: str, retry_after: int, context: Mapping[str, object] | None = None
) -> Render:
    return Render(
        template,
        dict(context or {}),
        message=f"Too many attempts. Please try again in {retry_after} seconds.",
        status_code=429,
    )


def tenant_from_query(page: PageRequest) -> str:
    """The tenant a mailed link names; `public` unless it is a valid tenant ID."""
    tenant = page.request.query_params.get("tenantId") or page.value("tenant_id") or PUBLIC
    return tenant if is_tenant_id(tenant) else PUBLIC


def identifier_label(page: PageRequest) -> str:
    return "username or email" if page.services.emailpassword.username_login else "email"


# -- sign in -------------------------------------------------------------------------------


async def sign_in_form(page: PageRequest) -> Outcome:
    notice = NOTICES.get(page.request.query_params.get("notice", ""))
    redirect_to = local_path(page.request.query_params.get("redirect_to")) or ""
    return Render("signin.html", {"redirect_to": redirect_to}, notice=notice)


async def sign_in(page: PageRequest) -> Outcome:
    context = {"redirect_to": local_path(page.value("redirect_to")) or "", "values": page.form}
    received = [
        FormField("email", page.value("email")),
        FormField("password", page.value("password")),
    ]
    result = await page.services.flows.sign_in.sign_in(page.request, received, PUBLIC)
    if isinstance(result, SignInPostOk):
        return Redirect(local_path(page.value("redirect_to")) or page.after_sign_in)
    if isinstance(result, FieldError):
        return Render("signin.html", context, errors=field_errors(result), status_code=400)
    if isinstance(result, TooManyAttemptsError):
        return too_many("signin.html", result.retry_after, context)
    if isinstance(result, WrongCredentialsError):
        message = WRONG_CREDENTIALS.format(identifier=identifier_label(page))
        return Render("signin.html", context, message=message, status_code=400)
    return Render("signin.html", context, message=result.message, status_code=400)


# -- sign up -------------------------------------------------------------------------------


def sign_up_inputs(page: PageRequest) -> list[InputFormField]:
    return page.services.emailpassword.sign_up_fields


async def sign_up_form(page: PageRequest) -> Outcome:
    return Render("signup.html", {"fields": sign_up_inputs(page)})


async def sign_up(page: PageRequest) -> Outcome:
    flows = page.services.flows
    inputs = sign_up_inputs(page)
    context = {"fields": inputs, "values": page.form}
    received = [FormField(f.id, page.value(f.id)) for f in inputs]
    result = await flows.sign_up.sign_up(
        page.request, received, PUBLIC, confirm_password=page.value("confirm_password")
    )
    if isinstance(result, FieldError):
        return Render("signup.html", context, errors=field_errors(result), status_code=400)
    if isinstance(result, TooManyAttemptsError):
        return too_many("signup.html", result.retry_after, context)
    if isinstance(result, GeneralError):
        return Render("signup.html", context, message=result.message, status_code=400)
    assert isinstance(result, SignUpPostOk)
    sent = await flows.email_verification.send_first_link(page.request, result.session)
    return Redirect(
        page.url("verify-email/sent") if isinstance(sent, OkResult) else page.after_sign_in
    )


# -- forgot and reset password ---------------------------------------------------------------


async def forgot_password_form(page: PageRequest) -> Outcome:
    return Render("forgot_password.html")


async def forgot_password(page: PageRequest) -> Outcome:
    context = {"values": page.form}
    received = [FormField("email", page.value("email"))]
    result = await page.services.flows.password_reset.request_link(page.request, received, PUBLIC)
    if isinstance(result, FieldError):
        return Render("forgot_password.html", context, errors=field_errors(result), status_code=400)
    if isinstance(result, TooManyAttemptsError):
        return too_many("forgot_password.html", result.retry_after, context)
    if isinstance(result, GeneralError):
        return Render("forgot_password.html", context, message=result.message, status_code=400)
    # The same words whether or not the account exists, as the API's answer.
    notice = (
        "If an account exists for that address, we have emailed it a link to reset the password."
    )
    return Render("forgot_password.html", notice=notice)


def link_form(page: PageRequest, template: str, invalid_message: str) -> Render:
    """The page a mailed link opens: its token in a form, or an error without one."""
    token = page.request.query_params.get("token", "")
    context = {"token": token, "tenant_id": tenant_from_query(page)}
    if not token:
        return Render(template, context, message=invalid_message, status_code=400)
    return Render(template, context)


async def reset_password_form(page: PageRequest) -> Outcome:
    return link_form(page, "reset_password.html", INVALID_RESET_LINK)


async def reset_password(page: PageRequest) -> Outcome:
    token, tenant_id = page.value("token"), tenant_from_query(page)
    context = {"token": token, "tenant_id": tenant_id}
    result = await page.services.flows.password_reset.reset_password(
        page.request,
        [FormField("password", page.value("password"))],
        token,
        tenant_id,
        confirm_password=page.value("confirm_password"),
    )
    if isinstance(result, ResetTokenConsumed):
        return Redirect(f"{page.login_url}?notice=password-reset")
    if isinstance(result, TooManyAttemptsError):
        return too_many("reset_password.html", result.retry_after, context)
    if isinstance(result, FieldError):
        return Render("reset_password.html", context, errors=field_errors(result), status_code=400)
    message = result.message if isinstance(result, GeneralError) else INVALID_RESET_LINK
    return Render("reset_password.html", context, message=message, status_code=400)


# -- email verification ----------------------------------------------------------------------


async def verify_email_form(page: PageRequest) -> Outcome:
    """The link from the email: a button that posts the token, since a mail scanner
    that fetches every link must not use the token up."""
    return link_form(page, "verify_email.html", INVALID_VERIFY_LINK)


async def verify_email(page: PageRequest) -> Outcome:
    token, tenant_id = page.value("token"), tenant_from_query(page)
    context = {"token": token, "tenant_id": tenant_id}
    result = await page.services.flows.email_verification.verify(
        page.request, token, page.session, tenant_id
    )
    if isinstance(result, EmailVerified):
        context["verified_email"] = result.email
        return Render("verify_email.html", context, notice=f"{result.email} is verified.")
    message = result.message if isinstance(result, GeneralError) else INVALID_VERIFY_LINK
    return Render("verify_email.html", context, message=message, status_code=400)


async def verification_sent(page: PageRequest) -> Outcome:
    assert page.session is not None
    email = await page.services.emailverification.email_for(page.session.user_id, {})
    return Render("verification_sent.html", {"email": email})


async def resend_verification(page: PageRequest) -> Outcome:
    services, session = page.services, page.session
    assert session is not None
    email = await services.emailverification.email_for(session.user_id, {})
    context = {"email": email}
    result = await services.flows.email_verification.send_link(page.request, session)
    if isinstance(result, TooManyAttemptsError):
        return too_many("verification_sent.html", result.retry_after, context)
    if isinstance(result, OkResult):
        return Render("verification_sent.html", context, notice="We sent another link.")
    return Redirect(page.after_sign_in)  # already verified: nothing to wait for


# -- sign out --------------------------------------------------------------------------------


async def sign_out(page: PageRequest) -> Outcome:
    session = page.services.session
    await session.apis.signout_post(page.session, api_options(page.request, session.config), {})
    return Redirect(f"{page.login_url}?notice=signed-out")
