"""The emailverification recipe: verify that a user owns their address.

Mode REQUIRED makes `verify_session()` refuse (403, claim `st-ev`) sessions of
users whose email is not verified; OPTIONAL only records the state in the
session. The claim value is `{"v": bool, "t": ms}` in the access token; the recipe
registers it with the session recipe (claim.py). A true value is trusted for
`claim_max_age_seconds` (SuperTokens' default, 300 s) and then valued again from the
database, so a change to an unverified address reaches every session of the user
within that time (at once for the session that made it, and at each refresh).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode

from doorkeep.core.common import PUBLIC, now_ms
from doorkeep.core.context import UserContext
from doorkeep.core.emailverification import (
    EmailAlreadyVerifiedError,
    EmailVerified,
    InvalidVerificationTokenError,
    TokenCreated,
)
from doorkeep.core.services import AppCore
from doorkeep.delivery import EmailDelivery, EmailUser, EmailVerificationEmail
from doorkeep.recipes.base import Override, apply_override
from doorkeep.recipes.base import context as _ctx
from doorkeep.recipes.emailverification.apis import EmailVerificationApis
from doorkeep.recipes.emailverification.claim import CLAIM, EmailVerifiedClaim
from doorkeep.recipes.emailverification.functions import EmailVerificationFunctions
from doorkeep.recipes.session import SessionRecipe
from doorkeep.recipes.session.request import Session

__all__ = [
    "CLAIM",
    "EmailVerificationApis",
    "EmailVerificationConfig",
    "EmailVerificationFunctions",
    "EmailVerificationRecipe",
]

EmailLookup = Callable[[str, UserContext], Awaitable[str | None]]


@dataclass
class EmailVerificationConfig:
    mode: Literal["REQUIRED", "OPTIONAL"] = "OPTIONAL"
    # Which address of a user to verify; default: their email/password login's email.
    get_email_for_user_id: EmailLookup | None = None
    # How long a session's "verified" is trusted before the database is asked again
    # (None: until the next refresh). A "not verified" is re-checked on each request.
    claim_max_age_seconds: int | None = 300
    override_functions: Override[EmailVerificationFunctions] | None = None
    override_apis: Override[EmailVerificationApis] | None = None


class EmailVerificationRecipe:
    def __init__(
        self,
        core: AppCore,
        delivery: EmailDelivery,
        session: SessionRecipe,
        config: EmailVerificationConfig | None = None,
    ) -> None:
        """Registers the `st-ev` claim with `session`: checked by default in REQUIRED
        mode, and put into every new session only when the recipe is configured."""
        self.core = core
        self.delivery = delivery
        self.config = config or EmailVerificationConfig()
        self.functions = apply_override(
            EmailVerificationFunctions(core), self.config.override_functions
        )
        self.apis = apply_override(EmailVerificationApis(self), self.config.override_apis)
        session.claims.register(
            EmailVerifiedClaim(self),
            add_at_creation=config is not None,
            check_by_default=self.config.mode == "REQUIRED",
        )

    # -- in-process API (SuperTokens' names) -------------------------------------------------

    async def create_email_verification_token(
        self,
        tenant_id: str,
        user_id: str,
        email: str | None = None,
        user_context: UserContext | None = None,
    ) -> TokenCreated | EmailAlreadyVerifiedError:
        ctx = _ctx(user_context)
        address = email or await self.email_for(user_id, ctx)
        if address is None:
            raise ValueError(f"user {user_id!r} has no email to verify")
        return await self.functions.create_email_verification_token(
            user_id, address, tenant_id, ctx
        )

    async def verify_email_using_token(
        self, tenant_id: str, token: str, user_context: UserContext | None = None
    ) -> EmailVerified | InvalidVerificationTokenError:
        return await self.functions.verify_email_using_token(token, tenant_id, _ctx(user_context))

    async def is_email_verified(
        self, user_id: str, email: str | None = None, user_context: UserContext | None = None
    ) -> bool:
        ctx = _ctx(user_context)
        address = email or await self.email_for(user_id, ctx)
        return address is None or await self.functions.is_email_verified(user_id, address, ctx)

    async def unverify_email(
        self, user_id: str, email: str | None = None, user_context: UserContext | None = None
    ) -> None:
        ctx = _ctx(user_context)
        address = email or await self.email_for(user_id, ctx)
        if address is not None:
            await self.functions.unverify_email(user_id, address, ctx)

    # -- used by the APIs, the claim and the flows -------------------------------------------

    async def email_for(self, user_id: str, user_context: UserContext) -> str | None:
        if self.config.get_email_for_user_id is not None:
            return await self.config.get_email_for_user_id(user_id, user_context)
        user = await self.core.users.get_user(user_id)
        return None if user is None else user.email

    async def is_user_verified(self, user_id: str, user_context: UserContext) -> bool:
        """Verified, or nothing to verify (a user without an email)."""
        email = await self.email_for(user_id, user_context)
        return email is None or await self.functions.is_email_verified(user_id, email, user_context)

    async def send_verification_email(
        self,
        user_id: str,
        email: str,
        tenant_id: str = PUBLIC,
        user_context: UserContext | None = None,
        *,
        recipe_user_id: str | None = None,
    ) -> bool:
        """Create a token and email its link; False if the address is already verified."""
        ctx = _ctx(user_context)
        created = await self.functions.create_email_verification_token(
            user_id, email, tenant_id, ctx
        )
        if not isinstance(created, TokenCreated):
            return False
        link = self.link(created.token, tenant_id)
        user = EmailUser(user_id, recipe_user_id or user_id, email)
        await self.delivery.send_email(EmailVerificationEmail(user, link, tenant_id), ctx)
        return True

    def link(self, token: str, tenant_id: str) -> str:
        settings = self.core.ctx.settings
        base = settings.website_domain.rstrip("/") + settings.website_base_path.rstrip("/")
        return f"{base}/verify-email?{urlencode({'token': token, 'tenantId': tenant_id})}"

    async def claim_value(self, user_id: str, user_context: UserContext) -> dict[str, Any]:
        return {"v": await self.is_user_verified(user_id, user_context), "t": now_ms()}

    async def update_session_claim(self, session: Session, verified: bool) -> None:
        current = session.access_token_payload.get(CLAIM)
        if not isinstance(current, dict) or current.get("v") is not verified:
            await session.merge_into_access_token_payload({CLAIM: {"v": verified, "t": now_ms()}})
