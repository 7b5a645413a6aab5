"""Migrations that move data, run on databases that already hold some."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from doorkeep.storage import Database
from doorkeep.testing import create_scratch_database, drop_scratch_database

POSTGRES_URL = os.environ.get("DOORKEEP_TEST_POSTGRES_URL")


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


async def test_0007_copies_each_users_join_time_into_its_tenant_rows(unmigrated: Database) -> None:
    await unmigrated.migrate("0006")
    async with unmigrated.transaction() as conn:
        await conn.execute(
            text(
                "INSERT INTO tenants (app_id, tenant_id, config, created_at) "
                "VALUES ('public', 'acme', '{}', 0)"
            )
        )
        for user_id, joined in (("early", 1000), ("late", 2000)):
            await conn.execute(
                text(
                    "INSERT INTO users (app_id, user_id, primary_user_id, recipe_id, time_joined)"
                    " VALUES ('public', :u, :u, 'emailpassword', :j)"
                ),
                {"u": user_id, "j": joined},
            )
        await conn.execute(
            text(
                "INSERT INTO user_tenants (app_id, tenant_id, user_id) VALUES "
                "('public', 'public', 'early'), ('public', 'acme', 'early'), "
                "('public', 'public', 'late')"
            )
        )

    await unmigrated.migrate()

    async with unmigrated.read() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT tenant_id, user_id, time_joined FROM user_tenants"
                    " ORDER BY tenant_id, user_id"
                )
            )
        ).all()
    assert [tuple(row) for row in rows] == [
        ("acme", "early", 1000),
        ("public", "early", 1000),
        ("public", "late", 2000),
    ]
