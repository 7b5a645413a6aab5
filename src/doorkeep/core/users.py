"""Users as the CDI shows them, and the queries that find, list and delete them.

A user ID may be given as doorkeep's own ID or, once a user-ID mapping exists,
as the external ID; every lookup here accepts both, and every user returned
shows the external ID where one exists (the migration seed relies on this).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, bindparam, delete, func, or_, select, tuple_
from sqlalchemy.engine import Connection, Row
from sqlalchemy.ext.asyncio import AsyncConnection

from doorkeep.core.common import now_ms
from doorkeep.core.context import AppContext
from doorkeep.core.events import Event, SessionRevoked, UserDeleted
from doorkeep.storage import tables as t


@dataclass(frozen=True)
class LoginMethod:
    recipe_id: str
    recipe_user_id: str
    tenant_ids: tuple[str, ...]
    time_joined: int
    verified: bool
    email: str | None = None
    username: str | None = None
    phone_number: str | None = None  # passwordless logins, in E.164

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "recipeId": self.recipe_id,
            "recipeUserId": self.recipe_user_id,
            "tenantIds": list(self.tenant_ids),
            "timeJoined": self.time_joined,
            "verified": self.verified,
        }
        if self.email is not None:
            data["email"] = self.email
        if self.username is not None:
            data["username"] = self.username
        if self.phone_number is not None:
            data["phoneNumber"] = self.phone_number
        return data


@dataclass(frozen=True)
class User:
    id: str
    time_joined: int
    tenant_ids: tuple[str, ...]
    login_methods: tuple[LoginMethod, ...]
    is_primary_user: bool = False

    @property
    def emails(self) -> list[str]:
        return [m.email for m in self.login_methods if m.email is not None]

    @property
    def phone_numbers(self) -> list[str]:
        return [m.phone_number for m in self.login_methods if m.phone_number is not None]

    @property
    def password_login_email(self) -> str | None:
        """The email of the user's email/password login, if they have one."""
        return next(
            (m.email for m in self.login_methods if m.recipe_id == "emailpassword" and m.email),
            None,
        )

    @property
    def password_login_identifier(self) -> str | None:
        """What the user signs in with: their login email, else their username."""
        method = next((m for m in self.login_methods if m.recipe_id == "emailpassword"), None)
        return None if method is None else (method.email or method.username)

    @property
    def email(self) -> str | None:
        """The email of the first login method that has one (the seeds' `user.email`)."""
        emails = self.emails
        return emails[0] if emails else None

    def to_json(self) -> dict[str, Any]:
        """The CDI `authRecipeUser` object."""
        return {
            "id": self.id,
            "isPrimaryUser": self.is_primary_user,
            "tenantIds": list(self.tenant_ids),
            "timeJoined": self.time_joined,
            "emails": self.emails,
            "phoneNumbers": self.phone_numbers,
            "thirdParty": [],
            "webauthn": {"credentialIds": []},
            "loginMethods": [m.to_json() for m in self.login_methods],
        }


@dataclass(frozen=True)
class UserRef:
    """A user ID resolved through the mapping: doorkeep's own ID and the external one, if any."""

    internal_id: str
    external_id: str | None

    @property
    def public_id(self) -> str:
        return self.external_id or self.internal_id

    @property
    def aliases(self) -> tuple[str, ...]:
        return (
            (self.internal_id,)
            if self.external_id is None
            else (self.internal_id, self.external_id)
        )


async def resolve_user_id(conn: AsyncConnection, app_id: str, user_id: str) -> UserRef:
    """Map either kind of ID to both kinds. An ID with no mapping is taken as internal."""
    m = t.userid_mappings
    row = (
        await conn.execute(
            select(m.c.supertokens_user_id, m.c.external_user_id).where(
                m.c.app_id == app_id,
                or_(m.c.supertokens_user_id == user_id, m.c.external_user_id == user_id),
            )
        )
    ).first()
    if row is None:
        return UserRef(user_id, None)
    return UserRef(row.supertokens_user_id, row.external_user_id)


