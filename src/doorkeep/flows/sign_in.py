"""Sign in with an email (or a username) and a password: the one implementation the
JSON API and the sign-in page call.

Validate the form, count the attempt (per IP, per account+IP, per account), call the
recipe's (overridable) API handler, and on success reset the account's counters.

With username login an account has two identifiers (its username and its email): its
counters are the account's, whichever is typed, or alternating them would double the
guesses (issue 16 row 9). An identifier nobody has is counted by itself, so the count
at which the 429 comes is the same either way and tells nothing about existence.
"""

from __future__ import annotations

from starlette.requests import Request

from doorkeep.core.common import FieldError
from doorkeep.core.context import UserContext
from doorkeep.core.emailpassword import WrongCredentialsError
from doorkeep.core.errors import TooManyAttemptsError
from doorkeep.flows.limits import Attempts, Check, client_ip
from doorkeep.ratelimit import counter_key
from doorkeep.recipes.apis import GeneralError
from doorkeep.recipes.base import context
from doorkeep.recipes.emailpassword import EmailPasswordRecipe
from doorkeep.recipes.emailpassword.apis import SignInPostOk
from doorkeep.recipes.emailpassword.forms import FormField, sign_in_fields, validate_form_fields
from doorkeep.recipes.session.request import api_options

ACCOUNT_PREFIX = "\x1faccount:"
SignInResult = (
    SignInPostOk | FieldError | TooManyAttemptsError | WrongCredentialsError | GeneralError
)


class SignIn:
    def __init__(self, emailpassword: EmailPasswordRecipe, attempts: Attempts) -> None:
        self.emailpassword = emailpassword
        self.attempts = attempts

    def checks(self, tenant_id: str, account: object, ip: str) -> tuple[Check, ...]:
        """Per IP, per account+IP, per account; a success resets all but the first.
        `account`: what `account_of` says (the typed identifier or the account)."""
        limits = self.attempts.limits
        account = str(account).strip().lower()
        return (
            (counter_key("sign-in-ip", ip), limits.sign_in_per_ip),
            (
                counter_key("sign-in-account-ip", tenant_id, account, ip),
                limits.sign_in_per_account_ip,
            ),
            (counter_key("sign-in-account", tenant_id, account), limits.sign_in_per_account),
        )

    async def sign_in(
        self,
        request: Request,
        form_fields: list[FormField],
        tenant_id: str,
        user_context: UserContext | None = None,
    ) -> SignInResult:
        """On success the new session's tokens are on the request's response."""
        form = sign_in_fields(self.emailpassword.identifier_field)
        validated = await validate_form_fields(form, form_fields, tenant_id)
        if isinstance(validated, FieldError):
            return validated
        ctx = context(user_context)
        account = await self.account_of(validated[0].value, tenant_id, ctx)
        checks = self.checks(tenant_id, account, client_ip(request))
        # The account-wide counter counts only guesses the address's own limits let
        # through: those refused at one address must not throttle the owner everywhere
        # (checklist 11); only a spread of failures may (NIST's 100).
        if (refused := await self.attempts.count(*checks[:2])) is not None:
            return refused
        if (refused := await self.attempts.count(checks[2])) is not None:
            return refused
        result = await self.emailpassword.apis.sign_in_post(
            validated, tenant_id, api_options(request, self.emailpassword.config), ctx
        )
        if isinstance(result, SignInPostOk):
            await self.attempts.succeeded(*(key for key, _ in checks[1:]))
        return result

    async def account_of(self, identifier: object, tenant_id: str, ctx: UserContext) -> str:
        """The subject of the per-account counters. With email login the email is the
        account (one per tenant); with username login the account's ID, whichever of its
        identifiers was typed (one indexed lookup; an unknown one is itself)."""
        if not self.emailpassword.username_login:
            return str(identifier)
        user = await self.emailpassword.functions.get_user_by_identifier(
            str(identifier), tenant_id, ctx
        )
        # The unit separator cannot be typed into an identifier (the validators refuse
        # control characters), so an account never shares a key with one.
        return str(identifier) if user is None else f"{ACCOUNT_PREFIX}{user.id}"
