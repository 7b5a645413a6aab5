"""Passwordless sign-in (a one-time code or a magic link, by email or SMS): the one
implementation the JSON API (POST /signinup/code, …/resend, …/consume, GET
/passwordless/email/exists, …/phonenumber/exists) and the pages call.

Check the request's shape (a malformed one is a BadRequest: 400 on the JSON API),
count the abuse limits, then call the recipe's (overridable) API handler:

- creating a code: per IP and per contact (the email, or the number in E.164 however
  it is spelt, in every tenant), counted *before* anything else is done — the answer
  and the work do not depend on whether the contact has an account;
- resending: the same budgets (one more message to the contact) and the device's
  cool-down: nothing is sent to a device within `passwordless_resend_per_device`'s
  window of its last code, and at most that many resends a window;
- consuming: per IP (wrong codes are also counted per device, in the database).

No counter is reset by a successful sign-in: an SMS pumper owns the numbers he texts
and could consume his own codes, so a success must not give a contact its budget back.
"""

from __future__ import annotations

import math

from starlette.requests import Request

from doorkeep.core.common import now_ms
from doorkeep.core.context import UserContext
from doorkeep.core.errors import BadRequest, TooManyAttemptsError
from doorkeep.core.passwordless_results import Device, RestartFlowError
from doorkeep.core.passwordless_secrets import ContactMethod
from doorkeep.flows.limits import Attempts, client_ip
from doorkeep.ratelimit import (
    counter_key,
    passwordless_code_checks,
    passwordless_consume_checks,
    passwordless_contact,
    passwordless_resend_checks,
)
from doorkeep.recipes.base import context
from doorkeep.recipes.passwordless import PasswordlessRecipe
from doorkeep.recipes.passwordless.apis import (
    ConsumeCodePostResult,
    CreateCodePostResult,
    ExistsOk,
    ResendCodePostResult,
)
from doorkeep.recipes.session.request import api_options

CreateCodeResult = CreateCodePostResult | TooManyAttemptsError
ResendCodeResult = ResendCodePostResult | TooManyAttemptsError
ConsumeCodeResult = ConsumeCodePostResult | TooManyAttemptsError
ExistsResult = ExistsOk | TooManyAttemptsError

ONE_CONTACT = "Please provide exactly one of email or phoneNumber"
ONE_CODE = "Please provide one of (linkCode) or (deviceId+userInputCode) and not both"


