"""The email-verification claim (`st-ev`), which the recipe registers with the session
recipe: `{"v": bool, "t": ms}` in the access token, checked by `get_session`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

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
        request, so the request after a verification already passes.
        """
        claim = session.access_token_payload.get(CLAIM)
        if isinstance(claim, Mapping) and claim.get("v") is True:
            return
        verified = await self.recipe.is_user_verified(session.user_id, {})
        await self.recipe.update_session_claim(session, verified)
        if not verified:
            raise SessionError.invalid_claim(CLAIM, _NOT_VERIFIED)
