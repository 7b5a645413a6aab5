"""Migration 0008 (passwordless) on SQLite and PostgreSQL: it brings an existing
database to exactly the tables of storage/tables.py, its constraints hold, and it
goes down again."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from doorkeep.storage import Database
from tests.storage.conftest import schema_differences

PASSWORDLESS = {
    "passwordless_users",
    "passwordless_user_tenants",
    "passwordless_devices",
    "passwordless_codes",
}


async def _insert_user(db: Database, user_id: str, email: str | None, phone: str | None) -> None:
    async with db.transaction() as conn:
        params = {"u": user_id, "e": email, "p": phone}
        await conn.execute(
            text(
                "INSERT INTO users (app_id, user_id, primary_user_id, recipe_id, time_joined)"
                " VALUES ('public', :u, :u, 'passwordless', 1)"
            ),
            params,
        )
        await conn.execute(
            text(
                "INSERT INTO passwordless_users (app_id, user_id, email, phone_number,"
                " time_joined) VALUES ('public', :u, :e, :p, 1)"
            ),
            params,
        )
        await conn.execute(
            text(
                "INSERT INTO passwordless_user_tenants (app_id, tenant_id, user_id, email,"
                " phone_number) VALUES ('public', 'public', :u, :e, :p)"
            ),
            params,
        )


async def test_0008_makes_the_tables_of_the_code_and_goes_down(unmigrated: Database) -> None:
    await unmigrated.migrate("0007")
    async with unmigrated.transaction() as conn:  # a user from before passwordless existed
        await conn.execute(
            text(
                "INSERT INTO users (app_id, user_id, primary_user_id, recipe_id, time_joined)"
                " VALUES ('public', 'old', 'old', 'emailpassword', 1)"
            )
        )
    await unmigrated.migrate()
    async with unmigrated.engine.connect() as conn:
        assert await conn.run_sync(schema_differences, PASSWORDLESS) == []

    await _insert_user(unmigrated, "a", "ada@example.com", None)
    await _insert_user(unmigrated, "b", None, "+14155552671")
    # Uniqueness per tenant, of the email and of the phone number, is the database's.
    for email, phone in (("ada@example.com", None), (None, "+14155552671")):
        with pytest.raises(IntegrityError):
            await _insert_user(unmigrated, "c", email, phone)
    with pytest.raises(IntegrityError):  # a passwordless user has an email or a phone
        await _insert_user(unmigrated, "d", None, None)

    async with unmigrated.engine.begin() as conn:
        await conn.run_sync(_downgrade_to_0007)
    async with unmigrated.read() as conn:
        users = (await conn.execute(text("SELECT user_id FROM users ORDER BY user_id"))).all()
    assert [row.user_id for row in users] == ["a", "b", "old"]


def _downgrade_to_0007(connection: Connection) -> None:
    from alembic import command
    from alembic.config import Config

    from doorkeep.storage.database import MIGRATIONS_DIR

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    command.downgrade(config, "0007")
    names = set(connection.dialect.get_table_names(connection))
    assert not names & PASSWORDLESS
