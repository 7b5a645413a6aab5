"""Pages of passwordless sign-in (shown when DOORKEEP_PASSWORDLESS is on): ask for the
email or phone number, "check your inbox/phone" with the code input, resend (with its
cool-down) and another address, and the magic-link landing page. Each calls the same
flow as the JSON API (doorkeep.flows.passwordless).

The browser's sign-in attempt (its device ID, a secret, and its preAuthSessionId) lives
in an HttpOnly cookie, never in a URL. The landing page never spends a link on GET — a
mail scanner fetching every link must not use it up — and its link code is in the URL's
fragment, which browsers never send: a small script (static/passwordless.js) copies it
into the form the visitor submits. Without JavaScript the page says so and offers the
code instead, when this browser asked for it.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from doorkeep.core.common import PUBLIC
from doorkeep.core.errors import TooManyAttemptsError
from doorkeep.core.passwordless_results import (
    Device,
    ExpiredUserInputCodeError,
    IncorrectUserInputCodeError,
    RestartFlowError,
)
from doorkeep.core.passwordless_secrets import ContactMethod
from doorkeep.flows.passwordless import Passwordless
from doorkeep.recipes.apis import GeneralError, OkResult
from doorkeep.recipes.passwordless.apis import (
    ConsumeCodePostOk,
    CreateCodePostOk,
    SignInUpNotAllowed,
)
from doorkeep.recipes.session.request import mutations_of
from doorkeep.web.pages.auth_pages import tenant_from_query, too_many
from doorkeep.web.pages.outcome import Outcome, PageRequest, Redirect, Render
from doorkeep.web.pages.security import local_path

COOKIE = "dk_pl"  # the sign-in attempt
PHONE_COOKIE = "dk_pl_phone"  # a change of phone number waiting for its code
INVALID_LINK = "This sign-in link is invalid, used or expired. Ask for a new one."
LINK_INCOMPLETE = (
    "This page needs the end of the link (after the #), which only JavaScript can read. "
    "Open the link again in a browser with JavaScript on, or type the code instead."
)


@dataclass(frozen=True)
class Attempt:
    """The sign-in attempt this browser started (kept in its HttpOnly cookie)."""

    tenant_id: str
    pre_auth_session_id: str
    device_id: str
    redirect_to: str = ""

    def encode(self) -> str:
        data = [self.tenant_id, self.pre_auth_session_id, self.device_id, self.redirect_to]
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str | None) -> Attempt | None:
        if not value or len(value) > 1024:
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        except (binascii.Error, ValueError):
            return None
        if (
            not isinstance(data, list)
            or len(data) != 4
            or not all(isinstance(v, str) for v in data)
        ):
            return None
        return cls(data[0], data[1], data[2], local_path(data[3]) or "")


def flow_of(page: PageRequest) -> Passwordless:
    return page.services.flows.passwordless


def cookie_name(page: PageRequest, name: str = COOKIE) -> str:
    return f"__Host-{name}" if page.services.settings.secure_cookies else name


def attempt_of(page: PageRequest, name: str = COOKIE) -> Attempt | None:
    return Attempt.decode(page.request.cookies.get(cookie_name(page, name)))


def remember(page: PageRequest, attempt: Attempt | None, name: str = COOKIE) -> None:
    """Set (or with None, clear) the attempt's cookie on this response."""
    settings = page.services.settings
    value, max_age = ("", 0) if attempt is None else (attempt.encode(), 24 * 3600)
    parts = [f"{cookie_name(page, name)}={value}", "Path=/", "HttpOnly", "SameSite=Lax"]
    parts.append(f"Max-Age={max_age}")
    if settings.secure_cookies:
        parts.append("Secure")
    mutations_of(page.request).add_cookie("; ".join(parts))


def start_url(page: PageRequest, notice: str | None = None) -> str:
    url = page.url("login/passwordless")
    return f"{url}?notice={notice}" if notice else url


# -- ask for the email or phone ----------------------------------------------------------------


