"""operations at scale: revoked sessions, the audit trail, webhooks (issue 20)

- revoked_sessions: a revoked session's handle until its last access token expires;
  every instance follows the table by its increasing ID (and NOTIFY or Redis).
- audit_log + audit_anchor: security events, each row chained to the one before by a
  SHA-256 digest; the anchor holds where verification starts and the newest row.
- webhook_endpoints + webhook_subscriptions + webhook_deliveries: endpoints, the events
  they want, and the outbox of deliveries (one per endpoint and event).

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

ID = sa.String(length=128)
HASH = sa.String(length=64)
EVENT_ID = sa.String(length=36)
KIND = sa.String(length=64)
SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "revoked_sessions",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("app_id", ID, nullable=False),
        sa.Column("session_handle", ID, nullable=False),
        sa.Column("revoked_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revoked_sessions")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        op.f("ix_revoked_sessions_expires_at"), "revoked_sessions", ["expires_at"], unique=False
    )
    _audit_tables()
    _webhook_tables()


def _audit_tables() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("event_id", EVENT_ID, nullable=False),
        sa.Column("app_id", ID, nullable=False),
        sa.Column("tenant_id", ID, nullable=True),
        sa.Column("user_id", ID, nullable=True),
        sa.Column("kind", KIND, nullable=False),
        sa.Column("time", sa.BigInteger(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=300), nullable=True),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("prev_digest", HASH, nullable=False),
        sa.Column("digest", HASH, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
        sa.UniqueConstraint("event_id", name=op.f("uq_audit_log_event_id")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        op.f("ix_audit_log_app_id_user_id_id"), "audit_log", ["app_id", "user_id", "id"]
    )
    op.create_index(op.f("ix_audit_log_time"), "audit_log", ["time"])
    op.create_table(
        "audit_anchor",
        sa.Column("chain", sa.String(length=32), nullable=False),
        sa.Column("base_id", sa.BigInteger(), nullable=False),
        sa.Column("base_digest", HASH, nullable=False),
        sa.Column("head_id", sa.BigInteger(), nullable=False),
        sa.Column("head_digest", HASH, nullable=False),
        sa.PrimaryKeyConstraint("chain", name=op.f("pk_audit_anchor")),
    )


def _webhook_tables() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", EVENT_ID, nullable=False),
        sa.Column("app_id", ID, nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"],
            ["apps.app_id"],
            name=op.f("fk_webhook_endpoints_app_id_apps"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoints")),
    )
    op.create_table(
        "webhook_subscriptions",
        sa.Column("endpoint_id", EVENT_ID, nullable=False),
        sa.Column("event_type", KIND, nullable=False),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoints.id"],
            name=op.f("fk_webhook_subscriptions_endpoint_id_webhook_endpoints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("endpoint_id", "event_type", name=op.f("pk_webhook_subscriptions")),
    )
    op.create_index(
        op.f("ix_webhook_subscriptions_event_type"), "webhook_subscriptions", ["event_type"]
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("endpoint_id", EVENT_ID, nullable=False),
        sa.Column("event_id", EVENT_ID, nullable=False),
        sa.Column("event_type", KIND, nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.BigInteger(), nullable=False),
        sa.Column("delivered_at", sa.BigInteger(), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoints.id"],
            name=op.f("fk_webhook_deliveries_endpoint_id_webhook_endpoints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint(
            "endpoint_id", "event_id", name=op.f("uq_webhook_deliveries_endpoint_id_event_id")
        ),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_webhook_deliveries_due",
        "webhook_deliveries",
        ["next_attempt_at"],
        postgresql_where=sa.text("delivered_at IS NULL"),
        sqlite_where=sa.text("delivered_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_subscriptions")
    op.drop_table("webhook_endpoints")
    op.drop_table("audit_anchor")
    op.drop_table("audit_log")
    op.drop_table("revoked_sessions")
