"""The useridmapping recipe: let users be known by an external ID (e.g. a legacy provider's)."""

from __future__ import annotations

from dataclasses import dataclass

from doorkeep.core.context import UserContext
from doorkeep.core.idmapping import (
    CreateMappingOk,
    DeleteMappingOk,
    Mapping,
    MappingAlreadyExistsError,
    UnknownMappingError,
    UnknownSuperTokensUserIdError,
    UserIdType,
)
from doorkeep.core.services import AppCore
from doorkeep.recipes.base import Override, apply_override
from doorkeep.recipes.base import context as _ctx

__all__ = ["UserIdMappingConfig", "UserIdMappingFunctions", "UserIdMappingRecipe"]


class UserIdMappingFunctions:
    def __init__(self, core: AppCore) -> None:
        self.core = core

    async def create_user_id_mapping(
        self,
        supertokens_user_id: str,
        external_user_id: str,
        external_user_id_info: str | None,
        force: bool,
        user_context: UserContext,
    ) -> CreateMappingOk | UnknownSuperTokensUserIdError | MappingAlreadyExistsError:
        return await self.core.idmapping.create(
            supertokens_user_id, external_user_id, external_user_id_info, force=force
        )

    async def get_user_id_mapping(
        self, user_id: str, user_id_type: UserIdType, user_context: UserContext
    ) -> Mapping | UnknownMappingError:
        return await self.core.idmapping.get(user_id, user_id_type)

    async def delete_user_id_mapping(
        self, user_id: str, user_id_type: UserIdType, user_context: UserContext
    ) -> DeleteMappingOk:
        return await self.core.idmapping.delete(user_id, user_id_type)

    async def update_or_delete_user_id_mapping_info(
        self,
        user_id: str,
        user_id_type: UserIdType,
        external_user_id_info: str | None,
        user_context: UserContext,
    ) -> CreateMappingOk | UnknownMappingError:
        return await self.core.idmapping.update_info(user_id, external_user_id_info, user_id_type)


@dataclass
class UserIdMappingConfig:
    override_functions: Override[UserIdMappingFunctions] | None = None


class UserIdMappingRecipe:
    def __init__(self, core: AppCore, config: UserIdMappingConfig | None = None) -> None:
        self.config = config or UserIdMappingConfig()
        self.functions = apply_override(
            UserIdMappingFunctions(core), self.config.override_functions
        )

    async def create_user_id_mapping(
        self,
        supertokens_user_id: str,
        external_user_id: str,
        external_user_id_info: str | None = None,
        *,
        force: bool = False,
        user_context: UserContext | None = None,
    ) -> CreateMappingOk | UnknownSuperTokensUserIdError | MappingAlreadyExistsError:
        return await self.functions.create_user_id_mapping(
            supertokens_user_id, external_user_id, external_user_id_info, force, _ctx(user_context)
        )

    async def get_user_id_mapping(
        self,
        user_id: str,
        user_id_type: UserIdType = "ANY",
        user_context: UserContext | None = None,
    ) -> Mapping | UnknownMappingError:
        return await self.functions.get_user_id_mapping(user_id, user_id_type, _ctx(user_context))

    async def delete_user_id_mapping(
        self,
        user_id: str,
        user_id_type: UserIdType = "ANY",
        user_context: UserContext | None = None,
    ) -> DeleteMappingOk:
        return await self.functions.delete_user_id_mapping(
            user_id, user_id_type, _ctx(user_context)
        )

    async def update_or_delete_user_id_mapping_info(
        self,
        user_id: str,
        external_user_id_info: str | None,
        user_id_type: UserIdType = "ANY",
        user_context: UserContext | None = None,
    ) -> CreateMappingOk | UnknownMappingError:
        return await self.functions.update_or_delete_user_id_mapping_info(
            user_id, user_id_type, external_user_id_info, _ctx(user_context)
        )
