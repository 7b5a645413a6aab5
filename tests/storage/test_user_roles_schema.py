"""Migration 0009 (user roles) on SQLite and PostgreSQL: it brings an existing
database to exactly the tables of storage/tables.py; deleting a role, a tenant or a
user removes the assignments by the database's cascades (no code path); it goes
down again."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from doorkeep.storage import Database
from tests.storage.conftest import schema_differences

ROLE_TABLES = {"roles", "role_permissions", "user_roles"}


async def _sql(db: Database, statement: str, **params: Any) -> None:
    async with db.transaction() as conn:
        await conn.execute(text(statement), params)


async def _assignments(db: Database) -> list[tuple[str, str, str]]:
    async with db.read() as conn:
        rows = await conn.execute(
            text("SELECT tenant_id, user_id, role FROM user_roles ORDER BY 1, 2, 3")
        )
        return [(r.tenant_id, r.user_id, r.role) for r in rows]


async def _assign(db: Database, tenant: str, user: str, role: str, known: bool) -> None:
    await _sql(
        db,
        "INSERT INTO user_roles (app_id, tenant_id, user_id, role, known_user_id)"
        " VALUES ('public', :t, :u, :r, :k)",
        t=tenant,
        u=user,
        r=role,
        k=user if known else None,
    )


async def test_0009_makes_the_tables_of_the_code_and_cascades(unmigrated: Database) -> None:
    await unmigrated.migrate("0008")
    await unmigrated.migrate()
    async with unmigrated.engine.connect() as conn:
        assert await conn.run_sync(schema_differences, ROLE_TABLES) == []

    await _sql(
        unmigrated,
        "INSERT INTO tenants (app_id, tenant_id, config, created_at)"
        " VALUES ('public', 'acme', '{}', 0)",
    )
    await _sql(
        unmigrated,
        "INSERT INTO users (app_id, user_id, primary_user_id, recipe_id, time_joined)"
        " VALUES ('public', 'ada', 'ada', 'emailpassword', 1)",
    )
    for role in ("admin", "editor"):
        await _sql(unmigrated, "INSERT INTO roles (app_id, role) VALUES ('public', :r)", r=role)
    await _sql(
        unmigrated,
        "INSERT INTO role_permissions (app_id, role, permission) VALUES"
        " ('public', 'admin', 'write'), ('public', 'editor', 'write')",
    )
    await _assign(unmigrated, "public", "ada", "admin", known=True)
    await _assign(unmigrated, "public", "ada", "editor", known=True)
    await _assign(unmigrated, "acme", "ada", "editor", known=True)
    await _assign(unmigrated, "public", "ghost", "editor", known=False)  # no such user

    with pytest.raises(IntegrityError):  # a role that does not exist
        await _assign(unmigrated, "public", "ada", "nobody", known=True)
    with pytest.raises(IntegrityError):  # a tenant that does not exist
        await _assign(unmigrated, "gone", "ada", "admin", known=True)
    with pytest.raises(IntegrityError):  # "known" must name a user who exists ...
        await _assign(unmigrated, "acme", "ghost", "admin", known=True)
    with pytest.raises(IntegrityError):  # ... and the assignment's own user
        await _sql(
            unmigrated,
            "INSERT INTO user_roles (app_id, tenant_id, user_id, role, known_user_id)"
            " VALUES ('public', 'acme', 'other', 'admin', 'ada')",
        )

    # Deleting a role takes its permissions and its assignments with it.
    await _sql(unmigrated, "DELETE FROM roles WHERE role = 'admin'")
    assert await _assignments(unmigrated) == [
        ("acme", "ada", "editor"),
        ("public", "ada", "editor"),
        ("public", "ghost", "editor"),
    ]
    async with unmigrated.read() as conn:
        perms = await conn.execute(text("SELECT role FROM role_permissions"))
        assert [r.role for r in perms] == ["editor"]
    # Deleting a tenant takes the assignments made in it.
    await _sql(unmigrated, "DELETE FROM tenants WHERE tenant_id = 'acme'")
    assert await _assignments(unmigrated) == [
        ("public", "ada", "editor"),
        ("public", "ghost", "editor"),
    ]
    # Deleting a user takes theirs; an unknown ID's assignment stays.
    await _sql(unmigrated, "DELETE FROM users WHERE user_id = 'ada'")
    assert await _assignments(unmigrated) == [("public", "ghost", "editor")]

    async with unmigrated.engine.begin() as conn:
        await conn.run_sync(_downgrade_to_0008)


def _downgrade_to_0008(connection: Connection) -> None:
    from alembic import command
    from alembic.config import Config

    from doorkeep.storage.database import MIGRATIONS_DIR

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    command.downgrade(config, "0008")
    names = set(connection.dialect.get_table_names(connection))
    assert not names & ROLE_TABLES


async def test_every_role_statement_searches_by_key_on_sqlite(sqlite_db: Database) -> None:
    """The statements RoleService really runs (caught as they go to SQLite), each planned
    again: none scans a table or reads a whole app. SQLite plans without statistics, so
    the plan on this small file is the plan at any size."""
    from doorkeep import Doorkeep, Settings
    from tests.storage.test_query_plans import reads_too_much

    url = str(sqlite_db.engine.url).replace("sqlite+aiosqlite", "sqlite")
    async with Doorkeep(Settings(database_url=url)) as dk:
        seen: list[tuple[str, Any]] = []
        unit_engine = dk.core.db._unit_engine
        assert unit_engine is not None
        event.listen(unit_engine, "before_cursor_execute", lambda *a: seen.append((a[2], a[3])))
        roles = dk.core.public.roles
        await roles.create_role_or_add_permissions("admin", ["write"])
        await roles.add_role_to_user("public", "u1", "admin")
        await roles.claims_for("public", "u1")
        await roles.users_with_role("public", "admin")
        await roles.roles_with_permission("write")
        await roles.permissions_of("admin")
        await roles.remove_user_role("public", "u1", "admin")
        await roles.remove_permissions("admin", ["write"])
        await roles.delete_role("admin")
        # Others' statements on the engine (events, webhooks) are theirs to check.
        mine = re.compile(r"\b(roles|role_permissions|user_roles|userid_mappings|users|tenants)\b")
        statements = [
            (sql, params)
            for sql, params in seen
            if not sql.startswith("INSERT") and mine.search(sql.split("WHERE")[0])
        ]
        assert len(statements) >= 10

        def plans(conn: Connection) -> list[list[str]]:
            return [
                [row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)]
                for sql, params in statements
            ]

        for (sql, _), plan in zip(statements, await dk.core.db.run(plans), strict=True):
            assert not [step for step in plan if reads_too_much(step)], (sql, plan)
