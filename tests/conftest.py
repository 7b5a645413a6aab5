"""Shared fixtures: a doorkeep instance on SQLite and, when configured, on PostgreSQL.

Every storage test runs on both databases. PostgreSQL runs need
DOORKEEP_TEST_POSTGRES_URL (CI sets it); without it they are skipped with that reason.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import text

from doorkeep import Doorkeep, Settings
from doorkeep.storage import Database
from doorkeep.storage import tables as t
from doorkeep.testing import create_scratch_database, drop_scratch_database

T = TypeVar("T")
POSTGRES_URL = os.environ.get("DOORKEEP_TEST_POSTGRES_URL")
SKIP_PG = (
    "PostgreSQL tests need DOORKEEP_TEST_POSTGRES_URL, "
    "e.g. postgresql://postgres@127.0.0.1:5432/test (CI sets it)"
)


def run_outside_loop(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion on a private loop (session fixtures may be set up
    from inside a test's running loop, where asyncio.run is not allowed)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once is faster)."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    db = Database(f"sqlite:///{path}")

    async def migrate() -> None:
        await db.migrate()
        await db.dispose()

    run_outside_loop(migrate())
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A private, migrated PostgreSQL database for this test run, dropped at the end."""
    if not POSTGRES_URL:
        if os.environ.get("DOORKEEP_REQUIRE_SERVICES"):
            pytest.fail("DOORKEEP_REQUIRE_SERVICES is set but DOORKEEP_TEST_POSTGRES_URL is not")
        pytest.skip(SKIP_PG)
    url = run_outside_loop(create_scratch_database(POSTGRES_URL))
    try:
        yield url
    finally:
        run_outside_loop(drop_scratch_database(POSTGRES_URL, url))


async def reset_postgres(url: str) -> None:
    """Empty every table and put back the public app and tenant."""
    db = Database(url)
    names = ", ".join(table.name for table in t.metadata.sorted_tables)
    async with db.transaction() as conn:
        await conn.execute(text(f"TRUNCATE {names} CASCADE"))
        await conn.execute(
            text("INSERT INTO apps (app_id, core_config, created_at) VALUES ('public', '{}', 0)")
        )
        await conn.execute(
            text(
                "INSERT INTO tenants (app_id, tenant_id, config, created_at) "
                "VALUES ('public', 'public', '{}', 0)"
            )
        )
    await db.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "doorkeep.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_database")
        await reset_postgres(url)
        yield url


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url)


@pytest.fixture
async def dk(settings: Settings) -> AsyncIterator[Doorkeep]:
    instance = Doorkeep(settings)
    await instance.start()
    try:
        yield instance
    finally:
        await instance.close()
