"""Passwordless users in the database: the rows of an account, sign-in-or-up, and
changes of a user's email or phone number (units of work, on a sync connection)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from doorkeep.core.common import FieldError, UnknownUserIdError, new_id, now_ms
from doorkeep.core.emailpassword import UpdateOk
from doorkeep.core.passwordless_results import UpdateResult
from doorkeep.storage import tables as t

RECIPE_ID = "passwordless"
# SuperTokens core's words (its SDKs' tests match them): a user keeps an email or a number.
CLEAR_BOTH = "You cannot clear both email and phone number of a user"


def sign_in_up(
    conn: Connection, app_id: str, tenant_id: str, email: str | None, phone: str | None
) -> tuple[str, bool]:
    """(internal user ID, created) of the user of this contact (normalised: exactly one
    of email and phone) in the tenant. An email that received a code is proven: it is
    marked verified."""
    plt = t.passwordless_user_tenants
    column, value = (plt.c.email, email) if email is not None else (plt.c.phone_number, phone)
    user_id = conn.execute(
        select(plt.c.user_id).where(
            plt.c.app_id == app_id, plt.c.tenant_id == tenant_id, column == value
        )
    ).scalar()
    created = user_id is None
    if user_id is None:
        user_id = new_id()
        for table, row in account_rows(app_id, tenant_id, user_id, email, phone, now_ms()):
            conn.execute(insert(table), row)
    if email is not None:
        insert_ = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        conn.execute(
            insert_(t.verified_emails)
            .values(app_id=app_id, user_id=user_id, email=email)
            .on_conflict_do_nothing()
        )
    return user_id, created


def update_contact(
    app_id: str, internal_id: str, values: dict[str, str | None], conn: Connection
) -> UpdateResult:
    """Set `values` (email, phone_number; None deletes) on the user and every tenant row
    of theirs. A clash raises IntegrityError (the caller names it)."""
    pl, plt = t.passwordless_users, t.passwordless_user_tenants
    where = (pl.c.app_id == app_id, pl.c.user_id == internal_id)
    current = conn.execute(
        select(pl.c.email, pl.c.phone_number).where(*where).with_for_update()
    ).first()
    if current is None:
        return UnknownUserIdError()
    after = {"email": current.email, "phone_number": current.phone_number, **values}
    if after["email"] is None and after["phone_number"] is None:
        return FieldError.one("email", CLEAR_BOTH)
    if values:
        conn.execute(update(pl).where(*where).values(**values))
        conn.execute(
            update(plt).where(plt.c.app_id == app_id, plt.c.user_id == internal_id).values(**values)
        )
    return UpdateOk()


def account_rows(
    app_id: str,
    tenant_id: str,
    user_id: str,
    email: str | None,
    phone_number: str | None,
    joined: int,
) -> list[tuple[Any, dict[str, Any]]]:
    """The rows that make a passwordless account, in foreign-key order (a sign-up, and
    each passwordless user of a bulk import)."""
    contact = {"email": email, "phone_number": phone_number}
    return [
        (
            t.users,
            {
                "app_id": app_id,
                "user_id": user_id,
                "primary_user_id": user_id,
                "recipe_id": RECIPE_ID,
                "time_joined": joined,
            },
        ),
        (
            t.user_tenants,
            {"app_id": app_id, "tenant_id": tenant_id, "user_id": user_id, "time_joined": joined},
        ),
        (
            t.passwordless_users,
            {"app_id": app_id, "user_id": user_id, "time_joined": joined, **contact},
        ),
        (
            t.passwordless_user_tenants,
            {"app_id": app_id, "tenant_id": tenant_id, "user_id": user_id, **contact},
        ),
    ]
