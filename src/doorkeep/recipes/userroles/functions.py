"""The user roles recipe's overridable functions (SuperTokens' RecipeInterface).

Replace any method (seed style: a function that receives the original and returns
it with methods swapped for closures, or a subclass). The session claims `st-role`
and `st-perm` are built from `get_roles_for_user` and `get_permissions_for_role`,
so an override of either changes what sessions carry too.
"""

from __future__ import annotations

from collections.abc import Sequence

from doorkeep.core.context import UserContext
from doorkeep.core.roles import RoleClaims, UnknownRole
from doorkeep.core.services import AppCore


class UserRolesFunctions:
    def __init__(self, core: AppCore) -> None:
        self.core = core

    # -- roles of users (per tenant) -------------------------------------------------------

    async def add_role_to_user(
        self, tenant_id: str, user_id: str, role: str, user_context: UserContext
    ) -> bool | UnknownRole:
        """True if the user already had the role."""
        return await self.core.roles.add_role_to_user(tenant_id, user_id, role)

    async def remove_user_role(
        self, tenant_id: str, user_id: str, role: str, user_context: UserContext
    ) -> bool | UnknownRole:
        """True if the user had the role."""
        return await self.core.roles.remove_user_role(tenant_id, user_id, role)

    async def get_roles_for_user(
        self, tenant_id: str, user_id: str, user_context: UserContext
    ) -> list[str]:
        return await self.core.roles.roles_for_user(tenant_id, user_id)

    async def get_users_that_have_role(
        self, tenant_id: str, role: str, user_context: UserContext
    ) -> list[str] | UnknownRole:
        return await self.core.roles.users_with_role(tenant_id, role)

    # -- roles and permissions (per app) ---------------------------------------------------

    async def create_new_role_or_add_permissions(
        self, role: str, permissions: Sequence[str], user_context: UserContext
    ) -> bool:
        """True if the role was created."""
        return await self.core.roles.create_role_or_add_permissions(role, permissions)

    async def get_permissions_for_role(
        self, role: str, user_context: UserContext
    ) -> list[str] | UnknownRole:
        return await self.core.roles.permissions_of(role)

    async def remove_permissions_from_role(
        self, role: str, permissions: Sequence[str] | None, user_context: UserContext
    ) -> UnknownRole | None:
        """None (all of them) or the permissions to take away."""
        return await self.core.roles.remove_permissions(role, permissions)

    async def get_roles_that_have_permission(
        self, permission: str, user_context: UserContext
    ) -> list[str]:
        return await self.core.roles.roles_with_permission(permission)

    async def delete_role(self, role: str, user_context: UserContext) -> bool:
        """True if the role existed; its permissions and assignments go with it."""
        return await self.core.roles.delete_role(role)

    async def get_all_roles(self, user_context: UserContext) -> list[str]:
        return await self.core.roles.all_roles()


def uses_core_defaults(functions: UserRolesFunctions) -> bool:
    """Whether the claim values can come from the core in one unit of work: true
    unless `get_roles_for_user` or `get_permissions_for_role` was overridden."""
    return all(
        getattr(getattr(functions, name), "__func__", None) is getattr(UserRolesFunctions, name)
        for name in ("get_roles_for_user", "get_permissions_for_role")
    )


async def claim_values(
    functions: UserRolesFunctions, tenant_id: str, user_id: str, user_context: UserContext
) -> RoleClaims:
    """The user's roles in the tenant and the union of their permissions, sorted."""
    if uses_core_defaults(functions):
        return await functions.core.roles.claims_for(tenant_id, user_id)
    roles = sorted(set(await functions.get_roles_for_user(tenant_id, user_id, user_context)))
    permissions: set[str] = set()
    for role in roles:
        found = await functions.get_permissions_for_role(role, user_context)
        if not isinstance(found, UnknownRole):
            permissions.update(found)
    return RoleClaims(roles, sorted(permissions))
