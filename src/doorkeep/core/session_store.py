"""The units of work behind creating and refreshing a session (see `Database.run`).

Each function here runs inside one transaction on a synchronous connection, so that
a sign-in or a refresh is one trip to the database driver. Statements are built once
at import and given their values at execution: building a statement and its cache
key costs more than running it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.engine import Connection, Row

from doorkeep.core.common import random_token, sha256_hex
from doorkeep.core.session_models import (
    SessionRecord,
    TokenTheftDetectedError,
    UnauthorisedError,
)
from doorkeep.storage import tables as t

_s, _rt = t.sessions, t.refresh_tokens

_INSERT_SESSION = insert(_s)
_INSERT_REFRESH_TOKEN = insert(_rt)
_REFRESH_ROW = (
    select(
        _rt.c.child_hash2,
        _rt.c.superseded_at,
        _s.c.session_handle,
        _s.c.user_id,
        _s.c.recipe_user_id,
        _s.c.tenant_id,
        _s.c.session_data,
        _s.c.jwt_payload,
        _s.c.refresh_token_hash2,
        _s.c.use_static_key,
        _s.c.created_at,
        _s.c.expires_at,
    )
    .join(_s, (_s.c.app_id == _rt.c.app_id) & (_s.c.session_handle == _rt.c.session_handle))
    .where(_rt.c.token_hash2 == bindparam("hash2"), _rt.c.app_id == bindparam("app_id"))
)
# Compare-and-swap: only the refresh that still sees the current token gets a child.
_SWAP_TOKEN = (
    update(_s)
    .where(
        _s.c.app_id == bindparam("app"),
        _s.c.session_handle == bindparam("handle"),
        _s.c.refresh_token_hash2 == bindparam("old_hash2"),
    )
    .values(
        refresh_token_hash2=bindparam("new_hash2"),
        expires_at=bindparam("new_expiry"),
        use_static_key=bindparam("static"),
    )
)
# Refreshing with a token is also the first use of it.
_SUPERSEDE_TOKEN = (
    update(_rt)
    .where(_rt.c.token_hash2 == bindparam("old_hash2"))
    .values(
        child_hash2=bindparam("new_hash2"),
        superseded_at=bindparam("now"),
        used_at=func.coalesce(_rt.c.used_at, bindparam("now")),
    )
)
# A refreshed session's first verified use marks its token used (see `rotate`'s races).
_MARK_USED = (
    update(_rt)
    .where(_rt.c.token_hash2 == bindparam("hash2"), _rt.c.used_at.is_(None))
    .values(used_at=bindparam("now"))
)
_CHILD_USED_AT = select(_rt.c.used_at).where(_rt.c.token_hash2 == bindparam("hash2"))
_DELETE_SESSION = delete(_s).where(
    _s.c.app_id == bindparam("app"), _s.c.session_handle == bindparam("handle")
)


def hash2(refresh_token: str) -> str:
    """How a refresh token is stored: sha256(sha256(token))."""
    return sha256_hex(sha256_hex(refresh_token))


def insert_session(
    app_id: str, record: SessionRecord, refresh_token: str, use_static_key: bool, conn: Connection
) -> None:
    token_hash2 = hash2(refresh_token)
    conn.execute(
        _INSERT_SESSION,
        {
            "app_id": app_id,
            "session_handle": record.handle,
            "tenant_id": record.tenant_id,
            "user_id": record.user_id,
            "recipe_user_id": record.recipe_user_id,
            "session_data": record.session_data,
            "jwt_payload": record.user_data_in_jwt,
            "refresh_token_hash2": token_hash2,
            "use_static_key": use_static_key,
            "created_at": record.time_created,
            "expires_at": record.expiry,
        },
    )
    _insert_refresh_token(conn, app_id, record.handle, token_hash2, record.time_created)


def mark_used(token_hash2: str, now: int, conn: Connection) -> None:
    conn.execute(_MARK_USED, {"hash2": token_hash2, "now": now})


@dataclass(frozen=True)
class Rotated:
    """A refresh that won: the session as it now is, and the new refresh token."""

    record: SessionRecord
    refresh_token: str
    use_static_key: bool


@dataclass(frozen=True)
class RotationRules:
    app_id: str
    grace_ms: int  # a replayed predecessor within this long, child unused, is a race
    expiry: Callable[[int, int], int]  # (created_at, now) -> the session's new expiry
    # The kind of key the session's tokens are signed with from this refresh on (the
    # SDK's use_dynamic_access_token_signing_key may change between deployments);
    # None keeps the session's own.
    use_static_key: bool | None = None


def rotate(
    rules: RotationRules, old_hash2: str, now: int, conn: Connection
) -> Rotated | UnauthorisedError | TokenTheftDetectedError:
    """Swap the session's refresh token for a child, or judge the token presented."""
    row = _refresh_row(conn, rules.app_id, old_hash2)
    if row is None:
        return UnauthorisedError("refresh token is not valid")
    if row.expires_at <= now:
        _delete_session(conn, rules.app_id, row.session_handle)
        return UnauthorisedError("session expired")
    if row.refresh_token_hash2 == old_hash2:
        expires_at = rules.expiry(row.created_at, now)
        if expires_at <= now:  # past the absolute cap (e.g. one set after the session began)
            _delete_session(conn, rules.app_id, row.session_handle)
            return UnauthorisedError("session expired")
        child = random_token()
        keys = {"old_hash2": old_hash2, "new_hash2": hash2(child)}
        static = bool(row.use_static_key if rules.use_static_key is None else rules.use_static_key)
        swapped = conn.execute(
            _SWAP_TOKEN,
            {
                **keys,
                "app": rules.app_id,
                "handle": row.session_handle,
                "new_expiry": expires_at,
                "static": static,
            },
        )
        if swapped.rowcount == 1:
            conn.execute(_SUPERSEDE_TOKEN, {**keys, "now": now})
            _insert_refresh_token(conn, rules.app_id, row.session_handle, keys["new_hash2"], now)
            return Rotated(record_of(row, expires_at), child, static)
        # A concurrent refresh won: judge this token as a superseded one.
        row = _refresh_row(conn, rules.app_id, old_hash2)
        if row is None:
            return UnauthorisedError("session does not exist")
    if _is_benign_race(conn, rules, row, now):
        return UnauthorisedError("refresh token already rotated", clear_tokens=False)
    _delete_session(conn, rules.app_id, row.session_handle)
    return TokenTheftDetectedError(row.session_handle, row.user_id, row.recipe_user_id)


