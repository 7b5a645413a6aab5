"""Pages for a visitor who is not signed in yet: sign in, sign up, forgot and reset
password, verify email, sign out.

Every handler calls the same (overridable) recipe API handler as the JSON route,
with the same rate limits, so an override or a limit applies to both faces.
"""

from __future__ import annotations

from doorkeep.core.common import PUBLIC, FieldError
from doorkeep.core.emailpassword import WrongCredentialsError
from doorkeep.core.emailverification import EmailVerified
from doorkeep.core.passwordreset import ResetTokenConsumed
from doorkeep.recipes.apis import APIOptions, GeneralError, OkResult
from doorkeep.recipes.emailpassword.apis import SignInPostOk, SignUpPostOk
from doorkeep.recipes.emailpassword.forms import (
    FormField,
    InputFormField,
    sign_in_fields,
    validate_form_fields,
)
from doorkeep.recipes.session.request import mutations_of
from doorkeep.web.http import client_ip
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
}
WRONG_CREDENTIALS = "That combination of {identifier} and password is not right."
INVALID_RESET_LINK = "This reset link is invalid, used or expired. Ask for a new one."
INVALID_VERIFY_LINK = "This verification link is invalid, used or expired."


def options(page: PageRequest, config: object) -> APIOptions:
    return APIOptions(page.request, mutations_of(page.request), page.dk, config)


def field_errors(error: FieldError, renames: dict[str, str] | None = None) -> dict[str, str]:
    renames = renames or {}
    return {renames.get(field_id, field_id): message for field_id, message in error.fields}


def too_many(template: str, wait: float, context: dict[str, object] | None = None) -> Render:
    return Render(
        template,
        context or {},
        message=f"Too many attempts. Please try again in {int(wait) + 1} seconds.",
        status_code=429,
    )


def tenant_from_query(page: PageRequest) -> str:
    tenant = page.request.query_params.get("tenantId") or page.value("tenant_id") or PUBLIC
    return tenant if tenant.replace("-", "").isalnum() and len(tenant) <= 64 else PUBLIC


def identifier_label(page: PageRequest) -> str:
    return "username or email" if page.dk.emailpassword.username_login else "email"


# -- sign in -------------------------------------------------------------------------------


async def sign_in_form(page: PageRequest) -> Outcome:
    notice = NOTICES.get(page.request.query_params.get("notice", ""))
    redirect_to = local_path(page.request.query_params.get("redirect_to")) or ""
    return Render("signin.html", {"redirect_to": redirect_to}, notice=notice)


async def sign_in(page: PageRequest) -> Outcome:
    dk = page.dk
    context = {"redirect_to": local_path(page.value("redirect_to")) or "", "values": page.form}
    received = [
        FormField("email", page.value("email")),
        FormField("password", page.value("password")),
    ]
    validated = await validate_form_fields(
        sign_in_fields(dk.emailpassword.identifier_field), received, PUBLIC
    )
    if isinstance(validated, FieldError):
        return Render("signin.html", context, errors=field_errors(validated), status_code=400)
    checks = dk.web.sign_in_checks(PUBLIC, validated[0].value, client_ip(page.request))
    if (wait := await dk.limiter.attempt(*checks)) is not None:
        return too_many("signin.html", wait, context)
    result = await dk.web.emailpassword.sign_in_post(
        validated, PUBLIC, options(page, dk.emailpassword.config), {}
    )
    if isinstance(result, SignInPostOk):
        await dk.limiter.succeeded(*(key for key, _ in checks[1:]))
        return Redirect(local_path(page.value("redirect_to")) or page.after_sign_in)
    if isinstance(result, WrongCredentialsError):
        message = WRONG_CREDENTIALS.format(identifier=identifier_label(page))
        return Render("signin.html", context, message=message, status_code=400)
    assert isinstance(result, GeneralError)
    return Render("signin.html", context, message=result.message, status_code=400)


# -- sign up -------------------------------------------------------------------------------


def sign_up_inputs(page: PageRequest) -> list[InputFormField]:
    return page.dk.emailpassword.sign_up_fields


async def sign_up_form(page: PageRequest) -> Outcome:
    return Render("signup.html", {"fields": sign_up_inputs(page)})


