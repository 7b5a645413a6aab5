"""Change the phone number of a passwordless account: the new number proves itself with
a code first (POST /auth/user/phone/change, two steps, and the change-phone page).

1. `send_code`: the signed-in user names the new number; it is normalised to E.164,
   must be free among passwordless users in every tenant of the user, and gets a code
   by SMS (counted in the same per-IP and per-number budgets as a sign-in code).
   Answers PHONE_NUMBER_CODE_SENT with the device (deviceId, preAuthSessionId).
2. `confirm`: the device's code is checked (a wrong one counts against the device, as
   at sign-in); the number the account gets is the device's — the one that received
   the code — never one named in this request. Then every pending code of that number
   is revoked and the user updated: OK with the new number.

Both steps need a session signed in within `change_email_fresh_seconds` (there is no
password to confirm): a stolen, older session must not move the account to a number
its thief owns. Otherwise PHONE_NUMBER_CHANGE_NOT_ALLOWED_ERROR, as for an account
that does not sign in with a code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from starlette.requests import Request

from doorkeep.config import Settings
from doorkeep.core.common import FieldError, Status
from doorkeep.core.context import UserContext
from doorkeep.core.errors import BadRequest, TooManyAttemptsError
from doorkeep.core.passwordless_results import (
    UNCHANGED,
    CheckOk,
    CodeCreated,
    ExpiredUserInputCodeError,
    IncorrectUserInputCodeError,
    PhoneNumberAlreadyExistsError,
    RestartFlowError,
)
from doorkeep.core.passwordless_secrets import normalise_phone_number
from doorkeep.core.users import LoginMethod
from doorkeep.delivery.sms import PhoneNumberChangeSms
from doorkeep.flows.change_email import signed_in_recently
from doorkeep.flows.limits import Attempts, client_ip
from doorkeep.ratelimit import (
    passwordless_code_checks,
    passwordless_consume_checks,
    passwordless_contact,
)
from doorkeep.recipes.base import context
from doorkeep.recipes.passwordless import PasswordlessRecipe
from doorkeep.recipes.session import SessionRecipe
from doorkeep.recipes.session.request import Session

SIGN_IN_AGAIN = (
    "For your security, sign in again (with a new code) and then change your phone number."
)
NOT_PASSWORDLESS = "This account does not sign in with a code, so it has no phone number."


@dataclass(frozen=True)
class PhoneNumberCodeSent(Status):
    status: ClassVar[str] = "PHONE_NUMBER_CODE_SENT"
    device_id: str
    pre_auth_session_id: str

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "deviceId": self.device_id,
            "preAuthSessionId": self.pre_auth_session_id,
        }


@dataclass(frozen=True)
class PhoneNumberChanged(Status):
    phone_number: str


@dataclass(frozen=True)
class PhoneNumberChangeNotAllowedError(Status):
    status: ClassVar[str] = "PHONE_NUMBER_CHANGE_NOT_ALLOWED_ERROR"
    reason: str


SendCodeResult = (
    PhoneNumberCodeSent
    | PhoneNumberChanged  # the number is already the account's: nothing to prove
    | PhoneNumberAlreadyExistsError
    | PhoneNumberChangeNotAllowedError
    | FieldError
    | TooManyAttemptsError
)
ConfirmResult = (
    PhoneNumberChanged
    | IncorrectUserInputCodeError
    | ExpiredUserInputCodeError
    | RestartFlowError
    | PhoneNumberAlreadyExistsError
    | PhoneNumberChangeNotAllowedError
    | TooManyAttemptsError
)


class ChangePhoneNumber:
    def __init__(
        self,
        passwordless: PasswordlessRecipe,
        session: SessionRecipe,
        attempts: Attempts,
        settings: Settings,
    ) -> None:
        self.passwordless = passwordless
        self.session = session
        self.attempts = attempts
        self.settings = settings

    async def send_code(
        self,
        request: Request,
        session: Session,
        phone_number: object,
        user_context: UserContext | None = None,
    ) -> SendCodeResult:
        ctx = context(user_context)
        login = await self.login_allowed_to_change(session, ctx)
        if isinstance(login, PhoneNumberChangeNotAllowedError):
            return login
        phone = normalise_phone_number(phone_number)
        if phone is None:
            return FieldError.one("phoneNumber", "Phone number is invalid")
        if phone == login.phone_number:
            return PhoneNumberChanged(phone)
        if await self.is_taken(login, phone, ctx):
            return PhoneNumberAlreadyExistsError()
        checks = passwordless_code_checks(
            self.attempts.limits, passwordless_contact(phone_number=phone), client_ip(request)
        )
        if (refused := await self.attempts.count(*checks)) is not None:
            return refused
        tenant_id = session.tenant_id
        created = await self.passwordless.functions.create_code(None, phone, None, tenant_id, ctx)
        assert isinstance(created, CodeCreated)  # a normalised number in the session's tenant
        sms = PhoneNumberChangeSms(phone, created.user_input_code, created.code_lifetime, tenant_id)
        await self.passwordless.sms_delivery.send_sms(sms, ctx)
        return PhoneNumberCodeSent(created.device_id, created.pre_auth_session_id)

    async def confirm(
        self,
        request: Request,
        session: Session,
        pre_auth_session_id: object,
        device_id: object,
        user_input_code: object,
        user_context: UserContext | None = None,
    ) -> ConfirmResult:
        """BadRequest unless the three are non-empty strings."""
        values = (pre_auth_session_id, device_id, user_input_code)
        if not all(isinstance(value, str) and value for value in values):
            raise BadRequest("Please provide the preAuthSessionId, deviceId and userInputCode")
        assert isinstance(pre_auth_session_id, str) and isinstance(device_id, str)
        assert isinstance(user_input_code, str)
        ctx = context(user_context)
        login = await self.login_allowed_to_change(session, ctx)
        if isinstance(login, PhoneNumberChangeNotAllowedError):
            return login
        checks = passwordless_consume_checks(self.attempts.limits, client_ip(request))
        if (refused := await self.attempts.count(*checks)) is not None:
            return refused
        functions, tenant_id = self.passwordless.functions, session.tenant_id
        checked = await functions.check_code(
            pre_auth_session_id, user_input_code, device_id, None, tenant_id, ctx
        )
        if not isinstance(checked, CheckOk):
            return checked
        phone = checked.consumed_device.phone_number
        if phone is None:  # a device of an email proves no number
            return RestartFlowError()
        await functions.revoke_all_codes(None, phone, tenant_id, ctx)  # spends this code too
        updated = await functions.update_user(login.recipe_user_id, UNCHANGED, phone, ctx)
        if isinstance(updated, PhoneNumberAlreadyExistsError):
            return updated
        if updated.status != "OK":
            return PhoneNumberChangeNotAllowedError(NOT_PASSWORDLESS)
        return PhoneNumberChanged(phone)

    async def login_allowed_to_change(
        self, session: Session, user_context: UserContext
    ) -> LoginMethod | PhoneNumberChangeNotAllowedError:
        """The session user's passwordless login, if the session is recent enough."""
        user = await self.passwordless.core.users.get_user(session.user_id)
        login = None
        if user is not None:
            login = next((m for m in user.login_methods if m.recipe_id == "passwordless"), None)
        if login is None:
            return PhoneNumberChangeNotAllowedError(NOT_PASSWORDLESS)
        window_s = self.settings.change_email_fresh_seconds
        if not await signed_in_recently(self.session, session.handle, window_s, user_context):
            return PhoneNumberChangeNotAllowedError(SIGN_IN_AGAIN)
        return login

    async def is_taken(self, login: LoginMethod, phone: str, user_context: UserContext) -> bool:
        """Held by another passwordless user in any tenant of this one."""
        for tenant_id in login.tenant_ids:
            holder = await self.passwordless.functions.get_user_by_phone_number(
                phone, tenant_id, user_context
            )
            if holder is not None and all(
                m.recipe_user_id != login.recipe_user_id for m in holder.login_methods
            ):
                return True
        return False
