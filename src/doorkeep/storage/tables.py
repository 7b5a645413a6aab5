"""The database schema, as SQLAlchemy Core tables.

Every invariant the design promises is a constraint here, not a check in Python:
an email is unique per tenant for email/password users, an external user ID maps
to one user, a token hash identifies one token. Times are UTC milliseconds since
the epoch (the CDI's convention). Secrets are stored only as SHA-256 digests.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

# Constraint names are fixed so that migrations and error handling can refer to them.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = String(128)  # user IDs, tenant IDs, handles: UUIDs or caller-chosen external IDs
HASH = String(64)  # hex SHA-256

apps = Table(
    "apps",
    metadata,
    Column("app_id", ID, primary_key=True),
    Column("core_config", JSON, nullable=False, default=dict),
    Column("created_at", BigInteger, nullable=False),
)

tenants = Table(
    "tenants",
    metadata,
    Column("app_id", ID, ForeignKey("apps.app_id", ondelete="CASCADE"), primary_key=True),
    Column("tenant_id", ID, primary_key=True),
    Column("config", JSON, nullable=False, default=dict),
    Column("created_at", BigInteger, nullable=False),
)

# One row per login method ("recipe user"). `primary_user_id` is the user the
# method belongs to; today it equals `user_id`, account linking can change it.
users = Table(
    "users",
    metadata,
    Column("app_id", ID, ForeignKey("apps.app_id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ID, primary_key=True),
    Column("primary_user_id", ID, nullable=False),
    Column("recipe_id", String(32), nullable=False),
    Column("time_joined", BigInteger, nullable=False),
    Index(None, "app_id", "primary_user_id"),
    Index(None, "app_id", "time_joined", "user_id"),
)

user_tenants = Table(
    "user_tenants",
    metadata,
    Column("app_id", ID, primary_key=True),
    Column("tenant_id", ID, primary_key=True),
    Column("user_id", ID, primary_key=True),
    # The user's, copied: a tenant's users are listed in the order they joined.
    Column("time_joined", BigInteger, nullable=False),
    ForeignKeyConstraint(
        ["app_id", "user_id"], ["users.app_id", "users.user_id"], ondelete="CASCADE"
    ),
    ForeignKeyConstraint(
        ["app_id", "tenant_id"], ["tenants.app_id", "tenants.tenant_id"], ondelete="CASCADE"
    ),
    Index(None, "app_id", "user_id", "tenant_id"),  # covering: loading a user joins on it
    Index(None, "app_id", "tenant_id", "time_joined", "user_id"),  # a tenant's users, in order
)

USERNAME = String(64)

emailpassword_users = Table(
    "emailpassword_users",
    metadata,
    Column("app_id", ID, primary_key=True),
    Column("user_id", ID, primary_key=True),
    # With username login the email is optional; a user has at least one of the two.
    Column("email", String(256), nullable=True),
    Column("username", USERNAME, nullable=True),
    Column("password_hash", String(512), nullable=False),
    Column("time_joined", BigInteger, nullable=False),
    ForeignKeyConstraint(
        ["app_id", "user_id"], ["users.app_id", "users.user_id"], ondelete="CASCADE"
    ),
)

# The uniqueness of an email (and of a username) per tenant lives here, so that fifty
# concurrent sign-ups with one address race on a constraint and exactly one wins.
emailpassword_user_tenants = Table(
    "emailpassword_user_tenants",
    metadata,
    Column("app_id", ID, primary_key=True),
    Column("tenant_id", ID, primary_key=True),
    Column("user_id", ID, primary_key=True),
    Column("email", String(256), nullable=True),
    Column("username", USERNAME, nullable=True),
    ForeignKeyConstraint(
        ["app_id", "user_id"],
        ["emailpassword_users.app_id", "emailpassword_users.user_id"],
        ondelete="CASCADE",
    ),
    UniqueConstraint("app_id", "tenant_id", "email"),
    UniqueConstraint("app_id", "tenant_id", "username"),
    Index(None, "app_id", "user_id", "tenant_id"),  # email changes and deletions go by user
)

user_metadata = Table(
    "user_metadata",
    metadata,
    Column("app_id", ID, primary_key=True),
    Column("user_id", ID, primary_key=True),  # as the caller names the user (external ID if mapped)
    Column("metadata", JSON, nullable=False),
)

userid_mappings = Table(
    "userid_mappings",
    metadata,
    Column("app_id", ID, primary_key=True),
    Column("supertokens_user_id", ID, primary_key=True),
    Column("external_user_id", ID, nullable=False),
    Column("external_user_id_info", Text, nullable=True),
    ForeignKeyConstraint(
        ["app_id", "supertokens_user_id"], ["users.app_id", "users.user_id"], ondelete="CASCADE"
    ),
    UniqueConstraint("app_id", "external_user_id"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("app_id", ID, primary_key=True),
    Column("session_handle", ID, primary_key=True),
    Column("tenant_id", ID, nullable=False),
    Column("user_id", ID, nullable=False),  # as the session names the user (external ID if mapped)
    Column("recipe_user_id", ID, nullable=False),
    Column("session_data", JSON, nullable=False),
    Column("jwt_payload", JSON, nullable=False),
    Column("refresh_token_hash2", HASH, nullable=False),  # the one refresh token accepted now
    Column("use_static_key", Boolean, nullable=False, default=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),  # idle limit, moved on each refresh
    Index(None, "app_id", "user_id"),
    Index(None, "expires_at"),
)

# Every refresh token a session was given, current and superseded, so that a
# superseded one is recognised (theft) rather than merely unknown.
refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("token_hash2", HASH, primary_key=True),  # sha256(sha256(token))
    Column("app_id", ID, nullable=False),
    Column("session_handle", ID, nullable=False),
    Column("child_hash2", HASH, nullable=True),  # set when this token was rotated
    Column("created_at", BigInteger, nullable=False),
    Column("superseded_at", BigInteger, nullable=True),
    Column("used_at", BigInteger, nullable=True),  # first sign of the holder using it
    ForeignKeyConstraint(
        ["app_id", "session_handle"],
        ["sessions.app_id", "sessions.session_handle"],
        ondelete="CASCADE",
    ),
    Index(None, "app_id", "session_handle"),
)

signing_keys = Table(
    "signing_keys",
    metadata,
    Column("app_id", ID, primary_key=True),
    Column("kid", String(64), primary_key=True),
    Column("algorithm", String(16), nullable=False),
    Column("private_key_pem", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

email_verification_tokens = Table(
    "email_verification_tokens",
    metadata,
    Column("token_hash", HASH, primary_key=True),
    Column("app_id", ID, nullable=False),
    Column("tenant_id", ID, nullable=False),
    Column("user_id", ID, nullable=False),
    Column("email", String(256), nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Index(None, "app_id", "user_id", "email"),
    Index(None, "expires_at"),  # the sweep of expired rows
)

verified_emails = Table(
    "verified_emails",
    metadata,
    Column("app_id", ID, primary_key=True),
    Column("user_id", ID, primary_key=True),
    Column("email", String(256), primary_key=True),
)

password_reset_tokens = Table(
    "password_reset_tokens",
    metadata,
    Column("token_hash", HASH, primary_key=True),
    Column("app_id", ID, nullable=False),
    Column("tenant_id", ID, nullable=False),
    Column("user_id", ID, nullable=False),
    Column("email", String(256), nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    ForeignKeyConstraint(
        ["app_id", "user_id"], ["users.app_id", "users.user_id"], ondelete="CASCADE"
    ),
    Index(None, "app_id", "user_id"),
    Index(None, "expires_at"),  # the sweep of expired rows
)

# Fixed-window attempt counters (rate limits) shared by every instance.
rate_limit_counters = Table(
    "rate_limit_counters",
    metadata,
    Column("key", String(320), primary_key=True),
    Column("window_start", BigInteger, nullable=False),
    Column("count", BigInteger, nullable=False),
    Index(None, "window_start"),  # the sweep of ended windows
)

# -- passwordless (issue 17) ---------------------------------------------------------------------
PHONE = String(32)  # E.164: "+" and at most 15 digits

# A passwordless login method: an email, a phone number (E.164), or both.
passwordless_users = Table(
    "passwordless_users",
    metadata,
    Column("app_id", ID, primary_key=True),
    Column("user_id", ID, primary_key=True),
    Column("email", String(256), nullable=True),
    Column("phone_number", PHONE, nullable=True),
    Column("time_joined", BigInteger, nullable=False),
    ForeignKeyConstraint(
        ["app_id", "user_id"], ["users.app_id", "users.user_id"], ondelete="CASCADE"
    ),
    CheckConstraint(
        "email IS NOT NULL OR phone_number IS NOT NULL", name="ck_passwordless_users_email_or_phone"
    ),
)

# As for email/password: uniqueness per tenant is a constraint, so that concurrent
# sign-ups of one address (or number) race on it and exactly one user is created.
passwordless_user_tenants = Table(
    "passwordless_user_tenants",
    metadata,
    Column("app_id", ID, primary_key=True),
    Column("tenant_id", ID, primary_key=True),
    Column("user_id", ID, primary_key=True),
    Column("email", String(256), nullable=True),
    Column("phone_number", PHONE, nullable=True),
    ForeignKeyConstraint(
        ["app_id", "user_id"],
        ["passwordless_users.app_id", "passwordless_users.user_id"],
        ondelete="CASCADE",
    ),
    UniqueConstraint("app_id", "tenant_id", "email"),
    UniqueConstraint("app_id", "tenant_id", "phone_number"),
    Index(None, "app_id", "user_id", "tenant_id"),  # updates and deletions go by user
)

# A sign-in attempt from one browser ("device"). Its key is the SHA-256 of the device
# ID the browser keeps (the preAuthSessionId); the device ID itself is never stored.
passwordless_devices = Table(
    "passwordless_devices",
    metadata,
    Column("app_id", ID, primary_key=True),
    Column("tenant_id", ID, primary_key=True),
    Column("device_id_hash", HASH, primary_key=True),
    Column("email", String(256), nullable=True),
    Column("phone_number", PHONE, nullable=True),
    Column("failed_attempts", Integer, nullable=False, default=0),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),  # that of its newest code
    Index(None, "app_id", "tenant_id", "email"),
    Index(None, "app_id", "tenant_id", "phone_number"),
    Index(None, "expires_at"),  # the sweep of expired rows
)

# The codes sent to a device: the user-input code as an HMAC keyed by the device ID
# (six digits are too few to survive a bare hash), the link code as its SHA-256.
passwordless_codes = Table(
    "passwordless_codes",
    metadata,
    Column("app_id", ID, primary_key=True),
    Column("tenant_id", ID, primary_key=True),
    Column("code_id", ID, primary_key=True),
    Column("device_id_hash", HASH, nullable=False),
    Column("user_input_code_hash", HASH, nullable=False),
    Column("link_code_hash", HASH, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    ForeignKeyConstraint(
        ["app_id", "tenant_id", "device_id_hash"],
        [
            "passwordless_devices.app_id",
            "passwordless_devices.tenant_id",
            "passwordless_devices.device_id_hash",
        ],
        ondelete="CASCADE",
    ),
    UniqueConstraint("app_id", "tenant_id", "link_code_hash"),
    UniqueConstraint(
        "app_id",
        "tenant_id",
        "device_id_hash",
        "user_input_code_hash",
        name="uq_passwordless_codes_device_code",  # the conventional name is too long
    ),
    Index(None, "expires_at"),  # the sweep of expired rows
)

# -- user roles (issue 19) -----------------------------------------------------------------------
ROLE = String(255)  # role and permission names as callers choose them

roles = Table(
    "roles",
    metadata,
    Column("app_id", ID, ForeignKey("apps.app_id", ondelete="CASCADE"), primary_key=True),
    Column("role", ROLE, primary_key=True),
)

role_permissions = Table(
    "role_permissions",
    metadata,
    Column("app_id", ID, primary_key=True),
    Column("role", ROLE, primary_key=True),
    Column("permission", ROLE, primary_key=True),
    ForeignKeyConstraint(["app_id", "role"], ["roles.app_id", "roles.role"], ondelete="CASCADE"),
    Index(None, "app_id", "permission", "role"),  # the roles that have a permission (covering)
)

# A role given to a user in one tenant. `user_id` is doorkeep's own ID when the caller
# names a mapped external ID, like user metadata. SuperTokens lets a role be given to
# any ID, even one no user has; `known_user_id` is the same ID when a user holds it and
# NULL otherwise, so that deleting the user removes its roles by the foreign key's
# cascade (a NULL column exempts the row from the key), as deleting the role does.
user_roles = Table(
    "user_roles",
    metadata,
    Column("app_id", ID, primary_key=True),
    Column("tenant_id", ID, primary_key=True),
    Column("user_id", ID, primary_key=True),
    Column("role", ROLE, primary_key=True),
    Column("known_user_id", ID, nullable=True),
    ForeignKeyConstraint(["app_id", "role"], ["roles.app_id", "roles.role"], ondelete="CASCADE"),
    ForeignKeyConstraint(
        ["app_id", "tenant_id"], ["tenants.app_id", "tenants.tenant_id"], ondelete="CASCADE"
    ),
    ForeignKeyConstraint(
        ["app_id", "known_user_id"],
        ["users.app_id", "users.user_id"],
        ondelete="CASCADE",
        name="fk_user_roles_known_user_id_users",
    ),
    CheckConstraint(
        "known_user_id IS NULL OR known_user_id = user_id", name="ck_user_roles_known_user_id"
    ),
    Index(None, "app_id", "role", "tenant_id", "user_id"),  # a role's users; its deletion
    Index(None, "app_id", "known_user_id"),  # a user's deletion cascades through it
)

# -- operations (issue 20): revocation across instances, the audit trail, webhooks -----------
# Increasing IDs (SQLite: AUTOINCREMENT, never reused) that readers follow as a cursor.
SERIAL = BigInteger().with_variant(Integer, "sqlite")

# A revoked session's handle, kept until the last access token it may have handed out has
# expired: every instance refuses those tokens (it learns of the row by LISTEN/NOTIFY,
# Redis, or by polling the IDs after the last one it saw).
revoked_sessions = Table(
    "revoked_sessions",
    metadata,
    Column("id", SERIAL, primary_key=True, autoincrement=True),
    Column("app_id", ID, nullable=False),
    Column("session_handle", ID, nullable=False),
    Column("revoked_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),  # ms: its last access token expires
    Index(None, "expires_at"),  # the sweep
    sqlite_autoincrement=True,
)

# The audit trail: security events per user, append-only, each row's `digest` the SHA-256
# of the previous row's digest (kept in `prev_digest` too, so that a rewritten row is
# named, not just its successor) and this row's canonical JSON (core/audit.py).
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", SERIAL, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("app_id", ID, nullable=False),
    Column("tenant_id", ID, nullable=True),
    Column("user_id", ID, nullable=True),
    Column("kind", String(64), nullable=False),
    Column("time", BigInteger, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("ip", String(64), nullable=True),
    Column("user_agent", String(300), nullable=True),
    Column("request_id", String(128), nullable=True),
    Column("data", Text, nullable=False),  # the event's own fields, canonical JSON
    Column("prev_digest", HASH, nullable=False),
    Column("digest", HASH, nullable=False),
    Index(None, "app_id", "user_id", "id"),  # a user's recent activity
    Index(None, "time"),  # the retention sweep
    sqlite_autoincrement=True,
)

# One row per chain: where verification starts (the digest of the last swept row) and
# the newest row (so that deleting the newest rows is noticed too). Appends lock it.
audit_anchor = Table(
    "audit_anchor",
    metadata,
    Column("chain", String(32), primary_key=True),
    Column("base_id", BigInteger, nullable=False),
    Column("base_digest", HASH, nullable=False),
    Column("head_id", BigInteger, nullable=False),
    Column("head_digest", HASH, nullable=False),
)

# Webhook endpoints an application registered, and the events each wants ("*": all).
webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("app_id", ID, ForeignKey("apps.app_id", ondelete="CASCADE"), nullable=False),
    Column("url", Text, nullable=False),
    Column("secret", String(128), nullable=False),  # whsec_...: deliveries are signed with it
    Column("enabled", Boolean, nullable=False, default=True),
    Column("created_at", BigInteger, nullable=False),
)

webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column(
        "endpoint_id",
        String(36),
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("event_type", String(64), primary_key=True),
    Index(None, "event_type"),  # the endpoints that want an event
)

# The outbox: one row per (endpoint, event) to deliver, written in the transaction of the
# event where it can be; delivered at least once, retried with backoff until it is.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", SERIAL, primary_key=True, autoincrement=True),
    Column(
        "endpoint_id",
        String(36),
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("event_id", String(36), nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("payload", Text, nullable=False),  # the JSON body, fixed at creation
    Column("created_at", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", BigInteger, nullable=False),
    Column("delivered_at", BigInteger, nullable=True),
    Column("last_status", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    UniqueConstraint("endpoint_id", "event_id"),  # one delivery of an event per endpoint
    # The worker's question: what is due and not delivered yet.
    Index(
        "ix_webhook_deliveries_due",
        "next_attempt_at",
        postgresql_where=Column("delivered_at").is_(None),
        sqlite_where=Column("delivered_at").is_(None),
    ),
    sqlite_autoincrement=True,
)
