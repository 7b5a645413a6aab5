"""passwordless: users signing in with a one-time code or a magic link (issue 17)

A passwordless login method is a row in `users` (recipe "passwordless") with its
email and/or E.164 phone number in passwordless_users; passwordless_user_tenants
holds the per-tenant uniqueness of both as constraints. Devices and codes are the
sign-in attempts in progress: only digests of their secrets are stored.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

ID = sa.String(length=128)
EMAIL = sa.String(length=256)
PHONE = sa.String(length=32)
HASH = sa.String(length=64)


def upgrade() -> None:
    op.create_table(
        "passwordless_users",
        sa.Column("app_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("email", EMAIL, nullable=True),
        sa.Column("phone_number", PHONE, nullable=True),
        sa.Column("time_joined", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "email IS NOT NULL OR phone_number IS NOT NULL",
            name="ck_passwordless_users_email_or_phone",
        ),
        sa.ForeignKeyConstraint(
            ["app_id", "user_id"],
            ["users.app_id", "users.user_id"],
            name=op.f("fk_passwordless_users_app_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("app_id", "user_id", name=op.f("pk_passwordless_users")),
    )
    op.create_table(
        "passwordless_user_tenants",
        sa.Column("app_id", ID, nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("email", EMAIL, nullable=True),
        sa.Column("phone_number", PHONE, nullable=True),
        sa.ForeignKeyConstraint(
            ["app_id", "user_id"],
            ["passwordless_users.app_id", "passwordless_users.user_id"],
            name=op.f("fk_passwordless_user_tenants_app_id_passwordless_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "app_id", "tenant_id", "user_id", name=op.f("pk_passwordless_user_tenants")
        ),
        sa.UniqueConstraint(
            "app_id",
            "tenant_id",
            "email",
            name=op.f("uq_passwordless_user_tenants_app_id_tenant_id_email"),
        ),
        sa.UniqueConstraint(
            "app_id",
            "tenant_id",
            "phone_number",
            name=op.f("uq_passwordless_user_tenants_app_id_tenant_id_phone_number"),
        ),
    )
    op.create_index(
        op.f("ix_passwordless_user_tenants_app_id_user_id_tenant_id"),
        "passwordless_user_tenants",
        ["app_id", "user_id", "tenant_id"],
        unique=False,
    )
    op.create_table(
        "passwordless_devices",
        sa.Column("app_id", ID, nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("device_id_hash", HASH, nullable=False),
        sa.Column("email", EMAIL, nullable=True),
        sa.Column("phone_number", PHONE, nullable=True),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "app_id", "tenant_id", "device_id_hash", name=op.f("pk_passwordless_devices")
        ),
    )
    for columns in (["app_id", "tenant_id", "email"], ["app_id", "tenant_id", "phone_number"]):
        op.create_index(
            op.f(f"ix_passwordless_devices_{'_'.join(columns)}"),
            "passwordless_devices",
            columns,
            unique=False,
        )
    op.create_index(
        op.f("ix_passwordless_devices_expires_at"),
        "passwordless_devices",
        ["expires_at"],
        unique=False,
    )
    op.create_table(
        "passwordless_codes",
        sa.Column("app_id", ID, nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("code_id", ID, nullable=False),
        sa.Column("device_id_hash", HASH, nullable=False),
        sa.Column("user_input_code_hash", HASH, nullable=False),
        sa.Column("link_code_hash", HASH, nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id", "tenant_id", "device_id_hash"],
            [
                "passwordless_devices.app_id",
                "passwordless_devices.tenant_id",
                "passwordless_devices.device_id_hash",
            ],
            name=op.f("fk_passwordless_codes_app_id_passwordless_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "app_id", "tenant_id", "code_id", name=op.f("pk_passwordless_codes")
        ),
        sa.UniqueConstraint(
            "app_id",
            "tenant_id",
            "link_code_hash",
            name=op.f("uq_passwordless_codes_app_id_tenant_id_link_code_hash"),
        ),
        sa.UniqueConstraint(
            "app_id",
            "tenant_id",
            "device_id_hash",
            "user_input_code_hash",
            name=op.f("uq_passwordless_codes_device_code"),
        ),
    )
    op.create_index(
        op.f("ix_passwordless_codes_expires_at"),
        "passwordless_codes",
        ["expires_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("passwordless_codes")
    op.drop_table("passwordless_devices")
    op.drop_table("passwordless_user_tenants")
    op.drop_table("passwordless_users")