def start_context(page: PageRequest) -> dict[str, object]:
    recipe = flow_of(page).passwordless
    method, flow = recipe.contact_method, recipe.flow_type
    label, kind = {
        ContactMethod.EMAIL: ("Email", "email"),
        ContactMethod.PHONE: ("Phone number", "tel"),
        ContactMethod.EMAIL_OR_PHONE: ("Email or phone number", "text"),
    }[method]
    what = {(True, False): "a code", (False, True): "a link", (True, True): "a code and a link"}[
        (flow.sends_code, flow.sends_link)
    ]
    return {
        "contact_label": label,
        "contact_type": kind,
        "phone_hint": method is not ContactMethod.EMAIL,
        "sends": what,
        "redirect_to": local_path(page.request.query_params.get("redirect_to")) or "",
    }


STARTED_NOTICES = {"restart": "That sign-in attempt has ended. Please ask for a new code."}


async def start_form(page: PageRequest) -> Outcome:
    notice = STARTED_NOTICES.get(page.request.query_params.get("notice", ""))
    return Render("passwordless_start.html", start_context(page), notice=notice)


async def start(page: PageRequest) -> Outcome:
    context = {**start_context(page), "values": page.form}
    context["redirect_to"] = local_path(page.value("redirect_to")) or ""
    value = page.value("contact").strip()
    if not value:
        return Render(
            "passwordless_start.html",
            context,
            errors={"contact": "Please fill this in."},
            status_code=400,
        )
    flow = flow_of(page)
    method = flow.passwordless.contact_method
    is_email = method is ContactMethod.EMAIL or (
        method is ContactMethod.EMAIL_OR_PHONE and "@" in value
    )
    email, phone = (value, None) if is_email else (None, value)
    result = await flow.create_code(page.request, email, phone, PUBLIC)
    if isinstance(result, CreateCodePostOk):
        attempt = Attempt(
            PUBLIC, result.pre_auth_session_id, result.device_id, str(context["redirect_to"])
        )
        remember(page, attempt)
        return Redirect(page.url("login/passwordless/check"))
    if isinstance(result, TooManyAttemptsError):
        return too_many("passwordless_start.html", result.retry_after, context)
    if isinstance(result, GeneralError) and result.message.endswith("is invalid"):
        message = (
            result.message
            if method is not ContactMethod.EMAIL_OR_PHONE
            else ("Please enter an email, or a phone number with its country code (+1 …).")
        )
        return Render(
            "passwordless_start.html", context, errors={"contact": message}, status_code=400
        )
    return Render("passwordless_start.html", context, message=_reason(result), status_code=400)


# -- check your inbox / phone ------------------------------------------------------------------


async def _check_page(page: PageRequest) -> tuple[Attempt, Device] | Redirect:
    """The browser's attempt and its device, or where to go when there is none."""
    attempt = attempt_of(page)
    if attempt is None:
        return Redirect(start_url(page))
    device = await flow_of(page).passwordless.list_codes_by_device_id(
        attempt.device_id, attempt.tenant_id
    )
    if device is None or device.pre_auth_session_id != attempt.pre_auth_session_id:
        remember(page, None)
        return Redirect(start_url(page, "restart"))
    return attempt, device


def check_context(page: PageRequest, device: Device) -> dict[str, object]:
    flow = flow_of(page)
    recipe = flow.passwordless
    return {
        "contact": device.email or device.phone_number,
        "by_email": device.email is not None,
        "sends_code": recipe.flow_type.sends_code,
        "sends_link": recipe.flow_type.sends_link,
        "cool_down": flow.cool_down(device),
        "resend_window": flow.attempts.limits.passwordless_resend_per_device.window_seconds
        if flow.attempts.limiter.enabled
        else 0,
    }


async def check_form(page: PageRequest) -> Outcome:
    found = await _check_page(page)
    if isinstance(found, Redirect):
        return found
    return Render("passwordless_check.html", check_context(page, found[1]))


