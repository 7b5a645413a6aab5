"""User metadata: a JSON object per user, updated by shallow merge (CDI semantics)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from doorkeep.core.context import AppContext
from doorkeep.core.users import resolve_user_id
from doorkeep.storage import tables as t

MAX_METADATA_BYTES = 1 << 20  # 1 MiB of JSON per user


class InvalidMetadata(ValueError):
    pass


class MetadataService:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    async def get(self, user_id: str) -> dict[str, Any]:
        md = t.user_metadata
        async with self.ctx.db.read() as conn:
            key = (await resolve_user_id(conn, self.ctx.app_id, user_id)).internal_id
            value = (
                await conn.execute(
                    select(md.c.metadata).where(md.c.app_id == self.ctx.app_id, md.c.user_id == key)
                )
            ).scalar_one_or_none()
        return dict(value or {})

    async def update(self, user_id: str, update_: dict[str, Any]) -> dict[str, Any]:
        """Merge `update_` into the top level; a key whose new value is None is removed."""
        if not isinstance(update_, dict):
            raise InvalidMetadata("metadata update must be a JSON object")
        md = t.user_metadata
        insert_ = pg_insert if self.ctx.db.dialect == "postgresql" else sqlite_insert
        async with self.ctx.db.transaction() as conn:
            key = (await resolve_user_id(conn, self.ctx.app_id, user_id)).internal_id
            where = (md.c.app_id == self.ctx.app_id, md.c.user_id == key)
            # Make sure the row exists, then lock it: two merges must not lose each
            # other's keys (FOR UPDATE cannot lock a row that is not there yet).
            await conn.execute(
                insert_(md)
                .values(app_id=self.ctx.app_id, user_id=key, metadata={})
                .on_conflict_do_nothing()
            )
            query = select(md.c.metadata).where(*where)
            if self.ctx.db.dialect == "postgresql":
                query = query.with_for_update()
            merged = dict((await conn.execute(query)).scalar_one() or {})
            for name, value in update_.items():
                if value is None:
                    merged.pop(name, None)
                else:
                    merged[name] = value
            check_metadata_size(merged)
            await conn.execute(update(md).where(*where).values(metadata=merged))
        return merged

    async def clear(self, user_id: str) -> None:
        md = t.user_metadata
        async with self.ctx.db.transaction() as conn:
            key = (await resolve_user_id(conn, self.ctx.app_id, user_id)).internal_id
            await conn.execute(
                delete(md).where(md.c.app_id == self.ctx.app_id, md.c.user_id == key)
            )


def check_metadata_size(value: dict[str, Any]) -> None:
    """InvalidMetadata unless `value` is JSON of at most MAX_METADATA_BYTES."""
    try:
        encoded = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidMetadata(f"metadata must be JSON: {exc}") from exc
    if len(encoded) > MAX_METADATA_BYTES:
        raise InvalidMetadata("metadata is larger than 1 MiB")
