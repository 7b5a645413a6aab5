"""The hot paths' statements find their rows by key on SQLite, at any size.

SQLite plans without statistics, so a plan is the same on an empty file as on a
million users: checking it here catches a lookup that would read a whole table.
(Loading a user once searched user_tenants by app_id alone: 23 ms per sign-in at
200,000 users; an email change searched emailpassword_user_tenants so: 16 ms; a
tenant's page of users walked the whole app: 78 ms at 100,000 users.)
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection

from doorkeep.core import emailpassword, housekeeping, session_store, users
from doorkeep.ratelimit import DatabaseCounters
from doorkeep.storage import Database
from doorkeep.storage import tables as t

HOT_STATEMENTS: dict[str, tuple[Any, dict[str, Any]]] = {
    "load users by id": (users._USERS_BY_ID, {"app_id": "public", "ids": ["u1", "u2"]}),
    "sign-in by email": (
        emailpassword._ACCOUNT_BY_EMAIL,
        {"app_id": "public", "tenant_id": "public", "identifier": "a@example.com"},
    ),
    "sign-in by username": (
        emailpassword._ACCOUNT_BY_USERNAME,
        {"app_id": "public", "tenant_id": "public", "identifier": "ada"},
    ),
    "refresh: the token's session": (
        session_store._REFRESH_ROW,
        {"app_id": "public", "hash2": "h"},
    ),
    "refresh: swap the token": (
        session_store._SWAP_TOKEN,
        {
            "app": "public",
            "handle": "s",
            "old_hash2": "a",
            "new_hash2": "b",
            "new_expiry": 1,
            "static": False,
        },
    ),
    "refresh: supersede the old token": (
        session_store._SUPERSEDE_TOKEN,
        {"old_hash2": "a", "new_hash2": "b", "now": 1},
    ),
    "refresh: was the child used": (session_store._CHILD_USED_AT, {"hash2": "h"}),
    "first use of a refreshed session": (session_store._MARK_USED, {"hash2": "h", "now": 1}),
    "revoke a session": (session_store._DELETE_SESSION, {"app": "public", "handle": "s"}),
    **{
        f"sweep expired {table}": (statement, {"now": 1, "counters_before": 1, "batch": 1000})
        for table, statement in housekeeping.PURGES.items()
    },
    # How an email change updates, and a user deletion cascades to, the account's tenants.
    "an account's tenants by user": (
        select(t.emailpassword_user_tenants).where(
            t.emailpassword_user_tenants.c.app_id == bindparam("app_id"),
            t.emailpassword_user_tenants.c.user_id == bindparam("user_id"),
        ),
        {"app_id": "public", "user_id": "u1"},
    ),
    # How loading a user joins, and a user deletion cascades to, the user's tenants.
    "a user's tenants by user": (
        select(t.user_tenants.c.tenant_id).where(
            t.user_tenants.c.app_id == bindparam("app_id"),
            t.user_tenants.c.user_id == bindparam("user_id"),
        ),
        {"app_id": "public", "user_id": "u1"},
    ),
}


def query_plan(conn: Connection, statement: Any, params: dict[str, Any] | None) -> list[str]:
    """SQLite's plan for `statement`, with `params` (None: the values built into it)."""
    expanded = statement.compile(dialect=conn.dialect).construct_expanded_state(params)
    rows = conn.exec_driver_sql(
        f"EXPLAIN QUERY PLAN {expanded.statement}", tuple(expanded.positional_parameters)
    ).all()
    return [row[-1] for row in rows]


def reads_too_much(step: str) -> bool:
    """A full scan, or a search narrowed by the app alone (every row of the app)."""
    return step.startswith("SCAN ") or re.search(r"\(app_id=\?\)", step) is not None


@pytest.mark.parametrize("name", HOT_STATEMENTS)
async def test_a_hot_statement_searches_by_key_on_sqlite(sqlite_db: Database, name: str) -> None:
    statement, params = HOT_STATEMENTS[name]
    plan = await sqlite_db.run(lambda conn: query_plan(conn, statement, params))
    assert plan, "no plan"
    assert not [step for step in plan if reads_too_much(step)], plan


async def test_counting_an_attempt_searches_by_key_on_sqlite(sqlite_db: Database) -> None:
    upsert = DatabaseCounters(sqlite_db)._upsert
    params = {"counter": "k", "now": 1, "started_before": 0}
    plan = await sqlite_db.run(lambda conn: query_plan(conn, upsert, params))
    assert not [step for step in plan if reads_too_much(step)], plan


@pytest.mark.parametrize("newest_first", [False, True])
@pytest.mark.parametrize("cursor", [None, (1, "u1")])
async def test_a_tenants_page_of_users_reads_the_tenants_rows_in_order(
    sqlite_db: Database, newest_first: bool, cursor: tuple[int, str] | None
) -> None:
    statement = users.page_query("public", "acme", [], cursor, newest_first=newest_first)
    plan = await sqlite_db.run(lambda conn: query_plan(conn, statement.limit(101), None))
    assert not [step for step in plan if reads_too_much(step)], plan
    assert not [step for step in plan if "TEMP B-TREE" in step], plan  # no sort of the tenant
    assert any("ix_user_tenants_app_id_tenant_id_time_joined_user_id" in step for step in plan)
