"""The email-verification claim (`st-ev`), which the recipe registers with the session
recipe: `{"v": bool, "t": ms}` in the access token, checked by `get_session`.

Checking a fresh true value reads nothing but the token (the hot path). A true value
older than the recipe's `claim_max_age_seconds`, or a false one, is valued again from
the database and the session gets a token with the new value and time (issue 16 row 8:
once true was true forever, so an email changed to an unverified address in one
session left the user's other sessions passing).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from doorkeep.core.common import now_ms
from doorkeep.core.context import UserContext
from doorkeep.recipes.session.request import Session, SessionError

if TYPE_CHECKING:
    from doorkeep.recipes.emailverification import EmailVerificationRecipe

CLAIM = "st-ev"
_NOT_VERIFIED = {"message": "wrong value", "expectedValue": True, "actualValue": False}


class EmailVerifiedClaim:
    key = CLAIM

    def __init__(self, recipe: EmailVerificationRecipe) -> None:
        self.recipe = recipe

    async def value_for(
        self, user_id: str, recipe_user_id: str, tenant_id: str, user_context: UserContext
    ) -> dict[str, Any]:
        return await self.recipe.claim_value(user_id, user_context)

    async def validate(self, session: Session) -> None:
        """403 with the `st-ev` claim error unless the user's email is verified.

        A claim saying "not verified" is re-checked against the database on each such
        request, so the request after a verification already passes; one saying
        "verified" once it is older than the max age.
        """
        claim = session.access_token_payload.get(CLAIM)
        now = now_ms()
        value, fresh = None, False
        if isinstance(claim, Mapping):
            value, fresh = claim.get("v"), self.fresh(claim, now)
        if fresh and value is True:
            return
        verified = await self.recipe.is_user_verified(session.user_id, {})
        if not fresh or value is not verified:  # the client gets a token with the new value
            await session.merge_into_access_token_payload({CLAIM: {"v": verified, "t": now}})
        if not verified:
            raise SessionError.invalid_claim(CLAIM, _NOT_VERIFIED)

    def fresh(self, claim: Mapping[str, Any], now: int) -> bool:
        """Whether a value fetched at `claim["t"]` (ms) may still be trusted."""
        max_age_s = self.recipe.config.claim_max_age_seconds
        if max_age_s is None:
            return True
        fetched_at = claim.get("t")
        if not isinstance(fetched_at, int) or isinstance(fetched_at, bool):
            return False
        return now - fetched_at <= max_age_s * 1000
