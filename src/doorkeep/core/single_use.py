"""Single-use tokens sent by email (password reset, email verification).

A token is 256 random bits; only its SHA-256 digest is stored. Consuming is one
`DELETE … RETURNING`, so of two concurrent consumptions exactly one gets the row.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, delete, insert, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from doorkeep.core.common import now_ms, random_token, sha256_hex

MAX_TOKEN_LENGTH = 256


async def issue(conn: AsyncConnection, table: Table, lifetime_s: int, **values: Any) -> str:
    """Store a new token's digest with `values`; returns the token to send."""
    token = random_token()
    await conn.execute(
        insert(table).values(
            token_hash=sha256_hex(token), expires_at=now_ms() + lifetime_s * 1000, **values
        )
    )
    return token


async def is_live(conn: AsyncConnection, table: Table, token: object, **scope: str) -> bool:
    """Whether `token` could be consumed now (known, unexpired, in scope), without
    consuming it: a digest lookup, so callers can refuse a bad token before costly work.
    Only `consume` decides; a token may be spent by someone else in between."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        return False
    in_scope = [table.c[name] == value for name, value in scope.items()]
    found = await conn.execute(
        select(table.c.token_hash)
        .where(table.c.token_hash == sha256_hex(token), table.c.expires_at > now_ms(), *in_scope)
        .limit(1)
    )
    return found.first() is not None


async def consume(
    conn: AsyncConnection, table: Table, token: object, **scope: str
) -> Row[*tuple[Any, ...]] | None:
    """Delete and return the unexpired row of `token` whose columns equal `scope`
    (e.g. app_id, tenant_id), or None: unknown, used, expired or out of scope."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    in_scope = [table.c[name] == value for name, value in scope.items()]
    return (
        await conn.execute(
            delete(table)
            .where(
                table.c.token_hash == sha256_hex(token), table.c.expires_at > now_ms(), *in_scope
            )
            .returning(*[c for c in table.c if c.name != "token_hash"])
        )
    ).first()
