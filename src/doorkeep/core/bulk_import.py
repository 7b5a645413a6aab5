"""Insert many users with existing password hashes, a batch per transaction.

The rows are exactly those an import one user at a time writes: what a sign-up
writes (users, user_tenants, emailpassword_users, emailpassword_user_tenants) plus,
per user, an optional external-ID mapping, verified email and metadata, all keyed
by the new internal user ID. Each table gets one executemany per batch (asyncpg
pipelines it; it measured twice as fast as one multi-VALUES statement, whose
thousands of bind parameters SQLAlchemy compiles every time), so a batch of a
thousand users costs a handful of round trips instead of thousands.

A batch is all or nothing. If the database refuses it (a concurrent writer took an
email or an ID between the caller's look and the insert, or a row it rejects), each
user of the batch is tried again alone, in its own transaction: the others still go
in, and no user is ever half written.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import insert, select, text
from sqlalchemy.exc import DBAPIError

from doorkeep.core.common import new_id, now_ms
from doorkeep.core.context import AppContext
from doorkeep.core.emailpassword import account_rows
from doorkeep.core.passwordless_users import RECIPE_ID as PASSWORDLESS
from doorkeep.core.passwordless_users import account_rows as passwordless_rows
from doorkeep.storage import tables as t
from doorkeep.storage.database import is_unavailable

# The tables an import writes, in foreign-key order.
TABLES = (
    t.users,
    t.user_tenants,
    t.emailpassword_users,
    t.emailpassword_user_tenants,
    t.passwordless_users,
    t.passwordless_user_tenants,
    t.userid_mappings,
    t.verified_emails,
    t.user_metadata,
)


@dataclass(frozen=True)
class ImportedUser:
    """One user to import, already checked: `email` normalised, `password_hash` a
    validated imported hash, `tenant_id` an existing tenant. A passwordless user
    (`recipe_id` "passwordless") has no hash, and an email and/or an E.164 phone number."""

    tenant_id: str
    email: str | None
    password_hash: str | None
    external_user_id: str | None = None
    email_verified: bool = False
    metadata: dict[str, Any] | None = None  # None: no metadata row
    phone_number: str | None = None
    recipe_id: str = "emailpassword"


def login_keys(user: ImportedUser) -> list[tuple[str, str]]:
    """What must be free in the tenant for `user`: (tenant, email) for an email/password
    login; (tenant, "passwordless:email:…" / "passwordless:phone:…") for a passwordless
    one (the two recipes' addresses are unique separately)."""
    if user.recipe_id != PASSWORDLESS:
        return [(user.tenant_id, user.email or "")]
    keys = [(user.tenant_id, f"passwordless:email:{user.email}")] if user.email else []
    if user.phone_number:
        keys.append((user.tenant_id, f"passwordless:phone:{user.phone_number}"))
    return keys


@dataclass(frozen=True)
class Failed:
    reason: str


Outcome = Literal["imported", "skipped"] | Failed


@dataclass(frozen=True)
class Existing:
    """What the database already holds of a batch."""

    emails: set[tuple[str, str]] = field(default_factory=set)  # login_keys taken already
    external_ids: set[str] = field(default_factory=set)  # mapped to some user already
    user_ids: set[str] = field(default_factory=set)  # equal to some user's own ID


def external_id_taken(external_user_id: str) -> Failed:
    return Failed(f"externalUserId {external_user_id!r} is taken")


async def find_existing(ctx: AppContext, users: Sequence[ImportedUser]) -> Existing:
    """One SELECT … IN per tenant of the batch for emails, one each for external IDs."""
    if not users:
        return Existing()
    ept, mp, u = t.emailpassword_user_tenants, t.userid_mappings, t.users
    by_tenant: dict[str, set[str]] = {}
    for user in users:
        if user.recipe_id != PASSWORDLESS and user.email is not None:
            by_tenant.setdefault(user.tenant_id, set()).add(user.email)
    external = {user.external_user_id for user in users if user.external_user_id is not None}
    found = Existing()
    async with ctx.db.read() as conn:
        for tenant_id, emails in by_tenant.items():
            rows = await conn.scalars(
                select(ept.c.email).where(
                    ept.c.app_id == ctx.app_id,
                    ept.c.tenant_id == tenant_id,
                    ept.c.email.in_(emails),
                )
            )
            found.emails.update((tenant_id, email) for email in rows)
        await _find_passwordless(ctx, conn, users, found)
        if external:
            found.external_ids.update(
                await conn.scalars(
                    select(mp.c.external_user_id).where(
                        mp.c.app_id == ctx.app_id, mp.c.external_user_id.in_(external)
                    )
                )
            )
            # An external ID equal to another user's own ID would make lookups ambiguous
            # (the mapping service refuses it too).
            found.user_ids.update(
                await conn.scalars(
                    select(u.c.user_id).where(u.c.app_id == ctx.app_id, u.c.user_id.in_(external))
                )
            )
    return found


async def _find_passwordless(
    ctx: AppContext, conn: Any, users: Sequence[ImportedUser], found: Existing
) -> None:
    """The passwordless contacts of `users` already taken, as login_keys."""
    plt = t.passwordless_user_tenants
    wanted = {key for user in users if user.recipe_id == PASSWORDLESS for key in login_keys(user)}
    for tenant_id in {tenant for tenant, _ in wanted}:
        for kind, column in (("email", plt.c.email), ("phone", plt.c.phone_number)):
            prefix = f"passwordless:{kind}:"
            values = [
                k[len(prefix) :] for t_id, k in wanted if t_id == tenant_id and k.startswith(prefix)
            ]
            if not values:
                continue
            rows = await conn.scalars(
                select(column).where(
                    plt.c.app_id == ctx.app_id, plt.c.tenant_id == tenant_id, column.in_(values)
                )
            )
            found.emails.update((tenant_id, prefix + value) for value in rows)


async def insert_batch(ctx: AppContext, users: Sequence[ImportedUser]) -> list[Outcome]:
    """Insert `users` (which the caller found absent) in one transaction; one outcome
    per user, in order. Should the database refuse the batch, each user is retried
    alone: "skipped" if its email appeared meanwhile, Failed if the database rejects it.
    A lost database connection is raised, with the batch rolled back."""
    if not users:
        return []
    try:
        await insert_users(ctx, users)
    except DBAPIError as exc:
        if is_unavailable(exc):
            raise
        return [await _insert_alone(ctx, user) for user in users]
    return ["imported"] * len(users)


async def _insert_alone(ctx: AppContext, user: ImportedUser) -> Outcome:
    try:
        await insert_users(ctx, [user])
    except DBAPIError as exc:
        if is_unavailable(exc):
            raise
        existing = await find_existing(ctx, [user])
        if any(key in existing.emails for key in login_keys(user)):
            return "skipped"
        ext = user.external_user_id
        if ext is not None and (ext in existing.external_ids or ext in existing.user_ids):
            return external_id_taken(ext)
        detail = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc)
        return Failed(f"the database refused this user: {detail}")
    return "imported"


