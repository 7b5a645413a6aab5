"""Database.read(), .transaction() and .run() on a real SQLite file and PostgreSQL."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from functools import partial

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from doorkeep import Doorkeep
from doorkeep.storage import Database
from doorkeep.storage import tables as t

COUNT_USERS = select(func.count()).select_from(t.users)


async def test_a_read_sees_what_a_transaction_committed(dk: Doorkeep) -> None:
    await dk.emailpassword.sign_up("reader@example.com", "correct horse battery")
    async with dk.core.public.ctx.db.read() as conn:
        assert (await conn.execute(COUNT_USERS)).scalar_one() == 1


async def test_a_sqlite_read_neither_waits_for_nor_takes_the_write_lock(
    sqlite_db: Database, other_process: sqlite3.Connection
) -> None:
    """Ordering, not timing: the other process takes the write lock before the read
    begins and still holds it when the read has finished. A read that needed the lock
    could not finish then: it would fail with "database is locked" after busy_timeout.
    Fails if reads begin IMMEDIATE (mutant: `_on_begin` ignores the read-only option)."""
    other_process.execute("BEGIN IMMEDIATE")
    async with sqlite_db.read() as conn:
        count = (await conn.execute(COUNT_USERS)).scalar_one()
    lock_held_throughout = other_process.in_transaction
    other_process.execute("ROLLBACK")
    assert count == 0 and lock_held_throughout

    # And while a read is open, the other process can still begin writing.
    async with sqlite_db.read() as conn:
        await conn.execute(COUNT_USERS)
        other_process.execute("BEGIN IMMEDIATE")
        other_process.execute("ROLLBACK")


async def test_a_sqlite_transaction_still_takes_the_write_lock_when_it_begins(
    sqlite_db: Database, other_process: sqlite3.Connection
) -> None:
    async with sqlite_db.transaction() as conn:
        await conn.execute(COUNT_USERS)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other_process.execute("BEGIN IMMEDIATE")
    other_process.execute("BEGIN IMMEDIATE")  # released on commit
    other_process.execute("ROLLBACK")


# -- units of work (Database.run) -------------------------------------------------------------

# Rows of a table without foreign keys, so that a test can write them freely.
COUNTERS = t.rate_limit_counters
COUNT_COUNTERS = select(func.count()).select_from(COUNTERS)


def _add_row(key: str, conn: Connection) -> None:
    conn.execute(insert(COUNTERS).values(key=key, window_start=0, count=1))


def _add_row_then_fail(key: str, conn: Connection) -> None:
    _add_row(key, conn)
    raise RuntimeError("the unit fails after its first write")


def _count_rows(conn: Connection) -> int:
    return conn.execute(COUNT_COUNTERS).scalar_one()


async def test_a_write_unit_commits_as_a_whole_or_not_at_all(dk: Doorkeep) -> None:
    db = dk.core.public.ctx.db
    await db.run(partial(_add_row, "kept"), write=True)
    with pytest.raises(RuntimeError, match="first write"):
        await db.run(partial(_add_row_then_fail, "rolled-back"), write=True)
    assert await db.run(_count_rows) == 1
    async with db.read() as conn:  # the other connection sees the same
        keys = (await conn.execute(select(COUNTERS.c.key))).scalars().all()
    assert keys == ["kept"]


async def test_a_constraint_error_in_a_unit_reaches_the_caller(dk: Doorkeep) -> None:
    db = dk.core.public.ctx.db
    await db.run(partial(_add_row, "twice"), write=True)
    with pytest.raises(IntegrityError):
        await db.run(partial(_add_row, "twice"), write=True)
    assert await db.run(_count_rows) == 1


async def test_a_sqlite_read_unit_does_not_wait_for_another_writer(
    sqlite_db: Database, other_process: sqlite3.Connection
) -> None:
    """Ordering, as above: the unit finishes while the other writer holds the lock."""
    other_process.execute("BEGIN IMMEDIATE")
    count = await sqlite_db.run(_count_rows)
    lock_held_throughout = other_process.in_transaction
    other_process.execute("ROLLBACK")
    assert count == 0 and lock_held_throughout


async def test_a_sqlite_write_unit_holds_the_write_lock_until_it_ends(
    sqlite_db: Database, other_process: sqlite3.Connection
) -> None:
    def write_then_probe(conn: Connection) -> str:
        _add_row("probe", conn)
        try:
            other_process.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            return str(exc)
        other_process.execute("ROLLBACK")
        return "not locked"

    assert "locked" in await sqlite_db.run(write_then_probe, write=True)
    other_process.execute("BEGIN IMMEDIATE")  # released on commit
    other_process.execute("ROLLBACK")


async def test_sqlite_writers_of_one_process_queue_for_each_other(sqlite_db: Database) -> None:
    """Units and transactions write on two connections. They must wait for each other
    in the process, not in SQLite: with its busy timeout at zero, a transaction that
    met a unit's write lock in SQLite would fail at once with "database is locked"."""
    async with sqlite_db.read() as conn:  # the transactions' one pooled connection
        await conn.exec_driver_sql("PRAGMA busy_timeout=0")
    unit_started = threading.Event()

    def slow_unit(key: str, conn: Connection) -> None:
        _add_row(key, conn)
        unit_started.set()
        time.sleep(0.2)  # holds SQLite's write lock while the transaction wants it

    async def by_transaction(key: str) -> None:
        await asyncio.to_thread(unit_started.wait, 5)
        async with sqlite_db.transaction() as conn:
            await conn.execute(insert(COUNTERS).values(key=key, window_start=0, count=1))

    await asyncio.gather(
        sqlite_db.run(partial(slow_unit, "by unit"), write=True), by_transaction("by transaction")
    )
    assert await sqlite_db.run(_count_rows) == 2


def test_one_sqlite_database_serves_one_event_loop_after_another(sqlite_db: Database) -> None:
    """A Database made once and used under several loops (asyncio.run per CLI command,
    a test loop per test): its writer lock must not stay bound to the first loop."""

    async def contended_writes(prefix: str) -> None:
        await asyncio.gather(
            *(sqlite_db.run(partial(_add_row, f"{prefix}{i}"), write=True) for i in range(5))
        )

    asyncio.run(contended_writes("first loop "))
    asyncio.run(contended_writes("second loop "))
    assert asyncio.run(sqlite_db.run(_count_rows)) == 10
