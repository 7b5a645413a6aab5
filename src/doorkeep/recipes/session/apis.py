"""The session recipe's overridable API handlers: refresh and sign out."""

from __future__ import annotations

from typing import TYPE_CHECKING

from doorkeep.core.context import UserContext
from doorkeep.core.session_models import NewSession, TokenTheftDetectedError
from doorkeep.recipes.apis import APIOptions, OkResult
from doorkeep.recipes.session.request import (
    Session,
    SessionError,
    attach_new_session,
    refuse_cross_site,
)
from doorkeep.recipes.session.transport import refresh_token_from

if TYPE_CHECKING:
    from doorkeep.recipes.session import SessionConfig, SessionRecipe


class SessionApis:
    def __init__(self, recipe: SessionRecipe) -> None:
        self.recipe = recipe

    async def refresh_post(
        self, api_options: APIOptions[SessionConfig], user_context: UserContext
    ) -> Session:
        """Rotate the refresh token; raises SessionError (401) when it cannot."""
        recipe = self.recipe
        request = api_options.request
        found = refresh_token_from(request)
        if found is None:
            raise SessionError.unauthorised(clear_tokens=False)
        token, mode = found
        if mode == "cookie":
            refuse_cross_site(recipe, request)  # a refresh by cookie is a state change too
        if (
            mode == "cookie"
            and recipe.anti_csrf == "VIA_CUSTOM_HEADER"
            and "rid" not in request.headers
        ):
            raise SessionError.unauthorised(clear_tokens=False)
        result = await recipe.functions.refresh_session(
            token, recipe.anti_csrf != "VIA_TOKEN", user_context
        )
        if isinstance(result, TokenTheftDetectedError):
            raise SessionError.token_theft()
        if not isinstance(result, NewSession):
            raise SessionError.unauthorised(clear_tokens=result.clear_tokens)
        return attach_new_session(recipe, request, result, mode=mode)

    async def signout_post(
        self,
        session: Session | None,
        api_options: APIOptions[SessionConfig],
        user_context: UserContext,
    ) -> OkResult:
        if session is not None:
            await session.revoke_session()
        return OkResult()
