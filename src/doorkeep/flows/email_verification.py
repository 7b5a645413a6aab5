"""Email verification: send a link to the signed-in user's address, and verify a link.
The one implementation the JSON API and the verification pages call.

Sending is counted per user. Verifying spends the token through the recipe's
(overridable) API handler; a link for an address that is not yet the account's
completes a change of email (change_email.py).
"""

from __future__ import annotations

from starlette.requests import Request

from doorkeep.core.context import UserContext
from doorkeep.core.emailverification import (
    EmailAlreadyVerifiedError,
    EmailVerified,
    InvalidVerificationTokenError,
)
from doorkeep.core.errors import TooManyAttemptsError
from doorkeep.flows.change_email import ChangeEmail
from doorkeep.flows.limits import Attempts, Check
from doorkeep.ratelimit import counter_key
from doorkeep.recipes.apis import GeneralError, OkResult
from doorkeep.recipes.base import context
from doorkeep.recipes.emailverification import EmailVerificationRecipe
from doorkeep.recipes.session.request import Session, api_options

SendResult = OkResult | EmailAlreadyVerifiedError | TooManyAttemptsError
VerifyResult = EmailVerified | InvalidVerificationTokenError | GeneralError


class EmailVerification:
    def __init__(
        self,
        emailverification: EmailVerificationRecipe,
        attempts: Attempts,
        change_email: ChangeEmail,
    ) -> None:
        self.emailverification = emailverification
        self.attempts = attempts
        self.change_email = change_email

    def checks(self, user_id: str) -> tuple[Check, ...]:
        limit = self.attempts.limits.verification_email_per_user
        return ((counter_key("verification-email", user_id), limit),)

    async def send_link(
        self, request: Request, session: Session, user_context: UserContext | None = None
    ) -> SendResult:
        """EMAIL_ALREADY_VERIFIED_ERROR when there is nothing to verify."""
        if (refused := await self.attempts.count(*self.checks(session.user_id))) is not None:
            return refused
        return await self.send_first_link(request, session, user_context)

    async def send_first_link(
        self, request: Request, session: Session, user_context: UserContext | None = None
    ) -> OkResult | EmailAlreadyVerifiedError:
        """The link the sign-up page sends with the new account, not counted: only asking
        again (`send_link`) spends the per-user budget."""
        return await self.emailverification.apis.generate_email_verify_token_post(
            session, api_options(request, self.emailverification.config), context(user_context)
        )

    async def verify(
        self,
        request: Request,
        token: str,
        session: Session | None,
        tenant_id: str,
        user_context: UserContext | None = None,
    ) -> VerifyResult:
        """`session`: the request's, if any (its claim is updated when it is the user's)."""
        if not token:
            return InvalidVerificationTokenError()
        ctx = context(user_context)
        result = await self.emailverification.apis.verify_email_post(
            token, session, tenant_id, api_options(request, self.emailverification.config), ctx
        )
        if not isinstance(result, EmailVerified):
            return result
        return await self.change_email.complete(result, session, tenant_id, ctx)
