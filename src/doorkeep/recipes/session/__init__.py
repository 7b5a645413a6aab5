"""The session recipe: create, verify, refresh and revoke sessions.

It owns its request half too: the token transport (cookies or headers, anti-CSRF;
`transport.py`), the `Session` of a request (`request.py`) and the claims other
recipes register (`claims.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from doorkeep.core.common import PUBLIC
from doorkeep.core.context import UserContext
from doorkeep.core.services import AppCore
from doorkeep.core.session_models import NewSession, SessionRecord
from doorkeep.recipes.base import Override, apply_override
from doorkeep.recipes.base import context as _ctx
from doorkeep.recipes.session.apis import SessionApis
from doorkeep.recipes.session.claims import ClaimRegistry, SessionClaim
from doorkeep.recipes.session.functions import (
    RefreshResult,
    RegenerateResult,
    SessionFunctions,
    VerifyResult,
)
from doorkeep.recipes.session.transport import AntiCsrf, TokenTransport, anti_csrf_mode

__all__ = [
    "ClaimRegistry",
    "SessionApis",
    "SessionClaim",
    "SessionConfig",
    "SessionFunctions",
    "SessionRecipe",
]


@dataclass
class SessionConfig:
    override_functions: Override[SessionFunctions] | None = None
    override_apis: Override[SessionApis] | None = None


class SessionRecipe:
    def __init__(self, core: AppCore, config: SessionConfig | None = None) -> None:
        self.config = config or SessionConfig()
        settings = core.ctx.settings
        self.transport = TokenTransport(settings)
        self.anti_csrf: AntiCsrf = anti_csrf_mode(settings)
        self.claims = ClaimRegistry()
        self.functions = apply_override(
            SessionFunctions(core, self.claims), self.config.override_functions
        )
        self.apis = apply_override(SessionApis(self), self.config.override_apis)

    async def create_new_session(
        self,
        user_id: str,
        *,
        recipe_user_id: str | None = None,
        access_token_payload: Mapping[str, Any] | None = None,
        session_data_in_database: Mapping[str, Any] | None = None,
        disable_anti_csrf: bool = True,
        tenant_id: str = PUBLIC,
        user_context: UserContext | None = None,
    ) -> NewSession:
        return await self.functions.create_new_session(
            user_id,
            recipe_user_id,
            access_token_payload,
            session_data_in_database,
            disable_anti_csrf,
            tenant_id,
            _ctx(user_context),
        )

    async def get_session(
        self,
        access_token: str,
        *,
        anti_csrf_token: str | None = None,
        anti_csrf_check: bool = False,
        check_database: bool = False,
        user_context: UserContext | None = None,
    ) -> VerifyResult:
        return await self.functions.get_session(
            access_token, anti_csrf_token, anti_csrf_check, check_database, _ctx(user_context)
        )

    async def regenerate_access_token(
        self,
        access_token: str,
        new_access_token_payload: Mapping[str, Any] | None = None,
        user_context: UserContext | None = None,
    ) -> RegenerateResult:
        return await self.functions.regenerate_access_token(
            access_token, new_access_token_payload, _ctx(user_context)
        )

    async def refresh_session(
        self,
        refresh_token: str,
        *,
        disable_anti_csrf: bool = True,
        user_context: UserContext | None = None,
    ) -> RefreshResult:
        return await self.functions.refresh_session(
            refresh_token, disable_anti_csrf, _ctx(user_context)
        )

    async def revoke_session(
        self, session_handle: str, user_context: UserContext | None = None
    ) -> bool:
        return await self.functions.revoke_session(session_handle, _ctx(user_context))

    async def revoke_all_sessions_for_user(
        self, user_id: str, *, tenant_id: str | None = None, user_context: UserContext | None = None
    ) -> list[str]:
        return await self.functions.revoke_all_sessions_for_user(
            user_id, tenant_id, _ctx(user_context)
        )

    async def get_all_session_handles_for_user(
        self, user_id: str, *, tenant_id: str | None = None, user_context: UserContext | None = None
    ) -> list[str]:
        return await self.functions.get_all_session_handles_for_user(
            user_id, tenant_id, _ctx(user_context)
        )

    async def get_session_information(
        self, session_handle: str, user_context: UserContext | None = None
    ) -> SessionRecord | None:
        return await self.functions.get_session_information(session_handle, _ctx(user_context))

    async def update_session_data_in_database(
        self,
        session_handle: str,
        new_session_data: Mapping[str, Any],
        user_context: UserContext | None = None,
    ) -> bool:
        return await self.functions.update_session_data_in_database(
            session_handle, new_session_data, _ctx(user_context)
        )

    async def merge_into_access_token_payload(
        self,
        session_handle: str,
        update: Mapping[str, Any],
        user_context: UserContext | None = None,
    ) -> bool:
        return await self.functions.merge_into_access_token_payload(
            session_handle, update, _ctx(user_context)
        )
