"""Migrations that move data, run on databases that already hold some."""

from __future__ import annotations

from sqlalchemy import text

from doorkeep.storage import Database


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
