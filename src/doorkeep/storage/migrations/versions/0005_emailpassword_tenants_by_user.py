"""emailpassword_user_tenants: an index by user

Changing a user's email updates emailpassword_user_tenants by (app_id, user_id), and
deleting a user cascades to it by the same columns. Its keys lead with
(app_id, tenant_id), so SQLite searched by app_id alone: 16 ms per email change and
20 ms per user deletion at 100,000 users.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("emailpassword_user_tenants", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_emailpassword_user_tenants_app_id_user_id_tenant_id"),
            ["app_id", "user_id", "tenant_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("emailpassword_user_tenants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_emailpassword_user_tenants_app_id_user_id_tenant_id"))