async def check(page: PageRequest) -> Outcome:
    """The code typed on the check page (or on the landing page without JavaScript)."""
    found = await _check_page(page)
    if isinstance(found, Redirect):
        return found
    attempt, device = found
    context = check_context(page, device)
    code = "".join(page.value("code").split())
    if not code:
        return Render(
            "passwordless_check.html",
            context,
            errors={"code": "Please enter the code."},
            status_code=400,
        )
    result = await flow_of(page).consume_code(
        page.request,
        attempt.pre_auth_session_id,
        attempt.tenant_id,
        user_input_code=code,
        device_id=attempt.device_id,
    )
    if isinstance(result, ConsumeCodePostOk):
        remember(page, None)
        return Redirect(attempt.redirect_to or page.after_sign_in)
    if isinstance(result, RestartFlowError):
        remember(page, None)
        return Redirect(start_url(page, "restart"))
    if isinstance(result, IncorrectUserInputCodeError):
        left = result.maximum_code_input_attempts - result.failed_code_input_attempt_count
        message = f"That code is not right. {left} {'try' if left == 1 else 'tries'} left."
        return Render("passwordless_check.html", context, errors={"code": message}, status_code=400)
    if isinstance(result, ExpiredUserInputCodeError):
        message = "That code has expired. Ask for a new one below."
        return Render("passwordless_check.html", context, errors={"code": message}, status_code=400)
    if isinstance(result, TooManyAttemptsError):
        return too_many("passwordless_check.html", result.retry_after, context)
    return Render("passwordless_check.html", context, message=_reason(result), status_code=400)


async def resend(page: PageRequest) -> Outcome:
    found = await _check_page(page)
    if isinstance(found, Redirect):
        return found
    attempt, device = found
    flow = flow_of(page)
    result = await flow.resend_code(
        page.request, attempt.device_id, attempt.pre_auth_session_id, attempt.tenant_id
    )
    if isinstance(result, RestartFlowError):
        remember(page, None)
        return Redirect(start_url(page, "restart"))
    refreshed = await flow.passwordless.list_codes_by_device_id(
        attempt.device_id, attempt.tenant_id
    )
    context = check_context(page, refreshed or device)
    if isinstance(result, OkResult):
        return Render(
            "passwordless_check.html",
            context,
            notice=f"We sent a new message to {context['contact']}.",
        )
    if isinstance(result, TooManyAttemptsError):
        message = f"You can ask for a new message in {result.retry_after} seconds."
        return Render("passwordless_check.html", context, message=message, status_code=429)
    return Render("passwordless_check.html", context, message=_reason(result), status_code=400)


# -- the magic link ----------------------------------------------------------------------------


def link_context(page: PageRequest, pre_auth_session_id: str, tenant_id: str) -> dict[str, object]:
    attempt = attempt_of(page)
    own = attempt is not None and attempt.pre_auth_session_id == pre_auth_session_id
    return {
        "pre_auth_session_id": pre_auth_session_id,
        "tenant_id": tenant_id,
        # Without JavaScript the code is the way in, on the browser that asked for it.
        "offer_code": own and flow_of(page).passwordless.flow_type.sends_code,
    }


async def link_form(page: PageRequest) -> Outcome:
    """What a magic link opens: a button, never a sign-in on GET."""
    pre_auth_session_id = page.request.query_params.get("preAuthSessionId", "")
    context = link_context(page, pre_auth_session_id, tenant_from_query(page))
    if not pre_auth_session_id:
        return Render("passwordless_link.html", context, message=INVALID_LINK, status_code=400)
    return Render("passwordless_link.html", context)


async def use_link(page: PageRequest) -> Outcome:
    pre_auth_session_id, tenant_id = page.value("pre_auth_session_id"), tenant_from_query(page)
    context = link_context(page, pre_auth_session_id, tenant_id)
    link_code = page.value("link_code").lstrip("#")
    if not pre_auth_session_id:
        return Render("passwordless_link.html", context, message=INVALID_LINK, status_code=400)
    if not link_code:
        return Render("passwordless_link.html", context, message=LINK_INCOMPLETE, status_code=400)
    result = await flow_of(page).consume_code(
        page.request, pre_auth_session_id, tenant_id, link_code=link_code
    )
    if isinstance(result, ConsumeCodePostOk):
        attempt = attempt_of(page)
        if attempt is not None and attempt.pre_auth_session_id == pre_auth_session_id:
            remember(page, None)  # this browser's own attempt is spent with the link
            return Redirect(attempt.redirect_to or page.after_sign_in)
        return Redirect(page.after_sign_in)
    if isinstance(result, TooManyAttemptsError):
        return too_many("passwordless_link.html", result.retry_after, context)
    message = INVALID_LINK if isinstance(result, RestartFlowError) else _reason(result)
    return Render("passwordless_link.html", context, message=message, status_code=400)


def _reason(result: object) -> str:
    if isinstance(result, SignInUpNotAllowed):
        return result.reason
    if isinstance(result, GeneralError):
        return result.message
    return "Something went wrong. Please try again."