def user_rows(*extra_columns: Any) -> Select[Any]:
    """The rows that build users (`users_from_rows`), one per (user, tenant), plus
    `extra_columns` of the joined tables; the caller adds the WHERE clause.

    One statement for everything a User holds: each statement costs driver trips.
    """
    u, ep, pl, m, ut, ve = (
        t.users,
        t.emailpassword_users,
        t.passwordless_users,
        t.userid_mappings,
        t.user_tenants,
        t.verified_emails,
    )
    email = func.coalesce(ep.c.email, pl.c.email)  # a login method is of one recipe
    joined = (
        u.outerjoin(ep, and_(ep.c.app_id == u.c.app_id, ep.c.user_id == u.c.user_id))
        .outerjoin(pl, and_(pl.c.app_id == u.c.app_id, pl.c.user_id == u.c.user_id))
        .outerjoin(m, and_(m.c.app_id == u.c.app_id, m.c.supertokens_user_id == u.c.user_id))
        .outerjoin(ut, and_(ut.c.app_id == u.c.app_id, ut.c.user_id == u.c.user_id))
        .outerjoin(
            ve,
            and_(ve.c.app_id == u.c.app_id, ve.c.user_id == u.c.user_id, ve.c.email == email),
        )
    )
    return (
        select(
            u.c.user_id,
            u.c.recipe_id,
            u.c.time_joined,
            email.label("email"),
            ep.c.username,
            pl.c.phone_number,
            m.c.external_user_id,
            ut.c.tenant_id,
            ve.c.user_id.is_not(None).label("verified"),
            *extra_columns,
        )
        .select_from(joined)
        .order_by(u.c.user_id, ut.c.tenant_id)
    )


def users_from_rows(rows: Sequence[Row[*tuple[Any, ...]]]) -> dict[str, User]:
    """Users by internal ID, from rows of `user_rows` ordered as it orders them."""
    tenants: dict[str, list[str]] = {}
    for r in rows:
        found = tenants.setdefault(r.user_id, [])
        if r.tenant_id is not None:
            found.append(r.tenant_id)
    by_id: dict[str, User] = {}
    for r in rows:
        if r.user_id in by_id:
            continue
        public_id = r.external_user_id or r.user_id
        tenant_ids = tuple(tenants[r.user_id])
        method = LoginMethod(
            recipe_id=r.recipe_id,
            recipe_user_id=public_id,
            tenant_ids=tenant_ids,
            time_joined=r.time_joined,
            # A passwordless phone login was proven by a code sent to the number.
            verified=bool(r.verified) or (r.email is None and r.phone_number is not None),
            email=r.email,
            username=r.username,
            phone_number=r.phone_number,
        )
        by_id[r.user_id] = User(public_id, r.time_joined, tenant_ids, (method,))
    return by_id


# Built once: building a statement and its cache key costs more than running it.
_USERS_BY_ID = user_rows().where(
    t.users.c.app_id == bindparam("app_id"),
    t.users.c.user_id.in_(bindparam("ids", expanding=True)),
)


async def load_users(conn: AsyncConnection, app_id: str, internal_ids: Sequence[str]) -> list[User]:
    """Build the users with these internal IDs, in the given order (missing ones skipped)."""
    return await conn.run_sync(read_users, app_id, internal_ids)


def read_users(conn: Connection, app_id: str, internal_ids: Sequence[str]) -> list[User]:
    """`load_users` inside a unit of work (`Database.run`)."""
    if not internal_ids:
        return []
    rows = conn.execute(_USERS_BY_ID, {"app_id": app_id, "ids": list(internal_ids)}).all()
    by_id = users_from_rows(rows)
    return [by_id[i] for i in internal_ids if i in by_id]


