"""user roles: roles, their permissions, and the roles of a user per tenant (issue 19)

Deleting a role removes its permissions and assignments, deleting a tenant its
assignments, and deleting a user its assignments: all by foreign-key cascades.
A role may be given to an ID no user holds (SuperTokens allows it); such a row has
known_user_id NULL, which exempts it from the key to users.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

ID = sa.String(length=128)
ROLE = sa.String(length=255)


def upgrade() -> None:
    op.create_table(
        "roles",
        sa.Column("app_id", ID, nullable=False),
        sa.Column("role", ROLE, nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.app_id"], name=op.f("fk_roles_app_id_apps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("app_id", "role", name=op.f("pk_roles")),
    )
    op.create_table(
        "role_permissions",
        sa.Column("app_id", ID, nullable=False),
        sa.Column("role", ROLE, nullable=False),
        sa.Column("permission", ROLE, nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id", "role"],
            ["roles.app_id", "roles.role"],
            name=op.f("fk_role_permissions_app_id_roles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("app_id", "role", "permission", name=op.f("pk_role_permissions")),
    )
    op.create_index(
        op.f("ix_role_permissions_app_id_permission_role"),
        "role_permissions",
        ["app_id", "permission", "role"],
        unique=False,
    )
    op.create_table(
        "user_roles",
        sa.Column("app_id", ID, nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("role", ROLE, nullable=False),
        sa.Column("known_user_id", ID, nullable=True),
        sa.CheckConstraint(
            "known_user_id IS NULL OR known_user_id = user_id",
            name=op.f("ck_user_roles_known_user_id"),
        ),
        sa.ForeignKeyConstraint(
            ["app_id", "role"],
            ["roles.app_id", "roles.role"],
            name=op.f("fk_user_roles_app_id_roles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["app_id", "tenant_id"],
            ["tenants.app_id", "tenants.tenant_id"],
            name=op.f("fk_user_roles_app_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["app_id", "known_user_id"],
            ["users.app_id", "users.user_id"],
            name=op.f("fk_user_roles_known_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "app_id", "tenant_id", "user_id", "role", name=op.f("pk_user_roles")
        ),
    )
    op.create_index(
        op.f("ix_user_roles_app_id_role_tenant_id_user_id"),
        "user_roles",
        ["app_id", "role", "tenant_id", "user_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_user_roles_app_id_known_user_id"),
        "user_roles",
        ["app_id", "known_user_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("user_roles")
    op.drop_table("role_permissions")
    op.drop_table("roles")
