"""Database.read() and Database.transaction() on a real SQLite file and PostgreSQL."""

from __future__ import annotations

import shutil
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from doorkeep import Doorkeep
from doorkeep.storage import Database
from doorkeep.storage import tables as t

COUNT_USERS = select(func.count()).select_from(t.users)


@pytest.fixture
async def sqlite_db(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[Database]:
    """doorkeep's Database on a migrated SQLite file of this test's own."""
    path = tmp_path / "doorkeep.sqlite3"
    shutil.copy(sqlite_template, path)
    db = Database(f"sqlite:///{path}")
    yield db
    await db.dispose()


@pytest.fixture
def other_process(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """A second connection to the same file, as another process would hold one.
    `timeout=0`: it raises at once instead of waiting for a lock."""
    connection = sqlite3.connect(tmp_path / "doorkeep.sqlite3", isolation_level=None, timeout=0)
    yield connection
    connection.close()


async def test_a_read_sees_what_a_transaction_committed(dk: Doorkeep) -> None:
    await dk.emailpassword.sign_up("reader@example.com", "correct horse battery")
    async with dk.core.public.ctx.db.read() as conn:
        assert (await conn.execute(COUNT_USERS)).scalar_one() == 1


async def test_a_sqlite_read_neither_waits_for_nor_takes_the_write_lock(
    sqlite_db: Database, other_process: sqlite3.Connection
) -> None:
    # The other process's writer holds the write lock for as long as this test wants.
    other_process.execute("BEGIN IMMEDIATE")
    start = time.perf_counter()
    async with sqlite_db.read() as conn:
        count = (await conn.execute(COUNT_USERS)).scalar_one()
    waited = time.perf_counter() - start
    assert count == 0
    assert waited < 2, f"the read waited {waited:.1f} s for the writer (busy_timeout is 10 s)"
    other_process.execute("ROLLBACK")

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