def page_query(
    app_id: str,
    tenant_id: str | None,
    recipe_ids: Sequence[str],
    cursor: tuple[int, str] | None,
    *,
    newest_first: bool,
) -> Select[Any]:
    """(user_id, time_joined) of users in join order, after `cursor`; the caller limits.

    With a tenant, read from that tenant's user_tenants rows (they carry the join
    time) instead of walking every user of the app checking membership.
    """
    u, ut = t.users, t.user_tenants
    if tenant_id is None:
        source = u
        query = select(u.c.user_id, u.c.time_joined).where(u.c.app_id == app_id)
    else:
        source = ut
        query = select(ut.c.user_id, ut.c.time_joined).where(
            ut.c.app_id == app_id, ut.c.tenant_id == tenant_id
        )
        if recipe_ids:
            query = query.join(u, (u.c.app_id == ut.c.app_id) & (u.c.user_id == ut.c.user_id))
    if recipe_ids:
        query = query.where(u.c.recipe_id.in_(recipe_ids))
    key = tuple_(source.c.time_joined, source.c.user_id)
    if cursor is not None:
        query = query.where(key < tuple_(*cursor) if newest_first else key > tuple_(*cursor))
    if newest_first:
        return query.order_by(source.c.time_joined.desc(), source.c.user_id.desc())
    return query.order_by(source.c.time_joined, source.c.user_id)


def _encode_cursor(time_joined: int, user_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([time_joined, user_id]).encode()).decode()


def _decode_cursor(token: str) -> tuple[int, str] | None:
    try:
        time_joined, user_id = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError, RecursionError):  # a caller's token: nested "[[[…" too
        return None
    if not isinstance(time_joined, int) or not isinstance(user_id, str):
        return None
    return time_joined, user_id


class InvalidPaginationToken(ValueError):
    pass


