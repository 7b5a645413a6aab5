"""doorkeep's settings, from code or from `DOORKEEP_*` environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

SameSite = Literal["lax", "strict", "none"]
AntiCsrfMode = Literal["VIA_TOKEN", "VIA_CUSTOM_HEADER", "NONE"]
RevokeOnChange = Literal["all", "others", "none"]
LoginIdentifier = Literal["email", "username"]


@dataclass(frozen=True)
class Settings:
    """Everything that can be configured. Durations are in seconds."""

    database_url: str = "sqlite:///doorkeep.sqlite3"
    app_name: str = "doorkeep"
    api_domain: str = "http://127.0.0.1:3567"
    website_domain: str = "http://127.0.0.1:3567"
    api_base_path: str = "/auth"
    website_base_path: str = "/auth"

    # Sessions (SuperTokens' defaults: access 1 h, refresh 100 days).
    access_token_validity: int = 3600
    refresh_token_validity: int = 100 * 24 * 3600
    session_absolute_lifetime: int | None = None  # cap on a refresh chain; None = no cap
    refresh_grace_seconds: int = 10  # how long a just-rotated token may be replayed as a race
    signing_key_rotation_hours: float = 168.0

    # Passwords (OWASP minimums for Argon2id; NIST length rules).
    password_min_length: int = 8
    password_max_length: int = 128
    reject_common_passwords: bool = True
    argon2_time_cost: int = 2
    argon2_memory_cost: int = 19456
    argon2_parallelism: int = 1
    firebase_signer_key: str | None = None

    # Tokens sent by email.
    password_reset_token_lifetime: int = 3600
    password_reset_single_token: bool = False  # True: a new reset link retires older ones
    email_verification_token_lifetime: int = 24 * 3600

    # Built-in flows.
    legacy_provider_url: str | None = None  # just-in-time migration (seed 001) when set
    login_identifier: LoginIdentifier = "email"  # "username": username + optional email (seed 004)
    change_password_revoke: RevokeOnChange = "all"  # which sessions a password change ends
    change_email_verify: bool = True  # the new address must be verified before it is used
    # A session signed in longer ago than this needs the current password to change
    # the email (a stolen session must not take over the account's recovery address).
    change_email_fresh_seconds: int = 300
    notify_password_change: bool = False  # email the account when its password changes
    notify_email_change: bool = False  # email the old address when the email changes

    # Email delivery: SMTP when smtp_url is set (smtp://host:port, smtps://user:pass@host:465,
    # smtp+starttls://…), else the console. Failed sends are retried after these delays (s).
    smtp_url: str | None = None
    email_from: str = "doorkeep <no-reply@localhost>"
    email_retry_delays: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0)

    # Transport.
    cookie_secure: bool | None = None  # None: secure when api_domain is https
    cookie_same_site: SameSite = "lax"
    cookie_domain: str | None = None
    anti_csrf: AntiCsrfMode | None = None  # None: SuperTokens' automatic choice

    core_api_keys: tuple[str, ...] = field(default_factory=tuple)

    # Rate limits (see doorkeep.ratelimit.RateLimitConfig for the numbers): counters
    # live in the database, or in Redis when redis_url is set (several instances).
    rate_limits_enabled: bool = True
    redis_url: str | None = None

    # Expired sessions, single-use tokens and ended rate-limit windows are deleted this
    # often (seconds; the first sweep a minute after start). 0 turns the sweep off.
    purge_interval_seconds: float = 3600.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from `DOORKEEP_<NAME>` variables (e.g. `DOORKEEP_DATABASE_URL`)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"DOORKEEP_{f.name.upper()}")
            if raw is not None:
                values[f.name] = _parse(f.name, f.type, raw)
        values.update(overrides)
        return cls(**values)

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @property
    def secure_cookies(self) -> bool:
        if self.cookie_secure is not None:
            return self.cookie_secure
        return self.api_domain.startswith("https://")


def _parse(name: str, annotation: Any, raw: str) -> Any:
    kind = str(annotation)
    if "tuple" in kind:
        parts = [part.strip() for part in raw.split(",") if part.strip()]
        return tuple(float(p) for p in parts) if "float" in kind else tuple(parts)
    if "bool" in kind:
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        if "None" in kind and lowered in ("", "auto"):
            return None
        raise ValueError(f"DOORKEEP_{name.upper()} must be true or false, not {raw!r}")
    if kind.startswith("int") or kind.startswith("float"):
        if "None" in kind and raw.strip().lower() in ("", "none"):
            return None
        number = float(raw) if kind.startswith("float") else int(raw)
        return number
    if "None" in kind and raw == "":
        return None
    return raw
