"""The change-phone page of a passwordless account (signed in): name the new number, then
type the code texted to it (doorkeep.flows.change_phone_number). The change waiting for
its code lives in an HttpOnly cookie, as a sign-in attempt does."""

from __future__ import annotations

from doorkeep.core.common import FieldError
from doorkeep.core.errors import TooManyAttemptsError
from doorkeep.core.passwordless_results import (
    ExpiredUserInputCodeError,
    IncorrectUserInputCodeError,
    PhoneNumberAlreadyExistsError,
    RestartFlowError,
)
from doorkeep.flows.change_phone_number import PhoneNumberChanged, PhoneNumberCodeSent
from doorkeep.web.pages.auth_pages import too_many
from doorkeep.web.pages.outcome import Outcome, PageRequest, Redirect, Render
from doorkeep.web.pages.passwordless_pages import (
    PHONE_COOKIE,
    Attempt,
    attempt_of,
    flow_of,
    remember,
)


async def _phone_context(page: PageRequest) -> tuple[dict[str, object], Attempt | None]:
    """The page's context and the change waiting for its code, if any (its device lives)."""
    session = page.session
    assert session is not None, "the router lets only signed-in requests through"
    user = await page.services.users.get_user(session.user_id)
    phones = user.phone_numbers if user is not None else []
    context: dict[str, object] = {"current_phone": phones[0] if phones else None}
    attempt = attempt_of(page, PHONE_COOKIE)
    if attempt is not None:
        device = await flow_of(page).passwordless.list_codes_by_device_id(
            attempt.device_id, attempt.tenant_id
        )
        if device is None or device.pre_auth_session_id != attempt.pre_auth_session_id:
            attempt = None
        else:
            context.update(device_id=True, new_phone=device.phone_number)
    return context, attempt


async def change_phone_form(page: PageRequest) -> Outcome:
    context, _ = await _phone_context(page)
    return Render("change_phone.html", context)


async def change_phone(page: PageRequest) -> Outcome:
    session = page.session
    assert session is not None
    context, attempt = await _phone_context(page)
    flow = page.services.flows.change_phone_number
    if attempt is None or "phone_number" in page.form:
        context.pop("device_id", None)
        sent = await flow.send_code(page.request, session, page.value("phone_number"))
        if isinstance(sent, PhoneNumberCodeSent):
            remember(
                page,
                Attempt(session.tenant_id, sent.pre_auth_session_id, sent.device_id),
                PHONE_COOKIE,
            )
            return Redirect(page.url("change-phone"))
        if isinstance(sent, PhoneNumberChanged):
            return Redirect(f"{page.url('account')}?notice=phone-changed")
        return _phone_problem(context, sent, field="phone_number")
    code = "".join(page.value("code").split())
    if not code:
        return Render(
            "change_phone.html", context, errors={"code": "Please enter the code."}, status_code=400
        )
    done = await flow.confirm(
        page.request, session, attempt.pre_auth_session_id, attempt.device_id, code
    )
    if isinstance(done, PhoneNumberChanged):
        remember(page, None, PHONE_COOKIE)
        return Redirect(f"{page.url('account')}?notice=phone-changed")
    if isinstance(done, RestartFlowError):
        remember(page, None, PHONE_COOKIE)
        context.pop("device_id", None)
        message = "That code can no longer be used. Ask for a new one."
        return Render("change_phone.html", context, message=message, status_code=400)
    if isinstance(done, IncorrectUserInputCodeError):
        left = done.maximum_code_input_attempts - done.failed_code_input_attempt_count
        message = f"That code is not right. {left} {'try' if left == 1 else 'tries'} left."
        return Render("change_phone.html", context, errors={"code": message}, status_code=400)
    return _phone_problem(context, done, field="code")


def _phone_problem(context: dict[str, object], result: object, *, field: str) -> Render:
    if isinstance(result, TooManyAttemptsError):
        return too_many("change_phone.html", result.retry_after, context)
    if isinstance(result, FieldError):
        return Render(
            "change_phone.html", context, errors={field: result.fields[0][1]}, status_code=400
        )
    if isinstance(result, PhoneNumberAlreadyExistsError):
        message = "This number is already used by another account."
        return Render("change_phone.html", context, errors={field: message}, status_code=400)
    if isinstance(result, ExpiredUserInputCodeError):
        message = "That code has expired. Use another number, or ask again."
        return Render("change_phone.html", context, errors={field: message}, status_code=400)
    reason = getattr(result, "reason", None) or "Something went wrong. Please try again."
    return Render("change_phone.html", context, message=str(reason), status_code=400)
