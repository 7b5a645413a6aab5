"""Apps and tenants. The `public` app and tenant exist from the first migration."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from doorkeep.core.common import PUBLIC, now_ms
from doorkeep.core.context import AppContext
from doorkeep.storage import Database
from doorkeep.storage import tables as t

_TENANT_ID = re.compile(r"[a-z0-9-]{1,64}")


def is_tenant_id(value: object) -> bool:
    """The one rule for a tenant ID, for every face: 1 to 64 of a-z, 0-9 and '-' (the
    whole string: no trailing newline slips through)."""
    return isinstance(value, str) and _TENANT_ID.fullmatch(value) is not None


async def tenant_exists(ctx: AppContext, tenant_id: str) -> bool:
    if not isinstance(tenant_id, str) or not tenant_id:
        return False
    tn = t.tenants
    async with ctx.db.read() as conn:
        row = (
            await conn.execute(
                select(tn.c.tenant_id).where(tn.c.app_id == ctx.app_id, tn.c.tenant_id == tenant_id)
            )
        ).first()
    return row is not None


async def load_app_config(db: Database, app_id: str) -> dict[str, Any] | None:
    """The stored core config of an app, or None if there is no such app."""
    async with db.read() as conn:
        row = (
            await conn.execute(select(t.apps.c.core_config).where(t.apps.c.app_id == app_id))
        ).first()
    return None if row is None else dict(row.core_config or {})


async def save_app(db: Database, app_id: str, core_config: dict[str, Any]) -> bool:
    """Create the app (with its public tenant) or replace its core config; True if created."""
    now = now_ms()
    try:
        async with db.transaction() as conn:
            await conn.execute(
                insert(t.apps).values(app_id=app_id, core_config=core_config, created_at=now)
            )
            await conn.execute(
                insert(t.tenants).values(app_id=app_id, tenant_id=PUBLIC, config={}, created_at=now)
            )
        return True
    except IntegrityError:
        async with db.transaction() as conn:
            await conn.execute(
                update(t.apps).where(t.apps.c.app_id == app_id).values(core_config=core_config)
            )
        return False


async def save_tenant(db: Database, app_id: str, tenant_id: str) -> bool:
    """Create a tenant of an existing app; True if it is new."""
    try:
        async with db.transaction() as conn:
            await conn.execute(
                insert(t.tenants).values(
                    app_id=app_id, tenant_id=tenant_id, config={}, created_at=now_ms()
                )
            )
    except IntegrityError:
        return False
    return True
