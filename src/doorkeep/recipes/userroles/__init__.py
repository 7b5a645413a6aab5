"""The user roles recipe: roles with permissions, given to users per tenant, and the
`st-role` / `st-perm` claims every session carries (claims.py).

    dk.userroles.create_new_role_or_add_permissions("admin", ["users:write"])
    dk.userroles.add_role_to_user("public", user_id, "admin")

    @app.get("/admin")
    async def admin(session: Session = Depends(verify_session(
            claims=[UserRoleClaim.includes("admin")]))): ...

Changing a user's roles reaches their other sessions at those sessions' next refresh,
or at once on routes that say `check_database=True`; the session of the request that
made the change can take it now with `session.fetch_and_set_claim(UserRoleClaim)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from doorkeep.core.context import UserContext
from doorkeep.core.roles import RoleClaims, UnknownRole
from doorkeep.core.services import AppCore
from doorkeep.recipes.base import Override, apply_override
from doorkeep.recipes.base import context as _ctx
from doorkeep.recipes.session import SessionRecipe
from doorkeep.recipes.userroles.claims import (
    PERMISSION_CLAIM,
    ROLE_CLAIM,
    ArrayClaim,
    ArrayClaimValidator,
    PermissionClaim,
    RoleClaimSource,
    UserRoleClaim,
)
from doorkeep.recipes.userroles.functions import UserRolesFunctions, claim_values

__all__ = [
    "ArrayClaim",
    "ArrayClaimValidator",
    "PermissionClaim",
    "UnknownRole",
    "UserRoleClaim",
    "UserRolesConfig",
    "UserRolesFunctions",
    "UserRolesRecipe",
]


@dataclass
class UserRolesConfig:
    # SuperTokens' names: leave a claim out of new sessions (a route that needs it then
    # reads the database once and adds it to that session).
    skip_adding_roles_to_access_token: bool = False
    skip_adding_permissions_to_access_token: bool = False
    override_functions: Override[UserRolesFunctions] | None = None


class UserRolesRecipe:
    def __init__(
        self, core: AppCore, session: SessionRecipe, config: UserRolesConfig | None = None
    ) -> None:
        """Registers the `st-role` and `st-perm` claims with `session`. With a `config`
        (`Doorkeep(userroles=UserRolesConfig())`, as SuperTokens' `userroles.init()`)
        every new session carries them; without one, a session gets them from the first
        route that requires a role (one database read), and keeps them from then on."""
        self.config = config or UserRolesConfig()
        self.functions = apply_override(UserRolesFunctions(core), self.config.override_functions)
        for key, skipped in (
            (ROLE_CLAIM, self.config.skip_adding_roles_to_access_token),
            (PERMISSION_CLAIM, self.config.skip_adding_permissions_to_access_token),
        ):
            session.claims.register(
                RoleClaimSource(self, key),
                add_at_creation=config is not None and not skipped,
                check_by_default=False,
            )

    async def claim_values(
        self, tenant_id: str, user_id: str, user_context: UserContext | None = None
    ) -> RoleClaims:
        """The values of a session's `st-role` and `st-perm` for this user and tenant."""
        return await claim_values(self.functions, tenant_id, user_id, _ctx(user_context))

    # -- in-process API (SuperTokens' names) -------------------------------------------------

    async def create_new_role_or_add_permissions(
        self, role: str, permissions: Sequence[str], user_context: UserContext | None = None
    ) -> bool:
        """True if the role is new."""
        return await self.functions.create_new_role_or_add_permissions(
            role, permissions, _ctx(user_context)
        )

    async def get_permissions_for_role(
        self, role: str, user_context: UserContext | None = None
    ) -> list[str] | UnknownRole:
        return await self.functions.get_permissions_for_role(role, _ctx(user_context))

    async def remove_permissions_from_role(
        self,
        role: str,
        permissions: Sequence[str] | None,
        user_context: UserContext | None = None,
    ) -> UnknownRole | None:
        return await self.functions.remove_permissions_from_role(
            role, permissions, _ctx(user_context)
        )

    async def get_roles_that_have_permission(
        self, permission: str, user_context: UserContext | None = None
    ) -> list[str]:
        return await self.functions.get_roles_that_have_permission(permission, _ctx(user_context))

    async def delete_role(self, role: str, user_context: UserContext | None = None) -> bool:
        """True if the role existed."""
        return await self.functions.delete_role(role, _ctx(user_context))

    async def get_all_roles(self, user_context: UserContext | None = None) -> list[str]:
        return await self.functions.get_all_roles(_ctx(user_context))

    async def add_role_to_user(
        self, tenant_id: str, user_id: str, role: str, user_context: UserContext | None = None
    ) -> bool | UnknownRole:
        """True if the user already had the role."""
        return await self.functions.add_role_to_user(tenant_id, user_id, role, _ctx(user_context))

    async def remove_user_role(
        self, tenant_id: str, user_id: str, role: str, user_context: UserContext | None = None
    ) -> bool | UnknownRole:
        """True if the user had the role."""
        return await self.functions.remove_user_role(tenant_id, user_id, role, _ctx(user_context))

    async def get_roles_for_user(
        self, tenant_id: str, user_id: str, user_context: UserContext | None = None
    ) -> list[str]:
        return await self.functions.get_roles_for_user(tenant_id, user_id, _ctx(user_context))

    async def get_users_that_have_role(
        self, tenant_id: str, role: str, user_context: UserContext | None = None
    ) -> list[str] | UnknownRole:
        return await self.functions.get_users_that_have_role(tenant_id, role, _ctx(user_context))
