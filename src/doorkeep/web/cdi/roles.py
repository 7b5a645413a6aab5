"""CDI routes of the user roles recipe: roles and permissions (per app), roles of a
user (per tenant). A thin mapping onto `RoleService`; an unknown role is the status
UNKNOWN_ROLE_ERROR, a bad name a plain-text 400."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from doorkeep.core.roles import UnknownRole
from doorkeep.web.cdi.protocol import CdiError, CdiRequest, ok, status

_UNKNOWN_ROLE = "UNKNOWN_ROLE_ERROR"


def _names(req: CdiRequest, field: str, *, absent: list[str] | None) -> list[str] | None:
    value: Any = req.body.get(field)
    if value is None:
        return absent
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CdiError(400, f"Field name '{field}' is invalid in JSON input")
    return value


# -- roles and permissions (per app) -------------------------------------------------------


async def create_role(req: CdiRequest) -> Response:
    permissions = _names(req, "permissions", absent=[]) or []
    created = await req.app.roles.create_role_or_add_permissions(
        req.required_text("role"), permissions
    )
    return ok(createdNewRole=created)


async def permissions_of_role(req: CdiRequest) -> Response:
    found = await req.app.roles.permissions_of(req.param("role") or "")
    if isinstance(found, UnknownRole):
        return status(_UNKNOWN_ROLE)
    return ok(permissions=found)


async def remove_permissions(req: CdiRequest) -> Response:
    # No `permissions` at all: every permission of the role goes (as the spec says).
    permissions = _names(req, "permissions", absent=None)
    result = await req.app.roles.remove_permissions(req.required_text("role"), permissions)
    return status(_UNKNOWN_ROLE) if isinstance(result, UnknownRole) else ok()


async def roles_with_permission(req: CdiRequest) -> Response:
    return ok(roles=await req.app.roles.roles_with_permission(req.param("permission") or ""))


async def delete_role(req: CdiRequest) -> Response:
    return ok(didRoleExist=await req.app.roles.delete_role(req.required_text("role")))


async def all_roles(req: CdiRequest) -> Response:
    return ok(roles=await req.app.roles.all_roles())


# -- roles of users (per tenant) -----------------------------------------------------------


async def add_role_to_user(req: CdiRequest) -> Response:
    result = await req.app.roles.add_role_to_user(
        req.tenant_id, req.required_text("userId"), req.required_text("role")
    )
    if isinstance(result, UnknownRole):
        return status(_UNKNOWN_ROLE)
    return ok(didUserAlreadyHaveRole=result)


async def remove_user_role(req: CdiRequest) -> Response:
    result = await req.app.roles.remove_user_role(
        req.tenant_id, req.required_text("userId"), req.required_text("role")
    )
    if isinstance(result, UnknownRole):
        return status(_UNKNOWN_ROLE)
    return ok(didUserHaveRole=result)


async def roles_of_user(req: CdiRequest) -> Response:
    return ok(roles=await req.app.roles.roles_for_user(req.tenant_id, req.param("userId") or ""))


async def users_with_role(req: CdiRequest) -> Response:
    found = await req.app.roles.users_with_role(req.tenant_id, req.param("role") or "")
    if isinstance(found, UnknownRole):
        return status(_UNKNOWN_ROLE)
    return ok(users=found)
