"""The session recipe's overridable functions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from doorkeep.core.context import UserContext
from doorkeep.core.services import AppCore
from doorkeep.core.session_models import (
    NewSession,
    SessionRecord,
    TokenTheftDetectedError,
    TryRefreshTokenError,
    UnauthorisedError,
    VerifiedSession,
)
from doorkeep.core.sessions import PayloadRefresh
from doorkeep.recipes.session.claims import ClaimRegistry

VerifyResult = VerifiedSession | TryRefreshTokenError | UnauthorisedError
RefreshResult = NewSession | UnauthorisedError | TokenTheftDetectedError
RegenerateResult = VerifiedSession | UnauthorisedError


class SessionFunctions:
    def __init__(self, core: AppCore, claims: ClaimRegistry | None = None) -> None:
        self.core = core
        # Recipes that keep a claim in the session (email verification's st-ev) register
        # it with the session recipe; each new session starts with their current values.
        self.claims = claims if claims is not None else ClaimRegistry()

    async def create_new_session(
        self,
        user_id: str,
        recipe_user_id: str | None,
        access_token_payload: Mapping[str, Any] | None,
        session_data_in_database: Mapping[str, Any] | None,
        disable_anti_csrf: bool,
        tenant_id: str,
        user_context: UserContext,
    ) -> NewSession:
        payload = dict(access_token_payload or {})
        for claim in self.claims.at_creation:
            payload[claim.key] = await claim.value_for(
                user_id, recipe_user_id or user_id, tenant_id, user_context
            )
        return await self.core.sessions.create(
            user_id,
            recipe_user_id=recipe_user_id,
            tenant_id=tenant_id,
            access_token_payload=payload,
            session_data=session_data_in_database,
            enable_anti_csrf=not disable_anti_csrf,
        )

    async def get_session(
        self,
        access_token: str,
        anti_csrf_token: str | None,
        anti_csrf_check: bool,
        check_database: bool,
        user_context: UserContext,
    ) -> VerifyResult:
        return await self.core.sessions.verify(
            access_token,
            anti_csrf_token=anti_csrf_token,
            do_anti_csrf_check=anti_csrf_check,
            check_database=check_database,
        )

    async def regenerate_access_token(
        self,
        access_token: str,
        new_access_token_payload: Mapping[str, Any] | None,
        user_context: UserContext,
    ) -> RegenerateResult:
        """A fresh access token for a live session; a payload replaces its custom claims
        (stored for the tokens refreshes make, too)."""
        return await self.core.sessions.regenerate_access_token(
            access_token, new_access_token_payload
        )

    async def refresh_session(
        self, refresh_token: str, disable_anti_csrf: bool, user_context: UserContext
    ) -> RefreshResult:
        """A new token pair; the claims of new sessions are valued again (a user's roles
        changed since the last refresh reach this session now)."""
        return await self.core.sessions.refresh(
            refresh_token,
            enable_anti_csrf=not disable_anti_csrf,
            refresh_payload=self._claim_values(user_context),
        )

    def _claim_values(self, user_context: UserContext) -> PayloadRefresh | None:
        """The claims a refreshed session gets again: those every new session gets, and
        any other registered claim the session holds (one a route fetched for it)."""
        registered, at_creation = self.claims.checked, self.claims.at_creation
        if not registered:
            return None

        async def values(record: SessionRecord) -> dict[str, Any]:
            held = record.user_data_in_jwt
            return {
                claim.key: await claim.value_for(
                    record.user_id, record.recipe_user_id, record.tenant_id, user_context
                )
                for claim in registered
                if claim in at_creation or claim.key in held
            }

        return values

    async def revoke_session(self, session_handle: str, user_context: UserContext) -> bool:
        return bool(await self.core.sessions.revoke([session_handle]))

    async def revoke_all_sessions_for_user(
        self, user_id: str, tenant_id: str | None, user_context: UserContext
    ) -> list[str]:
        return await self.core.sessions.revoke_all_for_user(user_id, tenant_id=tenant_id)

    async def get_all_session_handles_for_user(
        self, user_id: str, tenant_id: str | None, user_context: UserContext
    ) -> list[str]:
        return await self.core.sessions.handles_for_user(user_id, tenant_id=tenant_id)

    async def get_session_information(
        self, session_handle: str, user_context: UserContext
    ) -> SessionRecord | None:
        return await self.core.sessions.get(session_handle)

    async def update_session_data_in_database(
        self, session_handle: str, new_session_data: Mapping[str, Any], user_context: UserContext
    ) -> bool:
        return await self.core.sessions.update_session_data(session_handle, new_session_data)

    async def merge_into_access_token_payload(
        self, session_handle: str, update: Mapping[str, Any], user_context: UserContext
    ) -> bool:
        """Shallow-merge into the custom payload future tokens carry; a None value removes a key."""
        record = await self.core.sessions.get(session_handle)
        if record is None:
            return False
        merged = dict(record.user_data_in_jwt)
        for key, value in update.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        return await self.core.sessions.update_access_token_payload(session_handle, merged)