async def insert_users(ctx: AppContext, users: Sequence[ImportedUser]) -> list[str]:
    """Create every user of `users` in one transaction; returns their new internal IDs.

    Raises the database's error (IntegrityError for a clash), having written nothing,
    if it refuses any row.
    """
    if not users:
        return []
    app_id, joined = ctx.app_id, now_ms()
    pairs = [(new_id(), user) for user in users]
    rows: dict[Any, list[dict[str, Any]]] = {table: [] for table in TABLES}
    for uid, user in pairs:
        if user.recipe_id == PASSWORDLESS:
            account = passwordless_rows(
                app_id, user.tenant_id, uid, user.email, user.phone_number, joined
            )
        else:
            assert user.password_hash is not None
            account = account_rows(
                app_id, user.tenant_id, uid, user.email, None, user.password_hash, joined
            )
        for table, row in account:
            rows[table].append(row)
        if user.external_user_id is not None:
            rows[t.userid_mappings].append(
                {
                    "app_id": app_id,
                    "supertokens_user_id": uid,
                    "external_user_id": user.external_user_id,
                    "external_user_id_info": None,
                }
            )
        if user.email_verified and user.email is not None:
            rows[t.verified_emails].append({"app_id": app_id, "user_id": uid, "email": user.email})
        if user.metadata is not None:
            rows[t.user_metadata].append(
                {"app_id": app_id, "user_id": uid, "metadata": user.metadata}
            )
    async with ctx.db.transaction() as conn:
        for table in TABLES:
            if rows[table]:
                await conn.execute(insert(table), rows[table])
    return [uid for uid, _ in pairs]


async def refresh_statistics(ctx: AppContext, tables: Iterable[Any] = TABLES) -> None:
    """ANALYZE the import's tables on PostgreSQL (its advice after loading many rows).

    Without statistics, which a fresh database or a server without autovacuum lacks,
    the planner guesses that `app_id = …` matches almost nothing and checks each
    foreign key by scanning an index over all the users: every insert then costs
    time proportional to the table, and an import slows to a crawl as it grows.
    SQLite plans these lookups by its unique indexes without statistics: a no-op there.
    A role that may not analyze a table gets a warning, not an error.
    """
    if ctx.db.dialect != "postgresql":
        return
    names = ", ".join(table.name for table in tables)
    async with ctx.db.engine.connect() as conn:
        await conn.execute(text(f"ANALYZE {names}"))
        await conn.commit()
