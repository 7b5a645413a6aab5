"""The audit trail (core/audit.py) on SQLite and PostgreSQL: security events per user,
chained by digests; `doorkeep audit verify` (a real process) passes an intact chain and
names the first bad row of an edited, rewritten or deleted one; retention sweeps the
oldest rows and the rest still verifies; two instances appending at once form one chain.

Mutants tried: the digest not covering `ip` (CONTENT without it): the edit test passes
verify and fails; the sweep leaving the anchor's base where it was: the retention test
fails (the first remaining row follows another row); the anchor row not locked
(`with_for_update` dropped): the concurrent append test fails on PostgreSQL (rows
recording the same predecessor).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from typing import Any

from sqlalchemy import func, select, text, update

from doorkeep import Doorkeep, Settings
from doorkeep.core.audit import GENESIS, AuditTrail, chain_digest
from doorkeep.core.common import now_ms
from doorkeep.core.events import RequestOrigin, SignedIn, origin
from doorkeep.storage import tables as t

PASSWORD = "correct horse battery"
DAY_MS = 24 * 3600 * 1000


async def sql(dk: Doorkeep, statement: str, **params: Any) -> None:
    async with dk.core.db.transaction() as conn:
        await conn.execute(text(statement), params)


async def row_ids(dk: Doorkeep) -> list[int]:
    async with dk.core.db.read() as conn:
        return list((await conn.scalars(select(t.audit_log.c.id).order_by("id"))).all())


def publish_sign_ins(dk: Doorkeep, user_id: str, count: int) -> None:
    for i in range(count):
        dk.events.publish(SignedIn(user_id=user_id, tenant_id="public", method=f"m{i}"))


def audit_verify(database_url: str) -> subprocess.CompletedProcess[str]:
    """`doorkeep audit verify` as its own process."""
    environment = {**os.environ, "DOORKEEP_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "doorkeep.cli", "audit", "verify"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_a_users_security_activity_is_kept_with_device_and_ip(dk: Doorkeep) -> None:
    signed_up = await dk.emailpassword.sign_up("ada@example.com", PASSWORD)
    user_id = signed_up.user.id  # type: ignore[union-attr]
    with origin(RequestOrigin("203.0.113.9", "Firefox/130.0", "req-1")):
        await dk.emailpassword.sign_in("ada@example.com", PASSWORD)
        await dk.emailpassword.sign_in("ada@example.com", "not the password")
        await dk.emailpassword.update_email_or_password(user_id, password="a new password!")
    await dk.session.create_new_session(user_id)  # not a security event of the trail
    await dk.audit.flush()
    entries = await dk.audit.recent("public", user_id)
    assert [e.kind for e in entries] == [
        "password.changed",
        "sign_in.failed",
        "sign_in.succeeded",
        "user.created",
    ]
    newest = entries[0]
    assert (newest.ip, newest.user_agent) == ("203.0.113.9", "Firefox/130.0")
    assert entries[1].outcome == "failure" and entries[1].data["method"] == "emailpassword"
    assert await dk.audit.recent("public", "someone-else") == []
    verdict = await dk.audit.verify()
    assert verdict.ok and verdict.rows == 4


async def test_each_row_is_chained_to_the_one_before(dk: Doorkeep) -> None:
    publish_sign_ins(dk, "u-1", 3)
    await dk.audit.flush()
    async with dk.core.db.read() as conn:
        rows = (await conn.execute(select(t.audit_log).order_by("id"))).all()
    prev = GENESIS
    for row in rows:
        content = {name: getattr(row, name) for name in row._fields}
        assert row.prev_digest == prev and row.digest == chain_digest(prev, content)
        prev = row.digest


async def test_audit_verify_names_the_first_bad_row(dk: Doorkeep, database_url: str) -> None:
    publish_sign_ins(dk, "u-1", 6)
    await dk.audit.flush()
    _, second, third, fourth, _, _ = await row_ids(dk)
    intact = audit_verify(database_url)
    assert intact.returncode == 0 and "6 rows verified" in intact.stdout

    # An edited row: its digest no longer follows from its content.
    await sql(dk, "UPDATE audit_log SET ip = '198.51.100.1' WHERE id = :i", i=second)
    edited = audit_verify(database_url)
    assert edited.returncode == 1
    assert f"broken at row {second}: row {second} was edited" in edited.stderr
    await sql(dk, "UPDATE audit_log SET ip = NULL WHERE id = :i", i=second)
    assert audit_verify(database_url).returncode == 0  # put back: intact again

    # A rewritten row (content and digest): the next row recorded another digest for it.
    async with dk.core.db.read() as conn:
        row = (await conn.execute(select(t.audit_log).where(t.audit_log.c.id == third))).one()
    forged = {name: getattr(row, name) for name in row._fields} | {"kind": "user.created"}
    await sql(
        dk,
        "UPDATE audit_log SET kind = 'user.created', digest = :d WHERE id = :i",
        d=chain_digest(row.prev_digest, forged),
        i=third,
    )
    rewritten = audit_verify(database_url)
    assert rewritten.returncode == 1 and f"broken at row {third}: row {third} was rewritten" in (
        rewritten.stderr
    )
    await sql(dk, "UPDATE audit_log SET kind = :k, digest = :d WHERE id = :i", k=row.kind,
              d=row.digest, i=third)  # fmt: skip

    # A deleted row.
    await sql(dk, "DELETE FROM audit_log WHERE id = :i", i=fourth)
    deleted = audit_verify(database_url)
    assert deleted.returncode == 1
    assert f"broken at row {fourth}: rows {fourth} to {fourth} were deleted" in deleted.stderr


async def test_deleting_the_newest_rows_is_noticed(dk: Doorkeep) -> None:
    publish_sign_ins(dk, "u-1", 4)
    await dk.audit.flush()
    ids = await row_ids(dk)
    await sql(dk, "DELETE FROM audit_log WHERE id = :i", i=ids[-1])
    verdict = await dk.audit.verify()
    assert not verdict.ok and verdict.bad_row == ids[-1]
    assert verdict.reason == f"rows after row {ids[-2]} up to row {ids[-1]} were deleted"


async def test_retention_sweeps_the_oldest_rows_and_the_rest_still_verifies(
    dk: Doorkeep,
) -> None:
    publish_sign_ins(dk, "u-1", 5)
    await dk.audit.flush()
    ids = await row_ids(dk)
    old = now_ms() - 400 * DAY_MS
    async with dk.core.db.transaction() as conn:
        await conn.execute(
            update(t.audit_log).where(t.audit_log.c.id.in_(ids[:3])).values(time=old)
        )
    dk.housekeeping.audit_retention_ms = 365 * DAY_MS
    purged = await dk.housekeeping.sweep()
    assert purged.audit_log == 3
    assert await row_ids(dk) == ids[3:]
    verdict = await dk.audit.verify()
    assert verdict.ok and verdict.rows == 2
    publish_sign_ins(dk, "u-1", 1)  # the chain goes on from where it was
    await dk.audit.flush()
    assert (await dk.audit.verify()).ok
    await sql(dk, "UPDATE audit_log SET outcome = 'failure' WHERE id = :i", i=ids[3])
    assert (await dk.audit.verify()).bad_row == ids[3]  # still tamper-evident


async def test_two_instances_appending_at_once_form_one_chain(settings: Settings) -> None:
    async with Doorkeep(settings) as a, Doorkeep(settings) as b:
        for round_ in range(5):
            publish_sign_ins(a, f"a-{round_}", 40)
            publish_sign_ins(b, f"b-{round_}", 40)
            await asyncio.gather(a.audit.flush(), b.audit.flush())
        verdict = await a.audit.verify()
        assert verdict.ok and verdict.rows == 400
        async with a.core.db.read() as conn:
            links = await conn.execute(select(func.count(func.distinct(t.audit_log.c.prev_digest))))
            assert links.scalar() == 400  # no two rows claim the same predecessor


async def test_an_audit_trail_that_is_off_keeps_nothing(database_url: str) -> None:
    async with Doorkeep(Settings(database_url=database_url, audit_enabled=False)) as dk:
        await dk.emailpassword.sign_up("off@example.com", PASSWORD)
        await dk.audit.flush()
        assert await row_ids(dk) == []


def test_the_queue_keeps_only_events_about_a_user() -> None:
    trail = AuditTrail(db=None)  # type: ignore[arg-type]
    trail.on_event(SignedIn(user_id=None, method="emailpassword"))
    trail.on_event(SignedIn(user_id="u-1", method="emailpassword"))
    assert trail.queue_depth == 1


async def test_an_empty_trail_verifies(dk: Doorkeep) -> None:
    verdict = await dk.audit.verify()
    assert verdict.ok and verdict.rows == 0
