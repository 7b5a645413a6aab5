"""A migrated SQLite file of the test's own, and a second connection to it."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from doorkeep.storage import Database


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
    connection = sqlite3.connect(
        tmp_path / "doorkeep.sqlite3", isolation_level=None, timeout=0, check_same_thread=False
    )
    yield connection
    connection.close()
