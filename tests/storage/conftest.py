"""Storage fixtures: a migrated SQLite file of the test's own and a second connection to
it; an empty database on each engine for migration tests; what a migrated schema lacks
compared with `tables.py`."""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from doorkeep.storage import Database
from doorkeep.storage import tables as t
from doorkeep.testing import create_scratch_database, drop_scratch_database

POSTGRES_URL = os.environ.get("DOORKEEP_TEST_POSTGRES_URL")


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


@pytest.fixture(params=["sqlite", "postgresql"])
async def unmigrated(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """An empty database of its own, with no schema yet."""
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'unmigrated.sqlite3'}")
        yield db
        await db.dispose()
        return
    request.getfixturevalue("postgres_database")  # skips (or fails) without PostgreSQL
    assert POSTGRES_URL is not None
    url = await create_scratch_database(POSTGRES_URL, migrate=False)
    db = Database(url)
    try:
        yield db
    finally:
        await db.dispose()
        await drop_scratch_database(POSTGRES_URL, url)


def schema_differences(conn: Connection, tables: Iterable[str]) -> list[Any]:
    """Where the migrated schema of `tables` differs from `tables.py` (alembic's compare)."""
    names = tuple(tables)
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return [
        diff
        for diff in compare_metadata(context, t.metadata)
        if any(name in str(diff) for name in names)
    ]
