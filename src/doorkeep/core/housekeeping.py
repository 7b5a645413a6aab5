"""Deleting what has expired: sessions, single-use tokens (passwordless devices and codes
included), ended rate-limit windows.

Nothing reads an expired row as valid (every lookup checks expiry), so this only
keeps the tables from growing without bound. It deletes in small batches, each its
own transaction, so that SQLite's one writer is never held for long, and several
instances may run it at once.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from sqlalchemy import Table, bindparam, delete, select, tuple_
from sqlalchemy.engine import Connection

from doorkeep.core.audit import AuditTrail
from doorkeep.core.common import now_ms
from doorkeep.storage import Database
from doorkeep.storage import tables as t

log = logging.getLogger("doorkeep.housekeeping")

BATCH = 1000
# The first sweep waits a little after start: a process that starts often still
# sweeps, and a short-lived one (a test, a CLI command) never does.
FIRST_SWEEP_AFTER_S = 60.0


def _batch_delete(table: Table, key: list[Any], expired: Any) -> Any:
    """Delete up to :batch rows matching `expired`, chosen by their primary key."""
    chosen = select(*key).where(expired).limit(bindparam("batch"))
    return delete(table).where(tuple_(*key).in_(chosen))


_s, _evt, _prt, _rl, _pd, _pc = (
    t.sessions,
    t.email_verification_tokens,
    t.password_reset_tokens,
    t.rate_limit_counters,
    t.passwordless_devices,
    t.passwordless_codes,
)
# One statement per table, built once. Refresh tokens go with their session (cascade).
PURGES = {
    "sessions": _batch_delete(
        _s, [_s.c.app_id, _s.c.session_handle], _s.c.expires_at <= bindparam("now")
    ),
    "email_verification_tokens": _batch_delete(
        _evt, [_evt.c.token_hash], _evt.c.expires_at <= bindparam("now")
    ),
    "password_reset_tokens": _batch_delete(
        _prt, [_prt.c.token_hash], _prt.c.expires_at <= bindparam("now")
    ),
    "rate_limit_counters": _batch_delete(
        _rl, [_rl.c.key], _rl.c.window_start <= bindparam("counters_before")
    ),
    # A device expires with its newest code (its codes go with it, by cascade).
    "passwordless_devices": _batch_delete(
        _pd,
        [_pd.c.app_id, _pd.c.tenant_id, _pd.c.device_id_hash],
        _pd.c.expires_at <= bindparam("now"),
    ),
    "passwordless_codes": _batch_delete(
        _pc, [_pc.c.app_id, _pc.c.tenant_id, _pc.c.code_id], _pc.c.expires_at <= bindparam("now")
    ),
    # A revocation matters until the last access token of its session has expired.
    "revoked_sessions": _batch_delete(
        t.revoked_sessions,
        [t.revoked_sessions.c.id],
        t.revoked_sessions.c.expires_at <= bindparam("now"),
    ),
}


@dataclass(frozen=True)
class Purged:
    """Rows deleted by one sweep, per table."""

    sessions: int = 0
    email_verification_tokens: int = 0
    password_reset_tokens: int = 0
    rate_limit_counters: int = 0
    passwordless_devices: int = 0
    passwordless_codes: int = 0
    revoked_sessions: int = 0
    audit_log: int = 0  # past audit_retention_days


async def purge_expired(
    db: Database, *, now: int, counters_before: int, batch: int = BATCH
) -> Purged:
    """Delete every row that expired by `now` (ms), and counters whose window began by
    `counters_before` (ms): the longest rate-limit window ago, so none still counts."""
    params = {"now": now, "counters_before": counters_before, "batch": batch}
    deleted = dict.fromkeys(PURGES, 0)
    for name, statement in PURGES.items():
        while True:
            count = await db.run(partial(_delete_batch, statement, params), write=True)
            deleted[name] += count
            if count < batch:
                break
    return Purged(**deleted)


def _delete_batch(statement: Any, params: dict[str, Any], conn: Connection) -> int:
    return conn.execute(statement, params).rowcount


class Housekeeping:
    """Sweeps every `interval_s` seconds while started (0 or less: never)."""

    def __init__(
        self,
        db: Database,
        *,
        interval_s: float,
        longest_window_s: int,
        audit: AuditTrail | None = None,
        audit_retention_days: int = 365,
    ) -> None:
        self.db = db
        self.interval_s = interval_s
        self.longest_window_s = longest_window_s
        self.audit = audit  # its oldest rows are swept too (the anchor keeps it verifiable)
        self.audit_retention_ms = audit_retention_days * 24 * 3600 * 1000
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.interval_s > 0 and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._sweep_forever())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def sweep(self) -> Purged:
        now = now_ms()
        purged = await purge_expired(
            self.db, now=now, counters_before=now - self.longest_window_s * 1000
        )
        if self.audit is not None:
            swept = await self.audit.sweep(now - self.audit_retention_ms)
            purged = replace(purged, audit_log=swept)
        return purged

    async def _sweep_forever(self) -> None:
        await asyncio.sleep(min(FIRST_SWEEP_AFTER_S, self.interval_s))
        while True:
            try:
                purged = await self.sweep()
                log.info("expired rows deleted: %s", purged)
            except Exception:  # the database may be away: try again next time
                log.exception("sweeping expired rows failed")
            await asyncio.sleep(self.interval_s)
