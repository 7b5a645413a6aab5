"""Migration 0010 (operations: revoked sessions, audit trail, webhooks) on SQLite and
PostgreSQL: it brings a 0009 database to exactly the tables of storage/tables.py, its
IDs only grow (SQLite never reuses one), an endpoint's deletion takes its subscriptions
and deliveries, one event is delivered once per endpoint, and it goes down again."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from doorkeep.storage import Database
from tests.storage.conftest import schema_differences

TABLES = {
    "revoked_sessions",
    "audit_log",
    "audit_anchor",
    "webhook_endpoints",
    "webhook_subscriptions",
    "webhook_deliveries",
}


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


async def _sql(db: Database, statement: str, **params: Any) -> None:
    async with db.transaction() as conn:
        await conn.execute(text(statement), params)


async def _rows(db: Database, statement: str, **params: Any) -> Any:
    async with db.transaction() as conn:
        return (await conn.execute(text(statement), params)).all()


async def test_0010_makes_the_tables_of_the_code_and_goes_down(unmigrated: Database) -> None:
    await unmigrated.migrate("0009")
    await unmigrated.migrate()
    async with unmigrated.engine.connect() as conn:
        assert await conn.run_sync(schema_differences, TABLES) == []

    insert_revoked = (
        "INSERT INTO revoked_sessions (app_id, session_handle, revoked_at, expires_at)"
        " VALUES ('public', :h, 0, 1) RETURNING id"
    )
    first = (await _rows(unmigrated, insert_revoked, h="a"))[0].id
    second = (await _rows(unmigrated, insert_revoked, h="b"))[0].id
    await _sql(unmigrated, "DELETE FROM revoked_sessions WHERE id = :i", i=second)
    third = (await _rows(unmigrated, insert_revoked, h="c"))[0].id
    assert first < second < third  # a deleted newest ID is never handed out again

    await _sql(
        unmigrated,
        "INSERT INTO webhook_endpoints (id, app_id, url, secret, enabled, created_at)"
        " VALUES ('e1', 'public', 'http://127.0.0.1:1/', 'whsec_x', true, 0)",
    )
    await _sql(
        unmigrated,
        "INSERT INTO webhook_subscriptions (endpoint_id, event_type) VALUES ('e1', '*')",
    )
    delivery = (
        "INSERT INTO webhook_deliveries (endpoint_id, event_id, event_type, payload,"
        " created_at, attempts, next_attempt_at) VALUES ('e1', 'ev1', 'user.created', '{}',"
        " 0, 0, 0)"
    )
    await _sql(unmigrated, delivery)
    with pytest.raises(IntegrityError):  # one delivery of an event per endpoint
        await _sql(unmigrated, delivery)
    await _sql(unmigrated, "DELETE FROM webhook_endpoints WHERE id = 'e1'")
    for table in ("webhook_subscriptions", "webhook_deliveries"):
        assert (await _rows(unmigrated, f"SELECT count(*) AS n FROM {table}"))[0].n == 0

    async with unmigrated.engine.begin() as conn:
        await conn.run_sync(_downgrade_to_0009)
    async with unmigrated.engine.connect() as conn:
        assert not (await conn.run_sync(_tables)) & TABLES


def _downgrade_to_0009(connection: Connection) -> None:
    from alembic import command
    from alembic.config import Config

    from doorkeep.storage.database import MIGRATIONS_DIR

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    command.downgrade(config, "0009")
