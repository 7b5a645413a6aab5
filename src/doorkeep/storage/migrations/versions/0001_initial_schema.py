"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23 03:28:48.565216
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "apps",
        sa.Column("app_id", sa.String(length=128), nullable=False),
        sa.Column("core_config", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("app_id", name=op.f("pk_apps")),
    )
    op.create_table(
        "email_verification_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("app_id", sa.String(length=128), nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("email", sa.String(length=256), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_email_verification_tokens")),
    )
    with op.batch_alter_table("email_verification_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_email_verification_tokens_app_id_user_id_email"),
            ["app_id", "user_id", "email"],
            unique=False,
        )

    op.create_table(
        "sessions",
        sa.Column("app_id", sa.String(length=128), nullable=False),
        sa.Column("session_handle", sa.String(length=128), nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("recipe_user_id", sa.String(length=128), nullable=False),
        sa.Column("session_data", sa.JSON(), nullable=False),
        sa.Column("jwt_payload", sa.JSON(), nullable=False),
        sa.Column("refresh_token_hash2", sa.String(length=64), nullable=False),
        sa.Column("use_static_key", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("app_id", "session_handle", name=op.f("pk_sessions")),
    )
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sessions_app_id_user_id"), ["app_id", "user_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_sessions_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "signing_keys",
        sa.Column("app_id", sa.String(length=128), nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("algorithm", sa.String(length=16), nullable=False),
        sa.Column("private_key_pem", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("app_id", "kid", name=op.f("pk_signing_keys")),
    )
    op.create_table(
        "user_metadata",
        sa.Column("app_id", sa.String(length=128), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("app_id", "user_id", name=op.f("pk_user_metadata")),
    )
    op.create_table(
        "verified_emails",
        sa.Column("app_id", sa.String(length=128), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("email", sa.String(length=256), nullable=False),
        sa.PrimaryKeyConstraint("app_id", "user_id", "email", name=op.f("pk_verified_emails")),
    )
    op.create_table(
        "refresh_tokens",
        sa.Column("token_hash2", sa.String(length=64), nullable=False),
        sa.Column("app_id", sa.String(length=128), nullable=False),
        sa.Column("session_handle", sa.String(length=128), nullable=False),
        sa.Column("child_hash2", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("superseded_at", sa.BigInteger(), nullable=True),
        sa.Column("used_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["app_id", "session_handle"],
            ["sessions.app_id", "sessions.session_handle"],
            name=op.f("fk_refresh_tokens_app_id_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash2", name=op.f("pk_refresh_tokens")),
    )
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_refresh_tokens_app_id_session_handle"),
            ["app_id", "session_handle"],
            unique=False,
        )

    op.create_table(
        "tenants",
        sa.Column("app_id", sa.String(length=128), nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.app_id"], name=op.f("fk_tenants_app_id_apps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("app_id", "tenant_id", name=op.f("pk_tenants")),
    )
    op.create_table(
        "users",
        sa.Column("app_id", sa.String(length=128), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("primary_user_id", sa.String(length=128), nullable=False),
        sa.Column("recipe_id", sa.String(length=32), nullable=False),
        sa.Column("time_joined", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.app_id"], name=op.f("fk_users_app_id_apps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("app_id", "user_id", name=op.f("pk_users")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_users_app_id_primary_user_id"),
            ["app_id", "primary_user_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_users_app_id_time_joined_user_id"),
            ["app_id", "time_joined", "user_id"],
            unique=False,
        )

    op.create_table(
        "emailpassword_users",
        sa.Column("app_id", sa.String(length=128), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("email", sa.String(length=256), nullable=False),
        sa.Column("password_hash", sa.String(length=512), nullable=False),
        sa.Column("time_joined", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id", "user_id"],
            ["users.app_id", "users.user_id"],
            name=op.f("fk_emailpassword_users_app_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("app_id", "user_id", name=op.f("pk_emailpassword_users")),
    )
    op.create_table(
        "password_reset_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("app_id", sa.String(length=128), nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("email", sa.String(length=256), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id", "user_id"],
            ["users.app_id", "users.user_id"],
            name=op.f("fk_password_reset_tokens_app_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_password_reset_tokens")),
    )
    with op.batch_alter_table("password_reset_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_password_reset_tokens_app_id_user_id"),
            ["app_id", "user_id"],
            unique=False,
        )

    op.create_table(
        "user_tenants",
        sa.Column("app_id", sa.String(length=128), nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id", "tenant_id"],
            ["tenants.app_id", "tenants.tenant_id"],
            name=op.f("fk_user_tenants_app_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["app_id", "user_id"],
            ["users.app_id", "users.user_id"],
            name=op.f("fk_user_tenants_app_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("app_id", "tenant_id", "user_id", name=op.f("pk_user_tenants")),
    )
    with op.batch_alter_table("user_tenants", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_user_tenants_app_id_user_id"), ["app_id", "user_id"], unique=False
        )

    op.create_table(
        "userid_mappings",
        sa.Column("app_id", sa.String(length=128), nullable=False),
        sa.Column("supertokens_user_id", sa.String(length=128), nullable=False),
        sa.Column("external_user_id", sa.String(length=128), nullable=False),
        sa.Column("external_user_id_info", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["app_id", "supertokens_user_id"],
            ["users.app_id", "users.user_id"],
            name=op.f("fk_userid_mappings_app_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("app_id", "supertokens_user_id", name=op.f("pk_userid_mappings")),
        sa.UniqueConstraint(
            "app_id", "external_user_id", name=op.f("uq_userid_mappings_app_id_external_user_id")
        ),
    )
    op.create_table(
        "emailpassword_user_tenants",
        sa.Column("app_id", sa.String(length=128), nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("email", sa.String(length=256), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id", "user_id"],
            ["emailpassword_users.app_id", "emailpassword_users.user_id"],
            name=op.f("fk_emailpassword_user_tenants_app_id_emailpassword_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "app_id", "tenant_id", "user_id", name=op.f("pk_emailpassword_user_tenants")
        ),
        sa.UniqueConstraint(
            "app_id",
            "tenant_id",
            "email",
            name=op.f("uq_emailpassword_user_tenants_app_id_tenant_id_email"),
        ),
    )
    # The public app and its public tenant exist from the start.
    op.execute("INSERT INTO apps (app_id, core_config, created_at) VALUES ('public', '{}', 0)")
    op.execute(
        "INSERT INTO tenants (app_id, tenant_id, config, created_at) "
        "VALUES ('public', 'public', '{}', 0)"
    )


def downgrade() -> None:
    op.drop_table("emailpassword_user_tenants")
    op.drop_table("userid_mappings")
    with op.batch_alter_table("user_tenants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_tenants_app_id_user_id"))

    op.drop_table("user_tenants")
    with op.batch_alter_table("password_reset_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_password_reset_tokens_app_id_user_id"))

    op.drop_table("password_reset_tokens")
    op.drop_table("emailpassword_users")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_app_id_time_joined_user_id"))
        batch_op.drop_index(batch_op.f("ix_users_app_id_primary_user_id"))

    op.drop_table("users")
    op.drop_table("tenants")
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_refresh_tokens_app_id_session_handle"))

    op.drop_table("refresh_tokens")
    op.drop_table("verified_emails")
    op.drop_table("user_metadata")
    op.drop_table("signing_keys")
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sessions_expires_at"))
        batch_op.drop_index(batch_op.f("ix_sessions_app_id_user_id"))

    op.drop_table("sessions")
    with op.batch_alter_table("email_verification_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_email_verification_tokens_app_id_user_id_email"))

    op.drop_table("email_verification_tokens")
    op.drop_table("apps")
