"""indexes for the sweep of expired rows

doorkeep.core.housekeeping deletes expired single-use tokens and ended rate-limit
windows in batches; these indexes let each batch find its rows without a scan.
(Sessions already have one on expires_at.)

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_INDEXES = (
    ("email_verification_tokens", "expires_at"),
    ("password_reset_tokens", "expires_at"),
    ("rate_limit_counters", "window_start"),
)


def upgrade() -> None:
    for table, column in _INDEXES:
        op.create_index(op.f(f"ix_{table}_{column}"), table, [column], unique=False)


def downgrade() -> None:
    for table, column in _INDEXES:
        op.drop_index(op.f(f"ix_{table}_{column}"), table_name=table)
