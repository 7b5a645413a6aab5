"""Database.read() and Database.transaction() on a real SQLite file and PostgreSQL."""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from doorkeep import Doorkeep
from doorkeep.storage import Database
from doorkeep.storage import tables as t


@pytest.fixture
def sqlite_path(sqlite_template: Path, tmp_path: Path) -> Path:
    """A migrated SQLite file of this test's own."""
    path = tmp_path / "doorkeep.sqlite3"
    shutil.copy(sqlite_template, path)
    return path


async def test_a_read_sees_what_a_transaction_committed(dk: Doorkeep) -> None:
    await dk.emailpassword.sign_up("reader@example.com", "correct horse battery")
    async with dk.core.public.ctx.db.read() as conn:
        count = (await conn.execute(select(func.count()).select_from(t.users))).scalar_one()
    assert count == 1


async def test_a_sqlite_read_neither_waits_for_nor_takes_the_write_lock(
    sqlite_path: Path,
) -> None:
    db = Database(f"sqlite:///{sqlite_path}")
    other = sqlite3.connect(sqlite_path, isolation_level=None, timeout=0)
    try:
        # Another process's writer holds the write lock for as long as this test wants.
        other.execute("BEGIN IMMEDIATE")
        start = time.perf_counter()
        async with db.read() as conn:
            count = (await conn.execute(select(func.count()).select_from(t.users))).scalar_one()
        waited = time.perf_counter() - start
        assert count == 0
        assert waited < 2, f"the read waited {waited:.1f} s for the writer (busy_timeout is 10 s)"
        other.execute("ROLLBACK")

        # And while a read is open, the other process can still begin writing.
        async with db.read() as conn:
            await conn.execute(select(func.count()).select_from(t.users))
            other.execute("BEGIN IMMEDIATE")  # timeout=0: raises at once if the lock is held
            other.execute("ROLLBACK")
    finally:
        other.close()
        await db.dispose()


async def test_a_sqlite_transaction_still_takes_the_write_lock_when_it_begins(
    sqlite_path: Path,
) -> None:
    db = Database(f"sqlite:///{sqlite_path}")
    other = sqlite3.connect(sqlite_path, isolation_level=None, timeout=0)
    try:
        async with db.transaction() as conn:
            await conn.execute(select(func.count()).select_from(t.users))
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")  # released on commit
        other.execute("ROLLBACK")
    finally:
        other.close()
        await db.dispose()
