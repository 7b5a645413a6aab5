"""Apps and tenants. The `public` app and tenant exist from the first migration."""

from __future__ import annotations

from sqlalchemy import select

from doorkeep.core.context import AppContext
from doorkeep.storage import tables as t


async def tenant_exists(ctx: AppContext, tenant_id: str) -> bool:
    if not isinstance(tenant_id, str) or not tenant_id:
        return False
    tn = t.tenants
    async with ctx.db.engine.connect() as conn:
        row = (
            await conn.execute(
                select(tn.c.tenant_id).where(tn.c.app_id == ctx.app_id, tn.c.tenant_id == tenant_id)
            )
        ).first()
    return row is not None
