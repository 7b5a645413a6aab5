"""The usermetadata recipe: a JSON object per user, merged shallowly."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from doorkeep.core.context import UserContext
from doorkeep.core.services import AppCore
from doorkeep.recipes.base import Override, apply_override
from doorkeep.recipes.base import context as _ctx

__all__ = ["UserMetadataConfig", "UserMetadataFunctions", "UserMetadataRecipe"]


class UserMetadataFunctions:
    def __init__(self, core: AppCore) -> None:
        self.core = core

    async def get_user_metadata(self, user_id: str, user_context: UserContext) -> dict[str, Any]:
        return await self.core.metadata.get(user_id)

    async def update_user_metadata(
        self, user_id: str, metadata_update: dict[str, Any], user_context: UserContext
    ) -> dict[str, Any]:
        return await self.core.metadata.update(user_id, metadata_update)

    async def clear_user_metadata(self, user_id: str, user_context: UserContext) -> None:
        await self.core.metadata.clear(user_id)


@dataclass
class UserMetadataConfig:
    override_functions: Override[UserMetadataFunctions] | None = None


class UserMetadataRecipe:
    def __init__(self, core: AppCore, config: UserMetadataConfig | None = None) -> None:
        self.config = config or UserMetadataConfig()
        self.functions = apply_override(UserMetadataFunctions(core), self.config.override_functions)

    async def get_user_metadata(
        self, user_id: str, user_context: UserContext | None = None
    ) -> dict[str, Any]:
        return await self.functions.get_user_metadata(user_id, _ctx(user_context))

    async def update_user_metadata(
        self, user_id: str, metadata_update: dict[str, Any], user_context: UserContext | None = None
    ) -> dict[str, Any]:
        return await self.functions.update_user_metadata(
            user_id, metadata_update, _ctx(user_context)
        )

    async def clear_user_metadata(
        self, user_id: str, user_context: UserContext | None = None
    ) -> None:
        await self.functions.clear_user_metadata(user_id, _ctx(user_context))