async def sign_up(page: PageRequest) -> Outcome:
    dk = page.dk
    inputs = sign_up_inputs(page)
    context = {"fields": inputs, "values": page.form}
    errors: dict[str, str] = {}
    if page.value("confirm_password") != page.value("password"):
        errors["confirm_password"] = "Passwords do not match."
    received = [FormField(f.id, page.value(f.id)) for f in inputs]
    validated = await validate_form_fields(inputs, received, PUBLIC)
    if isinstance(validated, FieldError):
        errors = {**field_errors(validated), **errors}
    if errors:
        return Render("signup.html", context, errors=errors, status_code=400)
    assert not isinstance(validated, FieldError)
    if (
        wait := await dk.limiter.attempt(*dk.web.sign_up_checks(client_ip(page.request)))
    ) is not None:
        return too_many("signup.html", wait, context)
    result = await dk.web.emailpassword.sign_up_post(
        validated, PUBLIC, options(page, dk.emailpassword.config), {}
    )
    if isinstance(result, FieldError):
        return Render("signup.html", context, errors=field_errors(result), status_code=400)
    if isinstance(result, GeneralError):
        return Render("signup.html", context, message=result.message, status_code=400)
    assert isinstance(result, SignUpPostOk)
    sent = await dk.web.emailverification.generate_email_verify_token_post(
        result.session, options(page, dk.emailverification.config), {}
    )
    return Redirect(
        page.url("verify-email/sent") if isinstance(sent, OkResult) else page.after_sign_in
    )


# -- forgot and reset password ---------------------------------------------------------------


async def forgot_password_form(page: PageRequest) -> Outcome:
    return Render("forgot_password.html")


async def forgot_password(page: PageRequest) -> Outcome:
    dk = page.dk
    context = {"values": page.form}
    identifier = dk.emailpassword.identifier_field
    validated = await validate_form_fields(
        [identifier], [FormField("email", page.value("email"))], PUBLIC
    )
    if isinstance(validated, FieldError):
        return Render(
            "forgot_password.html", context, errors=field_errors(validated), status_code=400
        )
    checks = dk.web.reset_checks(PUBLIC, validated[0].value, client_ip(page.request))
    if (wait := await dk.limiter.attempt(*checks)) is not None:
        return too_many("forgot_password.html", wait, context)
    result = await dk.web.emailpassword.generate_password_reset_token_post(
        validated, PUBLIC, options(page, dk.emailpassword.config), {}
    )
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
    dk = page.dk
    token, tenant_id = page.value("token"), tenant_from_query(page)
    context = {"token": token, "tenant_id": tenant_id}
    if page.value("confirm_password") != page.value("password"):
        return Render(
            "reset_password.html",
            context,
            errors={"confirm_password": "Passwords do not match."},
            status_code=400,
        )
    password_field = next(f for f in dk.emailpassword.sign_up_fields if f.id == "password")
    validated = await validate_form_fields(
        [password_field], [FormField("password", page.value("password"))], tenant_id
    )
    if isinstance(validated, FieldError):
        return Render(
            "reset_password.html", context, errors=field_errors(validated), status_code=400
        )
    if not token:
        return Render("reset_password.html", context, message=INVALID_RESET_LINK, status_code=400)
    result = await dk.web.emailpassword.password_reset_post(
        validated, token, tenant_id, options(page, dk.emailpassword.config), {}
    )
    if isinstance(result, ResetTokenConsumed):
        return Redirect(f"{page.login_url}?notice=password-reset")
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
    dk = page.dk
    token, tenant_id = page.value("token"), tenant_from_query(page)
    context = {"token": token, "tenant_id": tenant_id}
    if not token:
        return Render("verify_email.html", context, message=INVALID_VERIFY_LINK, status_code=400)
    result = await dk.web.emailverification.verify_email_post(
        token, page.session, tenant_id, options(page, dk.emailverification.config), {}
    )
    if isinstance(result, EmailVerified):
        context["verified_email"] = result.email
        return Render("verify_email.html", context, notice=f"{result.email} is verified.")
    message = result.message if isinstance(result, GeneralError) else INVALID_VERIFY_LINK
    return Render("verify_email.html", context, message=message, status_code=400)


async def verification_sent(page: PageRequest) -> Outcome:
    assert page.session is not None
    email = await page.dk.emailverification.email_for(page.session.user_id, {})
    return Render("verification_sent.html", {"email": email})


async def resend_verification(page: PageRequest) -> Outcome:
    dk, session = page.dk, page.session
    assert session is not None
    email = await dk.emailverification.email_for(session.user_id, {})
    context = {"email": email}
    if (
        wait := await dk.limiter.attempt(*dk.web.verification_email_checks(session.user_id))
    ) is not None:
        return too_many("verification_sent.html", wait, context)
    result = await dk.web.emailverification.generate_email_verify_token_post(
        session, options(page, dk.emailverification.config), {}
    )
    if isinstance(result, OkResult):
        return Render("verification_sent.html", context, notice="We sent another link.")
    return Redirect(page.after_sign_in)  # already verified: nothing to wait for


# -- sign out --------------------------------------------------------------------------------


async def sign_out(page: PageRequest) -> Outcome:
    dk = page.dk
    await dk.web.session.signout_post(page.session, options(page, dk.session.config), {})
    return Redirect(f"{page.login_url}?notice=signed-out")