def record_of(row: Row[*tuple[Any, ...]], expiry: int) -> SessionRecord:
    return SessionRecord(
        handle=row.session_handle,
        user_id=row.user_id,
        recipe_user_id=row.recipe_user_id,
        tenant_id=row.tenant_id,
        session_data=dict(row.session_data or {}),
        user_data_in_jwt=dict(row.jwt_payload or {}),
        time_created=row.created_at,
        expiry=expiry,
    )


def _refresh_row(conn: Connection, app_id: str, token_hash2: str) -> Row[*tuple[Any, ...]] | None:
    return conn.execute(_REFRESH_ROW, {"app_id": app_id, "hash2": token_hash2}).first()


def _is_benign_race(
    conn: Connection, rules: RotationRules, row: Row[*tuple[Any, ...]], now: int
) -> bool:
    """The immediate predecessor, replayed quickly, whose child nobody has used yet."""
    if row.child_hash2 is None or row.child_hash2 != row.refresh_token_hash2:
        return False
    if now - (row.superseded_at or 0) > rules.grace_ms:
        return False
    used_at = conn.execute(_CHILD_USED_AT, {"hash2": row.child_hash2}).scalar_one_or_none()
    return used_at is None


def _delete_session(conn: Connection, app_id: str, handle: str) -> None:
    conn.execute(_DELETE_SESSION, {"app": app_id, "handle": handle})


def _insert_refresh_token(
    conn: Connection, app_id: str, handle: str, token_hash2: str, now: int
) -> None:
    conn.execute(
        _INSERT_REFRESH_TOKEN,
        {"token_hash2": token_hash2, "app_id": app_id, "session_handle": handle, "created_at": now},
    )
