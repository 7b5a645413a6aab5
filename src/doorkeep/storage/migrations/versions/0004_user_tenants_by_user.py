"""user_tenants: a covering index by user

Loading a user joins user_tenants on (app_id, user_id). The primary key leads with
(app_id, tenant_id), and without statistics SQLite preferred that covering index,
searched by app_id alone: every user load read the whole app's rows (23 ms at
200,000 users). An index on (app_id, user_id, tenant_id) is both selective and
covering.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("user_tenants", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_user_tenants_app_id_user_id_tenant_id"),
            ["app_id", "user_id", "tenant_id"],
            unique=False,
        )
        batch_op.drop_index(batch_op.f("ix_user_tenants_app_id_user_id"))


def downgrade() -> None:
    with op.batch_alter_table("user_tenants", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_user_tenants_app_id_user_id"), ["app_id", "user_id"], unique=False
        )
        batch_op.drop_index(batch_op.f("ix_user_tenants_app_id_user_id_tenant_id"))
