"""The emailverification recipe's overridable API handlers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from doorkeep.core.common import Status
from doorkeep.core.context import UserContext
from doorkeep.core.emailverification import (
    EmailAlreadyVerifiedError,
    EmailVerified,
    InvalidVerificationTokenError,
)
from doorkeep.recipes.apis import APIOptions, OkResult
from doorkeep.recipes.session.request import Session

if TYPE_CHECKING:
    from doorkeep.recipes.emailverification import (
        EmailVerificationConfig,
        EmailVerificationRecipe,
    )


@dataclass(frozen=True)
class IsVerifiedOk(Status):
    is_verified: bool


class EmailVerificationApis:
    def __init__(self, recipe: EmailVerificationRecipe) -> None:
        self.recipe = recipe

    async def generate_email_verify_token_post(
        self,
        session: Session,
        api_options: APIOptions[EmailVerificationConfig],
        user_context: UserContext,
    ) -> OkResult | EmailAlreadyVerifiedError:
        recipe = self.recipe
        email = await recipe.email_for(session.user_id, user_context)
        if email is None or await recipe.functions.is_email_verified(
            session.user_id, email, user_context
        ):
            # Nothing to verify: make the session say so, as SuperTokens does.
            await recipe.update_session_claim(session, True)
            return EmailAlreadyVerifiedError()
        sent = await recipe.send_verification_email(
            session.user_id,
            email,
            session.tenant_id,
            user_context,
            recipe_user_id=session.recipe_user_id,
        )
        return OkResult() if sent else EmailAlreadyVerifiedError()

    async def verify_email_post(
        self,
        token: str,
        session: Session | None,
        tenant_id: str,
        api_options: APIOptions[EmailVerificationConfig],
        user_context: UserContext,
    ) -> EmailVerified | InvalidVerificationTokenError:
        recipe = self.recipe
        result = await recipe.functions.verify_email_using_token(token, tenant_id, user_context)
        if (
            isinstance(result, EmailVerified)
            and session is not None
            and session.user_id == result.user_id
        ):
            await recipe.update_session_claim(session, True)
        return result

    async def is_email_verified_get(
        self,
        session: Session,
        api_options: APIOptions[EmailVerificationConfig],
        user_context: UserContext,
    ) -> IsVerifiedOk:
        recipe = self.recipe
        verified = await recipe.is_user_verified(session.user_id, user_context)
        await recipe.update_session_claim(session, verified)
        return IsVerifiedOk(verified)
