"""Pages for a signed-in user: the account page (with active sessions), change
password and change email. Each calls the same flow as the JSON API."""

from __future__ import annotations

import datetime as dt

from doorkeep.core.common import PUBLIC, FieldError
from doorkeep.core.emailpassword import EmailAlreadyExistsError, WrongCredentialsError
from doorkeep.core.errors import TooManyAttemptsError
from doorkeep.core.users import User
from doorkeep.flows.change_email import EmailChanged, EmailChangeNotAllowedError, VerificationSent
from doorkeep.flows.change_password import PasswordChanged
from doorkeep.recipes.session.request import Session, mutations_of
from doorkeep.web.pages.auth_pages import NOTICES, field_errors, too_many
from doorkeep.web.pages.outcome import Outcome, PageRequest, Redirect, Render

# The flow names its fields as the JSON API does; the form uses piccolo_api's names.
PASSWORD_FORM_NAMES = {
    "oldPassword": "current_password",
    "newPassword": "new_password",
    "confirmNewPassword": "confirm_new_password",
}


def signed_in(page: PageRequest) -> Session:
    assert page.session is not None, "the router lets only signed-in requests through"
    return page.session


async def account(page: PageRequest) -> Outcome:
    services, session = page.services, signed_in(page)
    user = await services.users.get_user(session.user_id)
    if user is None:
        return Redirect(page.login_url)
    handles = await services.session.get_all_session_handles_for_user(session.user_id)
    devices = []
    for handle in handles:
        record = await services.session.get_session_information(handle)
        if record is not None:
            started = dt.datetime.fromtimestamp(record.time_created / 1000, tz=dt.UTC)
            devices.append({"current": handle == session.handle, "started": started})
    devices.sort(key=lambda device: (not device["current"], device["started"]))
    context = {
        "activity": await _recent_activity(page, session.user_id),
        "user": user,
        "email": user.email,  # the email/password login's, or the passwordless one's
        "phone": user.phone_numbers[0] if user.phone_numbers else None,
        "has_password": _has_password(user),
        "username": next((m.username for m in user.login_methods if m.username), None),
        "email_verified": await services.emailverification.is_user_verified(session.user_id, {}),
        "devices": devices,
        "roles": await _roles(page, session),
    }
    notice = NOTICES.get(page.request.query_params.get("notice", ""))
    return Render("account.html", context, notice=notice)


async def _roles(page: PageRequest, session: Session) -> list[str]:
    """The user's roles in the session's tenant, through the recipe (overrides apply)."""
    roles = page.services.userroles
    if roles is None:
        return []
    return await roles.get_roles_for_user(session.tenant_id, session.user_id)


# What the account page calls each kind of entry of the audit trail.
ACTIVITY = {
    "sign_in.succeeded": "Signed in",
    "sign_in.failed": "Wrong password",
    "password.changed": "Password changed",
    "email.changed": "Email changed",
    "password_reset.requested": "Password reset requested",
    "password_reset.completed": "Password reset",
    "email_verification.confirmed": "Email verified",
    "session.theft_detected": "Stolen session detected and ended",
    "session.revoked": "Signed out",
    "user.created": "Account created",
    "role.changed": "Role changed",
}
ACTIVITY_SHOWN = 10


async def _recent_activity(page: PageRequest, user_id: str) -> list[dict[str, object]]:
    """The user's newest security events (sign-ins with device and address, changes)."""
    audit = page.services.audit
    if audit is None:
        return []
    entries = await audit.recent(PUBLIC, user_id, ACTIVITY_SHOWN)
    return [
        {
            "what": ACTIVITY.get(entry.kind, entry.kind),
            "when": dt.datetime.fromtimestamp(entry.time / 1000, tz=dt.UTC),
            "ip": entry.ip,
            "device": entry.user_agent,
            "failed": entry.outcome == "failure",
        }
        for entry in entries
    ]


async def sign_out_other_devices(page: PageRequest) -> Outcome:
    sessions, session = page.services.session, signed_in(page)
    for handle in await sessions.get_all_session_handles_for_user(session.user_id):
        if handle != session.handle:
            await sessions.revoke_session(handle)
    return Redirect(f"{page.url('account')}?notice=others-signed-out")


async def change_password_form(page: PageRequest) -> Outcome:
    return Render("change_password.html")


async def change_password(page: PageRequest) -> Outcome:
    services, session = page.services, signed_in(page)
    result = await services.flows.change_password.change_password(
        session.user_id,
        page.value("current_password"),
        page.value("new_password"),
        tenant_id=session.tenant_id,
        current_session_handle=session.handle,
        confirm_new_password=page.value("confirm_new_password"),
    )
    if isinstance(result, PasswordChanged):
        if result.current_session_revoked:
            services.session.transport.clear(mutations_of(page.request), "cookie")
            return Redirect(f"{page.login_url}?notice=password-changed-signed-out")
        return Redirect(f"{page.url('account')}?notice=password-changed")
    if isinstance(result, TooManyAttemptsError):
        return too_many("change_password.html", result.retry_after)
    if isinstance(result, WrongCredentialsError):
        errors = {"current_password": "Your current password is not right."}
        return Render("change_password.html", errors=errors, status_code=400)
    assert isinstance(result, FieldError)
    errors = field_errors(result, PASSWORD_FORM_NAMES)
    return Render("change_password.html", errors=errors, status_code=400)


async def change_email_context(page: PageRequest) -> dict[str, object]:
    user = await page.services.users.get_user(signed_in(page).user_id)
    fresh = page.services.settings.change_email_fresh_seconds
    password_hint = (
        f"Needed when you signed in more than {max(1, fresh // 60)} minutes ago."
        if fresh > 0
        else "Needed to change your email."
    )
    return {
        "current_email": user and user.email,
        "password_hint": password_hint,
        # A passwordless account has no password: a recent sign-in is its proof.
        "has_password": user is not None and _has_password(user),
    }


def _has_password(user: User) -> bool:
    return any(method.recipe_id == "emailpassword" for method in user.login_methods)


async def change_email_form(page: PageRequest) -> Outcome:
    return Render("change_email.html", await change_email_context(page))


async def change_email(page: PageRequest) -> Outcome:
    session = signed_in(page)
    context = {**await change_email_context(page), "values": page.form}
    result = await page.services.flows.change_email.change_email_in_session(
        session, page.value("email"), password=page.value("current_password") or None
    )
    if isinstance(result, EmailChanged):
        return Redirect(f"{page.url('account')}?notice=email-changed")
    if isinstance(result, VerificationSent):
        notice = (
            f"We sent a link to {page.value('email').strip()}. Your address changes when you open "
            "it; until then, keep using the current one."
        )
        return Render("change_email.html", context, notice=notice)
    if isinstance(result, TooManyAttemptsError):
        return too_many("change_email.html", result.retry_after, context)
    errors: dict[str, str] | None = None
    if isinstance(result, EmailAlreadyExistsError):
        errors = {"email": "This email is already used by another account."}
    elif isinstance(result, WrongCredentialsError):
        errors = {"current_password": "Your current password is not right."}
    elif isinstance(result, EmailChangeNotAllowedError):
        return Render("change_email.html", context, message=result.reason, status_code=400)
    else:
        errors = field_errors(result, {"password": "current_password"})
    return Render("change_email.html", context, errors=errors, status_code=400)
