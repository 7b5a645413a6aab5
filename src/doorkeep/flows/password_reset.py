"""Password reset: ask for a link, then set a new password with it. The one
implementation the JSON API and the forgot/reset-password pages call.

Asking is validated, then counted (per IP and per account) and handed to the
recipe's (overridable) API handler, which answers OK whether or not the account
exists. Completing validates the new password, is counted per IP (before any token
lookup or hash: an unauthenticated caller must not buy Argon2 work in bulk) and spends
the token.
"""

from __future__ import annotations

from starlette.requests import Request

from doorkeep.core.common import FieldError
from doorkeep.core.context import UserContext
from doorkeep.core.errors import TooManyAttemptsError
from doorkeep.core.passwordreset import InvalidResetTokenError, ResetTokenConsumed
from doorkeep.flows.limits import Attempts, Check, client_ip
from doorkeep.ratelimit import counter_key
from doorkeep.recipes.apis import GeneralError, OkResult
from doorkeep.recipes.base import context
from doorkeep.recipes.emailpassword import EmailPasswordRecipe
from doorkeep.recipes.emailpassword.apis import PasswordResetNotAllowed
from doorkeep.recipes.emailpassword.forms import (
    FormField,
    validate_form_fields,
    with_confirmation,
)
from doorkeep.recipes.session.request import api_options

RequestLinkResult = (
    OkResult | FieldError | TooManyAttemptsError | PasswordResetNotAllowed | GeneralError
)
ResetResult = (
    ResetTokenConsumed | InvalidResetTokenError | FieldError | TooManyAttemptsError | GeneralError
)


class PasswordReset:
    def __init__(self, emailpassword: EmailPasswordRecipe, attempts: Attempts) -> None:
        self.emailpassword = emailpassword
        self.attempts = attempts

    def checks(self, tenant_id: str, account: object, ip: str) -> tuple[Check, ...]:
        limits = self.attempts.limits
        account = str(account).strip().lower()
        return (
            (counter_key("reset-ip", ip), limits.reset_per_ip),
            (counter_key("reset-account", tenant_id, account), limits.reset_per_account),
        )

    async def request_link(
        self,
        request: Request,
        form_fields: list[FormField],
        tenant_id: str,
        user_context: UserContext | None = None,
    ) -> RequestLinkResult:
        validated = await validate_form_fields(
            [self.emailpassword.identifier_field], form_fields, tenant_id
        )
        if isinstance(validated, FieldError):
            return validated
        checks = self.checks(tenant_id, validated[0].value, client_ip(request))
        if (refused := await self.attempts.count(*checks)) is not None:
            return refused
        return await self.emailpassword.apis.generate_password_reset_token_post(
            validated,
            tenant_id,
            api_options(request, self.emailpassword.config),
            context(user_context),
        )

    async def reset_password(
        self,
        request: Request,
        form_fields: list[FormField],
        token: str,
        tenant_id: str,
        user_context: UserContext | None = None,
        *,
        confirm_password: object = None,
    ) -> ResetResult:
        """`confirm_password` as in sign-up; an empty token is an invalid one."""
        password_field = next(f for f in self.emailpassword.sign_up_fields if f.id == "password")
        validated = with_confirmation(
            await validate_form_fields([password_field], form_fields, tenant_id),
            form_fields,
            confirm_password,
        )
        if isinstance(validated, FieldError):
            return validated
        if not token:
            return InvalidResetTokenError()
        limit = self.attempts.limits.reset_password_per_ip
        check = (counter_key("reset-password-ip", client_ip(request)), limit)
        if (refused := await self.attempts.count(check)) is not None:
            return refused
        return await self.emailpassword.apis.password_reset_post(
            validated,
            token,
            tenant_id,
            api_options(request, self.emailpassword.config),
            context(user_context),
        )
