"""User roles: roles with permissions, given to users per tenant (SuperTokens' user
roles recipe, CDI semantics). No HTTP here.

Roles and their permissions belong to an app; a user holds a role in one tenant. A
user is named as the caller names them (the external ID when mapped) and stored under
doorkeep's own ID, like user metadata; lists name users the way callers do.

Every rule is the database's: a role given to a user must exist (foreign key), and
deleting a role, a tenant or a user removes the assignments by the keys' cascades.
SuperTokens lets a role be given to any ID, even one no user holds; such a row has no
`known_user_id` (see storage/tables.py).

Each operation is one unit of work (`Database.run`): one trip to the driver.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from doorkeep.core.context import AppContext
from doorkeep.core.events import RoleChanged
from doorkeep.storage import tables as t

MAX_NAME_LENGTH = 255  # the columns' width

_r, _rp, _ur, _m, _u = t.roles, t.role_permissions, t.user_roles, t.userid_mappings, t.users


class InvalidRoleName(ValueError):
    """A role or permission name that is not a non-empty string of at most 255 characters."""


@dataclass(frozen=True)
class UnknownRole:
    """The role named does not exist (the CDI's UNKNOWN_ROLE_ERROR)."""

    role: str


@dataclass(frozen=True)
class RoleClaims:
    """What a session carries: the user's roles in a tenant and their permissions."""

    roles: list[str]
    permissions: list[str]


def check_name(value: Any, what: str = "role") -> str:
    """A role or permission name as stored: surrounding spaces removed (as SuperTokens'
    core does), never empty, at most MAX_NAME_LENGTH characters."""
    if not isinstance(value, str):
        raise InvalidRoleName(f"{what} must be a string")
    name = value.strip()
    if not name:
        raise InvalidRoleName(f"{what} cannot be an empty string")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidRoleName(f"{what} is longer than {MAX_NAME_LENGTH} characters")
    return name


def check_names(values: Iterable[Any], what: str = "permission") -> list[str]:
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise InvalidRoleName(f"{what}s must be a list of strings")
    return sorted({check_name(v, what) for v in values})


class RoleService:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self._insert = pg_insert if ctx.db.dialect == "postgresql" else sqlite_insert

    # -- roles and permissions (per app) ---------------------------------------------------

    async def create_role_or_add_permissions(self, role: str, permissions: Iterable[str]) -> bool:
        """Create `role` if it is new and give it `permissions`; True if it was created."""
        role, names = check_name(role), check_names(permissions)
        return await self.ctx.db.run(partial(self._create, role, names), write=True)

    def _create(self, role: str, permissions: list[str], conn: Connection) -> bool:
        app = self.ctx.app_id
        created = conn.execute(
            self._insert(_r).values(app_id=app, role=role).on_conflict_do_nothing()
        ).rowcount
        if permissions:
            conn.execute(
                self._insert(_rp).on_conflict_do_nothing(),
                [{"app_id": app, "role": role, "permission": p} for p in permissions],
            )
        return created == 1

    async def permissions_of(self, role: str) -> list[str] | UnknownRole:
        role = check_name(role)

        def unit(conn: Connection) -> list[str] | UnknownRole:
            if not self._role_exists(conn, role):
                return UnknownRole(role)
            query = select(_rp.c.permission).where(
                _rp.c.app_id == self.ctx.app_id, _rp.c.role == role
            )
            return list(conn.scalars(query.order_by(_rp.c.permission)).all())

        return await self.ctx.db.run(unit)

    async def remove_permissions(
        self, role: str, permissions: Iterable[str] | None
    ) -> UnknownRole | None:
        """Take `permissions` (None: every permission) away from `role`."""
        role = check_name(role)
        names = None if permissions is None else check_names(permissions)

        def unit(conn: Connection) -> UnknownRole | None:
            if not self._role_exists(conn, role):
                return UnknownRole(role)
            query = delete(_rp).where(_rp.c.app_id == self.ctx.app_id, _rp.c.role == role)
            if names is not None:
                query = query.where(_rp.c.permission.in_(names))
            conn.execute(query)
            return None

        return await self.ctx.db.run(unit, write=True)

    async def roles_with_permission(self, permission: str) -> list[str]:
        permission = check_name(permission, "permission")
        query = (
            select(_rp.c.role)
            .where(_rp.c.app_id == self.ctx.app_id, _rp.c.permission == permission)
            .order_by(_rp.c.role)
        )
        return await self.ctx.db.run(lambda conn: list(conn.scalars(query).all()))

    async def delete_role(self, role: str) -> bool:
        """Delete `role`; its permissions and every assignment go with it (cascades).
        True if it existed."""
        role = check_name(role)
        query = delete(_r).where(_r.c.app_id == self.ctx.app_id, _r.c.role == role)
        return await self.ctx.db.run(lambda conn: conn.execute(query).rowcount == 1, write=True)

    async def all_roles(self) -> list[str]:
        query = select(_r.c.role).where(_r.c.app_id == self.ctx.app_id).order_by(_r.c.role)
        return await self.ctx.db.run(lambda conn: list(conn.scalars(query).all()))

    # -- roles of users (per tenant) -------------------------------------------------------

    async def add_role_to_user(self, tenant_id: str, user_id: str, role: str) -> bool | UnknownRole:
        """Give `role` to the user in `tenant_id`; True if they already had it.
        ValueError if the tenant does not exist."""
        role = check_name(role)
        _check_user_id(user_id)
        add = partial(self._add_to_user, tenant_id, user_id, role)
        try:
            had = await self.ctx.db.run(add, write=True)
        except IntegrityError:
            # A key the insert names went away meanwhile: the role, the tenant, or the user.
            if not await self.ctx.db.run(lambda conn: self._role_exists(conn, role)):
                return UnknownRole(role)
            if not await self.ctx.db.run(partial(self._tenant_exists, tenant_id)):
                raise ValueError(f"tenant {tenant_id!r} does not exist") from None
            had = await self.ctx.db.run(add, write=True)
        if had is False:
            self._report(tenant_id, user_id, role, "added")
        return had

    def _report(self, tenant_id: str, user_id: str, role: str, change: str) -> None:
        self.ctx.events.publish(
            RoleChanged(
                app_id=self.ctx.app_id,
                tenant_id=tenant_id,
                user_id=user_id,
                role=role,
                change=change,
            )
        )

    def _add_to_user(
        self, tenant_id: str, user_id: str, role: str, conn: Connection
    ) -> bool | UnknownRole:
        if not self._role_exists(conn, role):
            return UnknownRole(role)
        internal, aliases = self._aliases(conn, user_id)
        if self._held(conn, tenant_id, aliases, role):
            return True
        known = conn.scalar(
            select(_u.c.user_id).where(_u.c.app_id == self.ctx.app_id, _u.c.user_id == internal)
        )
        row = {"app_id": self.ctx.app_id, "tenant_id": tenant_id, "user_id": internal}
        added = conn.execute(
            self._insert(_ur)
            .values(**row, role=role, known_user_id=known)
            .on_conflict_do_nothing()  # a concurrent grant of the same role won
        ).rowcount
        return added == 0

    async def remove_user_role(self, tenant_id: str, user_id: str, role: str) -> bool | UnknownRole:
        """Take `role` from the user in `tenant_id`; True if they had it."""
        role = check_name(role)
        _check_user_id(user_id)

        def unit(conn: Connection) -> bool | UnknownRole:
            if not self._role_exists(conn, role):
                return UnknownRole(role)
            _, aliases = self._aliases(conn, user_id)
            removed = conn.execute(
                delete(_ur).where(
                    _ur.c.app_id == self.ctx.app_id,
                    _ur.c.tenant_id == tenant_id,
                    _ur.c.user_id.in_(aliases),
                    _ur.c.role == role,
                )
            ).rowcount
            return removed > 0

        removed = await self.ctx.db.run(unit, write=True)
        if removed is True:
            self._report(tenant_id, user_id, role, "removed")
        return removed

    async def roles_for_user(self, tenant_id: str, user_id: str) -> list[str]:
        _check_user_id(user_id)
        return (await self.claims_for(tenant_id, user_id, with_permissions=False)).roles

    async def claims_for(
        self, tenant_id: str, user_id: str, *, with_permissions: bool = True
    ) -> RoleClaims:
        """The user's roles in `tenant_id` and (unless asked not to) the permissions those
        roles carry, sorted: the values of a session's `st-role` and `st-perm`."""

        def unit(conn: Connection) -> RoleClaims:
            _, aliases = self._aliases(conn, user_id)
            where = (
                _ur.c.app_id == self.ctx.app_id,
                _ur.c.tenant_id == tenant_id,
                _ur.c.user_id.in_(aliases),
            )
            roles = sorted(set(conn.scalars(select(_ur.c.role).where(*where)).all()))
            if not with_permissions or not roles:
                return RoleClaims(roles, [])
            permissions = conn.scalars(
                select(_rp.c.permission)
                .distinct()
                .where(_rp.c.app_id == self.ctx.app_id, _rp.c.role.in_(roles))
                .order_by(_rp.c.permission)
            ).all()
            return RoleClaims(roles, list(permissions))

        return await self.ctx.db.run(unit)

    async def users_with_role(self, tenant_id: str, role: str) -> list[str] | UnknownRole:
        """The users holding `role` in `tenant_id`, named as callers name them (the
        external ID when mapped), sorted."""
        role = check_name(role)

        def unit(conn: Connection) -> list[str] | UnknownRole:
            if not self._role_exists(conn, role):
                return UnknownRole(role)
            mapped = _m.c.external_user_id
            rows = conn.execute(
                select(_ur.c.user_id, mapped)
                .outerjoin(
                    _m,
                    (_m.c.app_id == _ur.c.app_id) & (_m.c.supertokens_user_id == _ur.c.user_id),
                )
                .where(
                    _ur.c.app_id == self.ctx.app_id,
                    _ur.c.tenant_id == tenant_id,
                    _ur.c.role == role,
                )
            ).all()
            return sorted({row.external_user_id or row.user_id for row in rows})

        return await self.ctx.db.run(unit)

    # -- internals -------------------------------------------------------------------------

    def _role_exists(self, conn: Connection, role: str) -> bool:
        query = select(_r.c.role).where(_r.c.app_id == self.ctx.app_id, _r.c.role == role)
        return conn.scalar(query) is not None

    def _tenant_exists(self, tenant_id: str, conn: Connection) -> bool:
        query = select(t.tenants.c.tenant_id).where(
            t.tenants.c.app_id == self.ctx.app_id, t.tenants.c.tenant_id == tenant_id
        )
        return conn.scalar(query) is not None

    def _held(self, conn: Connection, tenant_id: str, aliases: Sequence[str], role: str) -> bool:
        query = select(_ur.c.role).where(
            _ur.c.app_id == self.ctx.app_id,
            _ur.c.tenant_id == tenant_id,
            _ur.c.user_id.in_(aliases),
            _ur.c.role == role,
        )
        return conn.scalar(query) is not None

    def _aliases(self, conn: Connection, user_id: str) -> tuple[str, tuple[str, ...]]:
        """doorkeep's own ID for `user_id`, and every ID its rows may be stored under (an
        assignment made before a mapping existed is found by either)."""
        row = conn.execute(
            select(_m.c.supertokens_user_id, _m.c.external_user_id).where(
                _m.c.app_id == self.ctx.app_id,
                (_m.c.supertokens_user_id == user_id) | (_m.c.external_user_id == user_id),
            )
        ).first()
        if row is None:
            return user_id, (user_id,)
        return row.supertokens_user_id, (row.supertokens_user_id, row.external_user_id)


def _check_user_id(user_id: Any) -> None:
    if not isinstance(user_id, str) or not user_id:
        raise ValueError("userId must be a non-empty string")
