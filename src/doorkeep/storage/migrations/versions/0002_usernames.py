"""usernames: optional email, unique username per tenant

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("emailpassword_users") as batch:
        batch.add_column(sa.Column("username", sa.String(length=64), nullable=True))
        batch.alter_column("email", existing_type=sa.String(length=256), nullable=True)
    with op.batch_alter_table("emailpassword_user_tenants") as batch:
        batch.add_column(sa.Column("username", sa.String(length=64), nullable=True))
        batch.alter_column("email", existing_type=sa.String(length=256), nullable=True)
        batch.create_unique_constraint(
            "uq_emailpassword_user_tenants_app_id_tenant_id_username",
            ["app_id", "tenant_id", "username"],
        )


def downgrade() -> None:
    with op.batch_alter_table("emailpassword_user_tenants") as batch:
        batch.drop_constraint(
            "uq_emailpassword_user_tenants_app_id_tenant_id_username", type_="unique"
        )
        batch.drop_column("username")
        batch.alter_column("email", existing_type=sa.String(length=256), nullable=False)
    with op.batch_alter_table("emailpassword_users") as batch:
        batch.drop_column("username")
        batch.alter_column("email", existing_type=sa.String(length=256), nullable=False)
