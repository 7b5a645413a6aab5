"""Sign up with an email (or a username) and a password, and ask whether an address
is taken: the one implementation the JSON API and the sign-up page call.

Every attempt whose shape could be read is counted (per IP) *before* its fields are
validated, so probing which values pass validation spends the same budget as
signing up. Then the form is validated and the recipe's (overridable) API handler
makes the account and its session.
"""

from __future__ import annotations

from starlette.requests import Request

from doorkeep.core.common import FieldError, Status
from doorkeep.core.context import UserContext
from doorkeep.core.errors import TooManyAttemptsError
from doorkeep.flows.limits import Attempts, Check, client_ip
from doorkeep.ratelimit import counter_key
from doorkeep.recipes.apis import GeneralError
from doorkeep.recipes.base import context
from doorkeep.recipes.emailpassword import EmailPasswordRecipe
from doorkeep.recipes.emailpassword.apis import EmailExistsOk, SignUpPostOk
from doorkeep.recipes.emailpassword.forms import (
    FormField,
    validate_form_fields,
    with_confirmation,
)
from doorkeep.recipes.session.request import api_options

SignUpResult = SignUpPostOk | FieldError | TooManyAttemptsError | GeneralError


class SignUp:
    def __init__(self, emailpassword: EmailPasswordRecipe, attempts: Attempts) -> None:
        self.emailpassword = emailpassword
        self.attempts = attempts

    def checks(self, ip: str) -> tuple[Check, ...]:
        return ((counter_key("sign-up-ip", ip), self.attempts.limits.sign_up_per_ip),)

    async def sign_up(
        self,
        request: Request,
        form_fields: list[FormField],
        tenant_id: str,
        user_context: UserContext | None = None,
        *,
        confirm_password: object = None,
    ) -> SignUpResult:
        """`confirm_password`: the repeated password, when the form asks for it (the
        pages); a mismatch is a FieldError on `confirmPassword`."""
        if (refused := await self.attempts.count(*self.checks(client_ip(request)))) is not None:
            return refused
        validated = with_confirmation(
            await validate_form_fields(self.emailpassword.sign_up_fields, form_fields, tenant_id),
            form_fields,
            confirm_password,
        )
        if isinstance(validated, FieldError):
            return validated
        return await self.emailpassword.apis.sign_up_post(
            validated,
            tenant_id,
            api_options(request, self.emailpassword.config),
            context(user_context),
        )

    async def email_exists(
        self,
        request: Request,
        email: str,
        tenant_id: str,
        user_context: UserContext | None = None,
    ) -> EmailExistsOk | TooManyAttemptsError | Status:
        """Whether an account has this email (or username): counted per IP, since each
        answer tells something about who has an account."""
        ip = client_ip(request)
        check = (counter_key("email-exists-ip", ip), self.attempts.limits.email_exists_per_ip)
        if (refused := await self.attempts.count(check)) is not None:
            return refused
        return await self.emailpassword.apis.email_exists_get(
            email.strip(),
            tenant_id,
            api_options(request, self.emailpassword.config),
            context(user_context),
        )
