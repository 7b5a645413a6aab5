"""The emailverification recipe's overridable functions."""

from __future__ import annotations

from doorkeep.core.context import UserContext
from doorkeep.core.emailverification import (
    EmailAlreadyVerifiedError,
    EmailVerified,
    InvalidVerificationTokenError,
    TokenCreated,
)
from doorkeep.core.services import AppCore


class EmailVerificationFunctions:
    def __init__(self, core: AppCore) -> None:
        self.core = core

    async def create_email_verification_token(
        self, user_id: str, email: str, tenant_id: str, user_context: UserContext
    ) -> TokenCreated | EmailAlreadyVerifiedError:
        return await self.core.emailverification.create_token(user_id, email, tenant_id)

    async def verify_email_using_token(
        self, token: str, tenant_id: str, user_context: UserContext
    ) -> EmailVerified | InvalidVerificationTokenError:
        return await self.core.emailverification.verify_token(token, tenant_id)

    async def is_email_verified(self, user_id: str, email: str, user_context: UserContext) -> bool:
        return await self.core.emailverification.is_verified(user_id, email)

    async def revoke_email_verification_tokens(
        self, user_id: str, email: str, tenant_id: str, user_context: UserContext
    ) -> None:
        await self.core.emailverification.revoke_tokens(user_id, email, tenant_id)

    async def unverify_email(self, user_id: str, email: str, user_context: UserContext) -> None:
        await self.core.emailverification.unverify(user_id, email)