class Passwordless:
    def __init__(self, passwordless: PasswordlessRecipe, attempts: Attempts) -> None:
        self.passwordless = passwordless
        self.attempts = attempts

    def contact_of(self, email: object, phone_number: object) -> tuple[str | None, str | None]:
        """(email, phone number) as given, exactly one set and allowed by the contact
        method; BadRequest otherwise (validating the value is the recipe's work)."""
        if (email is None) == (phone_number is None):
            raise BadRequest(ONE_CONTACT)
        method = self.passwordless.contact_method
        if email is not None:
            if method is ContactMethod.PHONE:
                raise BadRequest('Please provide a phoneNumber: the contact method is "PHONE"')
            if not isinstance(email, str):
                raise BadRequest("email must be a string")
            return email, None
        if method is ContactMethod.EMAIL:
            raise BadRequest('Please provide an email: the contact method is "EMAIL"')
        if not isinstance(phone_number, str):
            raise BadRequest("phoneNumber must be a string")
        return None, phone_number

    async def create_code(
        self,
        request: Request,
        email: object,
        phone_number: object,
        tenant_id: str,
        user_context: UserContext | None = None,
    ) -> CreateCodeResult:
        """A new device and its first code, sent to the contact (OK carries the device)."""
        email, phone_number = self.contact_of(email, phone_number)
        contact = passwordless_contact(email, phone_number)
        checks = passwordless_code_checks(self.attempts.limits, contact, client_ip(request))
        if (refused := await self.attempts.count(*checks)) is not None:
            return refused
        recipe = self.passwordless
        return await recipe.apis.create_code_post(
            email,
            phone_number,
            tenant_id,
            api_options(request, recipe.config),
            context(user_context),
        )

    async def resend_code(
        self,
        request: Request,
        device_id: object,
        pre_auth_session_id: object,
        tenant_id: str,
        user_context: UserContext | None = None,
    ) -> ResendCodeResult:
        """Another code to the device's contact; RESTART_FLOW_ERROR once it is gone."""
        if not _filled(device_id) or not _filled(pre_auth_session_id):
            raise BadRequest("Please provide the deviceId and the preAuthSessionId")
        assert isinstance(device_id, str) and isinstance(pre_auth_session_id, str)
        ctx = context(user_context)
        recipe = self.passwordless
        device = await recipe.list_codes_by_device_id(device_id, tenant_id, ctx)
        if device is None or device.pre_auth_session_id != pre_auth_session_id:
            return RestartFlowError()
        if (wait := self.cool_down(device)) > 0:
            return TooManyAttemptsError(wait)
        contact = passwordless_contact(device.email, device.phone_number)
        checks = passwordless_resend_checks(
            self.attempts.limits, contact, pre_auth_session_id, client_ip(request)
        )
        if (refused := await self.attempts.count(*checks)) is not None:
            return refused
        return await recipe.apis.resend_code_post(
            device_id, pre_auth_session_id, tenant_id, api_options(request, recipe.config), ctx
        )

    def cool_down(self, device: Device) -> int:
        """Seconds until the device may be sent another code (0: now): the resend limit's
        window after its newest code. The pages show it next to their resend button."""
        if not self.attempts.limiter.enabled or not device.codes:
            return 0
        window_ms = self.attempts.limits.passwordless_resend_per_device.window_seconds * 1000
        newest = max(code.time_created for code in device.codes)
        return max(0, math.ceil((newest + window_ms - now_ms()) / 1000))

    async def consume_code(
        self,
        request: Request,
        pre_auth_session_id: object,
        tenant_id: str,
        *,
        user_input_code: object = None,
        device_id: object = None,
        link_code: object = None,
        user_context: UserContext | None = None,
    ) -> ConsumeCodeResult:
        """Spend a link code, or a device's user-input code: OK signs the contact in (or
        up) and puts the new session's tokens on the request's response."""
        if not _filled(pre_auth_session_id):
            raise BadRequest("Please provide the preAuthSessionId")
        assert isinstance(pre_auth_session_id, str)
        link, device, code = _code_of(link_code, device_id, user_input_code)
        checks = passwordless_consume_checks(self.attempts.limits, client_ip(request))
        if (refused := await self.attempts.count(*checks)) is not None:
            return refused
        recipe = self.passwordless
        return await recipe.apis.consume_code_post(
            pre_auth_session_id,
            code,
            device,
            link,
            tenant_id,
            api_options(request, recipe.config),
            context(user_context),
        )

    async def email_exists(
        self, request: Request, email: str, tenant_id: str, user_context: UserContext | None = None
    ) -> ExistsResult:
        """Whether a passwordless user has this email: counted per IP in the budget the
        emailpassword question spends, since each answer tells who has an account."""
        if (refused := await self._count_exists(request)) is not None:
            return refused
        recipe = self.passwordless
        return await recipe.apis.email_exists_get(
            email.strip(), tenant_id, api_options(request, recipe.config), context(user_context)
        )

    async def phone_number_exists(
        self,
        request: Request,
        phone_number: str,
        tenant_id: str,
        user_context: UserContext | None = None,
    ) -> ExistsResult:
        if (refused := await self._count_exists(request)) is not None:
            return refused
        recipe = self.passwordless
        return await recipe.apis.phone_number_exists_get(
            phone_number, tenant_id, api_options(request, recipe.config), context(user_context)
        )

    async def _count_exists(self, request: Request) -> TooManyAttemptsError | None:
        limit = self.attempts.limits.email_exists_per_ip
        return await self.attempts.count(
            (counter_key("email-exists-ip", client_ip(request)), limit)
        )


def _code_of(
    link_code: object, device_id: object, user_input_code: object
) -> tuple[str | None, str | None, str | None]:
    """(link code, device ID, user-input code): a link code alone, or the other two."""
    if link_code is not None:
        if device_id is not None or user_input_code is not None:
            raise BadRequest(ONE_CODE)
        if not isinstance(link_code, str):
            raise BadRequest("linkCode must be a string")
        return link_code, None, None
    if device_id is None and user_input_code is None:
        raise BadRequest(ONE_CODE)
    if not isinstance(device_id, str) or not isinstance(user_input_code, str):
        raise BadRequest("Please provide the deviceId and the userInputCode as strings")
    return None, device_id, user_input_code


def _filled(value: object) -> bool:
    return isinstance(value, str) and bool(value)