class UserService:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    async def get_user(self, user_id: str) -> User | None:
        async with self.ctx.db.read() as conn:
            ref = await resolve_user_id(conn, self.ctx.app_id, user_id)
            found = await load_users(conn, self.ctx.app_id, [ref.internal_id])
        return found[0] if found else None

    async def list_users(
        self,
        *,
        tenant_id: str | None = None,
        limit: int = 100,
        pagination_token: str | None = None,
        newest_first: bool = False,
        recipe_ids: Iterable[str] | None = None,
    ) -> tuple[list[User], str | None]:
        """A page of users ordered by time joined; returns the users and the next page's token."""
        if not 1 <= limit <= 1000:
            raise ValueError("limit must be between 1 and 1000")
        cursor = None
        if pagination_token:
            cursor = _decode_cursor(pagination_token)
            if cursor is None:
                raise InvalidPaginationToken("invalid pagination token")
        recipe_list = [r for r in (recipe_ids or []) if r]
        query = page_query(
            self.ctx.app_id, tenant_id, recipe_list, cursor, newest_first=newest_first
        ).limit(limit + 1)
        async with self.ctx.db.read() as conn:
            rows = (await conn.execute(query)).all()
            page = rows[:limit]
            users = await load_users(conn, self.ctx.app_id, [r.user_id for r in page])
        next_token = (
            _encode_cursor(page[-1].time_joined, page[-1].user_id) if len(rows) > limit else None
        )
        return users, next_token

    async def count_users(
        self, *, tenant_id: str | None = None, recipe_ids: Iterable[str] | None = None
    ) -> int:
        u, ut = t.users, t.user_tenants
        recipe_list = [r for r in (recipe_ids or []) if r]
        if tenant_id is None:
            query = select(func.count()).select_from(u).where(u.c.app_id == self.ctx.app_id)
        else:
            # Counted from user_tenants by its key: a tenant's users, not every user of
            # the app checked one by one for membership (103 ms at 100,000 users).
            query = (
                select(func.count())
                .select_from(ut)
                .where(ut.c.app_id == self.ctx.app_id, ut.c.tenant_id == tenant_id)
            )
            if recipe_list:
                query = query.join(u, (u.c.app_id == ut.c.app_id) & (u.c.user_id == ut.c.user_id))
        if recipe_list:
            query = query.where(u.c.recipe_id.in_(recipe_list))
        async with self.ctx.db.read() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def get_users_by_email(self, tenant_id: str, email: str) -> list[User]:
        return await self._by_login(tenant_id, t.emailpassword_user_tenants.c.email, email)

    async def get_users_by_account_info(
        self, tenant_id: str, *, email: str | None = None, phone_number: str | None = None
    ) -> list[User]:
        """Users of any recipe with this email, or this (E.164) phone number, in the tenant
        (the CDI's /users/by-accountinfo); with both, users having either."""
        ept, plt = t.emailpassword_user_tenants, t.passwordless_user_tenants
        scope = (plt.c.app_id == self.ctx.app_id, plt.c.tenant_id == tenant_id)
        queries: list[Any] = []
        if email:
            email = email.strip().lower()
            queries.append(
                select(ept.c.user_id).where(
                    ept.c.app_id == self.ctx.app_id,
                    ept.c.tenant_id == tenant_id,
                    ept.c.email == email,
                )
            )
            queries.append(select(plt.c.user_id).where(*scope, plt.c.email == email))
        if phone_number:
            queries.append(select(plt.c.user_id).where(*scope, plt.c.phone_number == phone_number))
        if not queries:
            return []
        async with self.ctx.db.read() as conn:
            ids: list[str] = []
            for query in queries:
                ids.extend(i for i in await conn.scalars(query) if i not in ids)
            users = await load_users(conn, self.ctx.app_id, ids)
        return sorted(users, key=lambda user: (user.time_joined, user.id))

    async def get_user_by_identifier(self, tenant_id: str, identifier: str) -> User | None:
        """By email, or by username when the identifier has no @ (usernames never do)."""
        ept = t.emailpassword_user_tenants
        column = ept.c.email if "@" in identifier else ept.c.username
        found = await self._by_login(tenant_id, column, identifier)
        return found[0] if found else None

    async def _by_login(self, tenant_id: str, column: Any, value: str) -> list[User]:
        ept = t.emailpassword_user_tenants
        async with self.ctx.db.read() as conn:
            ids = (
                await conn.scalars(
                    select(ept.c.user_id).where(
                        ept.c.app_id == self.ctx.app_id,
                        ept.c.tenant_id == tenant_id,
                        column == value.strip().lower(),
                    )
                )
            ).all()
            return await load_users(conn, self.ctx.app_id, list(ids))

    async def delete_user(self, user_id: str) -> bool:
        """Delete a user and everything that belongs to them, in one transaction."""
        app_id = self.ctx.app_id
        async with self.ctx.db.transaction() as conn:
            ref = await resolve_user_id(conn, app_id, user_id)
            aliases = ref.aliases
            sessions = (
                await conn.execute(
                    delete(t.sessions)
                    .where(t.sessions.c.app_id == app_id, t.sessions.c.user_id.in_(aliases))
                    .returning(t.sessions.c.session_handle, t.sessions.c.tenant_id)
                )
            ).all()
            for table in (t.user_metadata, t.verified_emails, t.email_verification_tokens):
                await conn.execute(
                    delete(table).where(table.c.app_id == app_id, table.c.user_id.in_(aliases))
                )
            # Cascades take the login methods, tenants, mapping and reset tokens.
            result = await conn.execute(
                delete(t.users).where(
                    t.users.c.app_id == app_id, t.users.c.user_id == ref.internal_id
                )
            )
            events = await self.ctx.events.record_async(
                conn, self._deletion_events(ref.public_id, sessions, result.rowcount > 0)
            )
        self.ctx.revoked.refuse(events)
        self.ctx.events.publish_all(events)
        return result.rowcount > 0

    def _deletion_events(
        self, user_id: str, sessions: Sequence[Row[*tuple[Any, ...]]], deleted: bool
    ) -> list[Event]:
        """The user's sessions revoked (their access tokens live one validity more at most),
        and the user deleted."""
        expiry = now_ms() + self.ctx.settings.access_token_validity * 1000
        app_id = self.ctx.app_id
        events: list[Event] = [
            SessionRevoked(
                app_id=app_id,
                tenant_id=row.tenant_id,
                user_id=user_id,
                session_handle=row.session_handle,
                reason="user_deleted",
                access_token_expiry=expiry,
            )
            for row in sessions
        ]
        if deleted:
            events.append(UserDeleted(app_id=app_id, user_id=user_id))
        return events
