"""doorkeep's settings, from code or from `DOORKEEP_*` environment variables.

`Settings` is a frozen value object checked when it is made (pydantic): a wrong type, a
number out of range, an enum outside its choices (matched in any case) or a URL with
the wrong scheme is refused with a one-line `SettingsError` (from `from_env`) or a
pydantic `ValidationError` (from the constructor); `describe_settings_error` turns either
into the line an operator reads. Adding a setting is one line: a field with its type
(the `Annotated` rules below carry the checks), its default and its description.

Settings are read from the environment only by `Settings.from_env` (and by `Doorkeep()`
without settings); `Settings(...)` in code never looks at the environment. An unknown
`DOORKEEP_*` name is refused with the nearest known one as a hint, so that a misspelt
name is not silently ignored. `ServerSettings` holds what only `doorkeep serve` reads.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import os
import re
import types
from collections.abc import Collection, Mapping
from email.utils import parseaddr
from typing import Annotated, Any, Literal, Self, Union, get_args, get_origin
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

ENV_PREFIX = "DOORKEEP_"
# DOORKEEP_* names that are not settings: the test suite's and the benchmarks' own.
RESERVED_ENV_PREFIXES = (
    "DOORKEEP_TEST_",
    "DOORKEEP_REQUIRE_",
    "DOORKEEP_UPDATE_",
    "DOORKEEP_BENCH_",
)
_DEFAULT_ORIGIN = "http://127.0.0.1:3567"

SameSite = Literal["lax", "strict", "none"]
AntiCsrfMode = Literal["VIA_TOKEN", "VIA_CUSTOM_HEADER", "NONE"]
RevokeOnChange = Literal["all", "others", "none"]
LoginIdentifier = Literal["email", "username"]
PasswordlessContact = Literal["off", "email", "phone", "email_or_phone"]
PasswordlessFlow = Literal["code", "link", "code_and_link"]
LogLevel = Literal["critical", "error", "warning", "info", "debug", "trace"]
LogFormat = Literal["text", "json"]


class SettingsError(ValueError):
    """Settings that cannot be used; `str()` is one line naming every problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


# --- the checks, as reusable types -------------------------------------------------------


def _url_check(*schemes: str, host: bool = True) -> AfterValidator:
    def check(value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme.lower() not in schemes:
            raise ValueError(f"must be a {' or '.join(s + '://' for s in schemes)} URL")
        if host and not parts.hostname:
            raise ValueError("must name a host")
        try:
            parts.port  # noqa: B018 - raises on a port that is not a number in range
        except ValueError:
            raise ValueError("has a port that is not a number from 1 to 65535") from None
        return value

    return AfterValidator(check)


def _database_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme.lower().partition("+")[0] not in ("sqlite", "postgresql", "postgres"):
        raise ValueError("must be a sqlite:/// or postgresql:// URL")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError:
        raise ValueError("has a port that is not a number from 1 to 65535") from None
    return value


def _origin(value: str) -> str:
    """http(s)://host[:port] (a trailing slash is dropped): links are built on it."""
    value = value.rstrip("/")
    parts = urlsplit(value)
    if parts.path or parts.query or parts.fragment:
        raise ValueError("must be scheme://host[:port] without a path")
    return value


def _base_path(value: str) -> str:
    if not value.startswith("/") or any(c in value for c in "?#\\ \t\r\n"):
        raise ValueError("must be a path starting with /")
    return value


def _one_line(value: str) -> str:
    if not value.strip() or any(c in value for c in "\r\n\0"):
        raise ValueError("must be one non-empty line")
    return value


def _email_from(value: str) -> str:
    _one_line(value)
    if "@" not in parseaddr(value)[1]:
        raise ValueError("must be an address such as 'App <no-reply@example.com>'")
    return value


def _cookie_domain(value: str) -> str:
    if not re.fullmatch(r"\.?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*", value):
        raise ValueError("must be a bare domain such as example.com (no scheme, port or path)")
    return value


def _base64_key(value: str) -> str:
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("must be base64 (Firebase's base64_signer_key)") from None
    return value


def _api_key(value: str) -> str:
    # SuperTokens' rule for core API keys: at least 20 characters of [A-Za-z0-9=-].
    if not re.fullmatch(r"[A-Za-z0-9=-]{20,}", value):
        raise ValueError("each key must be at least 20 characters of A-Z a-z 0-9 = -")
    return value


Seconds = Annotated[int, Field(gt=0)]  # a duration in whole seconds, more than 0
SecondsOrZero = Annotated[int, Field(ge=0)]
Count = Annotated[int, Field(ge=1)]
DatabaseUrl = Annotated[str, AfterValidator(_database_url)]
SmtpUrl = Annotated[str, _url_check("smtp", "smtps", "smtp+starttls")]
RedisUrl = Annotated[str, _url_check("redis", "rediss", "unix", host=False)]
SmsUrl = Annotated[str, _url_check("twilio")]
HttpUrl = Annotated[str, _url_check("http", "https")]
Origin = Annotated[str, _url_check("http", "https"), AfterValidator(_origin)]
BasePath = Annotated[str, AfterValidator(_base_path)]
OneLine = Annotated[str, AfterValidator(_one_line)]
EmailFrom = Annotated[str, AfterValidator(_email_from)]
CookieDomain = Annotated[str, AfterValidator(_cookie_domain)]
Base64Key = Annotated[str, AfterValidator(_base64_key)]
ApiKey = Annotated[str, AfterValidator(_api_key)]
Delay = Annotated[float, Field(ge=0)]

# Fields whose values are never printed (URL fields are printed with their secrets masked).
_SECRET_FIELDS = {"core_api_keys", "firebase_signer_key"}
_URL_FIELDS = {"database_url", "smtp_url", "redis_url", "legacy_provider_url", "sms_url"}

_listening_origin: str | None = None


def set_listening_origin(origin: str | None) -> None:
    """Make `origin` the default of api_domain and website_domain for settings made from
    now on in this process (`doorkeep serve` sets where it listens)."""
    global _listening_origin
    _listening_origin = origin


def _default_origin() -> str:
    return _listening_origin or _DEFAULT_ORIGIN


class _Validated(BaseModel):
    """Frozen, unknown names refused, enums matched in any case."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

    @model_validator(mode="before")
    @classmethod
    def _canonical_case(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for name, choices in _literal_fields(cls).items():
            value = data.get(name)
            if isinstance(value, str):
                folded = {str(c).lower(): c for c in choices}
                data[name] = folded.get(value.strip().lower(), value)
        return data

    def with_overrides(self, **changes: Any) -> Self:
        """A copy with `changes`, checked like a new one; unchanged fields stay as set."""
        values = {name: getattr(self, name) for name in self.model_fields_set}
        values.update(changes)
        return type(self)(**values)


class Settings(_Validated):
    """Everything that can be configured. Durations are in seconds."""

    database_url: DatabaseUrl = Field(
        "sqlite:///doorkeep.sqlite3", description="sqlite:/// or postgresql:// URL"
    )
    app_name: OneLine = Field("doorkeep", description="name shown in emails and pages")
    api_domain: Origin = Field(
        default_factory=_default_origin,
        description="origin of the API; default: where `doorkeep serve` listens",
    )
    website_domain: Origin = Field(
        default_factory=_default_origin,
        description="origin of the website; links in emails start with it",
    )
    api_base_path: BasePath = Field("/auth", description="path of the frontend API")
    website_base_path: BasePath = Field("/auth", description="path of the pages")

    # Sessions (SuperTokens' defaults: access 1 h, refresh 100 days).
    access_token_validity: Seconds = Field(3600, description="access token lifetime (s)")
    refresh_token_validity: Seconds = Field(
        100 * 24 * 3600, description="refresh token lifetime (s)"
    )
    # 30 days: NIST SP 800-63B, AAL1 (a password alone) reauthenticates at least once per
    # 30 days of an extended session whatever the activity; AAL2 needs 12 hours (43200).
    session_absolute_lifetime: Seconds | None = Field(
        30 * 24 * 3600, description="cap on a refresh chain (s), 30 days; none = no cap"
    )
    refresh_grace_seconds: SecondsOrZero = Field(
        10, description="how long a just-rotated token may be replayed as a race (s)"
    )
    signing_key_rotation_hours: float = Field(168.0, gt=0, description="signing key rotation (h)")

    # Passwords (OWASP minimums for Argon2id; NIST length rules).
    password_min_length: Count = Field(8, description="shortest password accepted")
    password_max_length: Count = Field(128, description="longest password accepted")
    reject_common_passwords: bool = Field(True, description="refuse passwords on the common list")
    argon2_time_cost: Count = Field(2, description="Argon2id iterations")
    argon2_memory_cost: Count = Field(
        19456, description="Argon2id memory (KiB), at least 8 x parallelism"
    )
    argon2_parallelism: Count = Field(1, description="Argon2id lanes")
    firebase_signer_key: Base64Key | None = Field(
        None, description="Firebase scrypt signer key, for imported hashes"
    )

    # Tokens sent by email.
    password_reset_token_lifetime: Seconds = Field(3600, description="reset link lifetime (s)")
    password_reset_single_token: bool = Field(
        False, description="a new reset link retires older ones"
    )
    email_verification_token_lifetime: Seconds = Field(
        24 * 3600, description="verification link lifetime (s)"
    )

    # Built-in flows.
    legacy_provider_url: HttpUrl | None = Field(
        None, description="just-in-time migration from this http(s) provider (seed 001)"
    )
    login_identifier: LoginIdentifier = Field(
        "email", description="username: username + optional email (seed 004)"
    )
    change_password_revoke: RevokeOnChange = Field(
        "all", description="which sessions a password change ends"
    )
    change_email_verify: bool = Field(
        True, description="the new address must be verified before it is used"
    )
    # A session signed in longer ago than this needs the current password to change
    # the email (a stolen session must not take over the account's recovery address).
    change_email_fresh_seconds: SecondsOrZero = Field(
        300, description="a sign-in older than this needs the password to change the email (s)"
    )
    notify_password_change: bool = Field(
        False, description="email the account when its password changes"
    )
    notify_email_change: bool = Field(
        False, description="email the old address when the email changes"
    )

    # Email delivery: SMTP when smtp_url is set (smtp://host:port, smtps://user:pass@host:465,
    # smtp+starttls://…), else the console. Failed sends are retried after these delays (s).
    smtp_url: SmtpUrl | None = Field(
        None, description="smtp://, smtps:// or smtp+starttls:// URL; none = console"
    )
    email_from: EmailFrom = Field(
        "doorkeep <no-reply@localhost>", description="From: of every email"
    )
    email_retry_delays: tuple[Delay, ...] = Field(
        (1.0, 2.0, 4.0, 8.0, 16.0, 32.0),
        description="delays before retrying a failed send (s), comma-separated",
    )

    # Passwordless sign-in (a one-time code and/or a magic link, by email or SMS).
    passwordless: PasswordlessContact = Field(
        "off", description="off, or what users sign in with: email, phone or email_or_phone"
    )
    passwordless_flow: PasswordlessFlow = Field(
        "code_and_link", description="what is sent: code, link or code_and_link"
    )
    passwordless_code_lifetime: Seconds = Field(
        900, description="lifetime of a one-time code and its magic link (s)"
    )
    passwordless_max_code_input_attempts: Count = Field(
        5, description="wrong codes a sign-in attempt takes; the last one ends it"
    )

    # SMS delivery: Twilio when sms_url is set (twilio://ACCOUNT_SID:AUTH_TOKEN@FROM, FROM an
    # E.164 number or a messaging service SID), else the console. Retried like emails.
    sms_url: SmsUrl | None = Field(
        None,
        description="twilio://ACCOUNT_SID:AUTH_TOKEN@FROM URL (the twilio extra); none = console",
    )
    sms_retry_delays: tuple[Delay, ...] = Field(
        (1.0, 2.0, 4.0, 8.0, 16.0, 32.0),
        description="delays before retrying a failed SMS (s), comma-separated",
    )

    # Transport.
    cookie_secure: bool | None = Field(
        None, description="auto: secure when api_domain is https (always with SameSite=None)"
    )
    cookie_same_site: SameSite = Field("lax", description="SameSite of the session cookies")
    cookie_domain: CookieDomain | None = Field(None, description="Domain of the session cookies")
    anti_csrf: AntiCsrfMode | None = Field(None, description="auto: SuperTokens' automatic choice")

    core_api_keys: tuple[ApiKey, ...] = Field(
        (), description="API keys of the core API, comma-separated"
    )

    # Rate limits (see doorkeep.ratelimit.RateLimitConfig for the numbers): counters
    # live in the database, or in Redis when redis_url is set (several instances).
    rate_limits_enabled: bool = Field(True, description="limit attempts per IP and account")
    redis_url: RedisUrl | None = Field(
        None, description="redis:// or rediss:// URL for shared counters (the redis extra)"
    )

    # Expired sessions, single-use tokens and ended rate-limit windows are deleted this
    # often (seconds; the first sweep a minute after start). 0 turns the sweep off.
    purge_interval_seconds: float = Field(
        3600.0, ge=0, description="sweep of expired rows (s); 0 = off"
    )

    # Operations (docs/operations.md): metrics for GET /metrics (the metrics extra), the
    # audit trail of security events, and webhook deliveries retried after these delays.
    metrics_enabled: bool = Field(True, description="count and time for GET /metrics")
    audit_enabled: bool = Field(True, description="keep the audit trail of security events")
    audit_retention_days: Count = Field(
        365, description="audit rows older than this are swept (days)"
    )
    webhook_retry_delays: tuple[Delay, ...] = Field(
        (5.0, 30.0, 120.0, 600.0, 1800.0, 3600.0, 10800.0, 21600.0, 43200.0),
        description="delays before retrying a failed webhook delivery (s), comma-separated",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.password_max_length < self.password_min_length:
            raise ValueError("password_max_length must be at least password_min_length")
        if self.argon2_memory_cost < 8 * self.argon2_parallelism:
            raise ValueError("argon2_memory_cost must be at least 8 x argon2_parallelism")
        if self.cookie_same_site == "none" and self.cookie_secure is False:
            raise ValueError("cookie_same_site=none needs secure cookies: drop cookie_secure=false")
        return self

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from `DOORKEEP_<NAME>` variables (e.g. `DOORKEEP_DATABASE_URL`), then
        `overrides`; SettingsError (one line) for unknown names and invalid values."""
        env = os.environ if environ is None else environ
        problems = unknown_env_names(env)
        values = env_values(cls, env)
        from_env = set(values) - set(overrides)
        values.update(overrides)
        try:
            settings = cls.model_validate(values)
        except ValidationError as exc:
            raise SettingsError(problems + _problems(exc, from_env)) from None
        if problems:
            raise SettingsError(problems)
        return settings

    @property
    def secure_cookies(self) -> bool:
        if self.cookie_secure is not None:
            return self.cookie_secure
        return self.cookie_same_site == "none" or self.api_domain.startswith("https://")


class ServerSettings(_Validated):
    """What only `doorkeep serve` reads (its command-line options override them)."""

    host: OneLine = Field("127.0.0.1", description="address to listen on")
    port: int = Field(3567, ge=1, le=65535, description="port to listen on")
    log_level: LogLevel = Field("info", description="level of doorkeep's and uvicorn's logs")
    log_format: LogFormat = Field("text", description="text, or json (one object per line)")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> ServerSettings:
        env = os.environ if environ is None else environ
        values = {**env_values(cls, env), **overrides}
        from_env = set(values) - set(overrides)
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise SettingsError(_problems(exc, from_env)) from None


# --- reading the environment --------------------------------------------------------------


def env_name(field: str) -> str:
    return ENV_PREFIX + field.upper()


def known_env_names() -> set[str]:
    return {env_name(name) for model in (Settings, ServerSettings) for name in model.model_fields}


def unknown_env_names(env: Mapping[str, str]) -> list[str]:
    """One problem per DOORKEEP_* name that no setting has, with the nearest known name."""
    known = known_env_names()
    problems = []
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX) or name in known:
            continue
        if name.startswith(RESERVED_ENV_PREFIXES):
            continue
        near = difflib.get_close_matches(name, known, n=1, cutoff=0.7)
        hint = f" (did you mean {near[0]}?)" if near else ""
        problems.append(f"{name} is not a doorkeep setting{hint}")
    return problems


def env_values(model: type[BaseModel], env: Mapping[str, str]) -> dict[str, Any]:
    """The model's fields found in `env`, as text turned into what the field takes:
    a list for tuples (comma-separated), None for '', 'none' or 'auto' where None is
    allowed (unless the word is one of the field's choices); pydantic does the rest."""
    values: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        raw = env.get(env_name(name))
        if raw is None:
            continue
        optional, inner = _unwrap_optional(field.annotation)
        word = raw.strip()
        choices = {str(c).lower() for c in _literal_choices(inner)}
        if optional and word.lower() in ("", "none", "auto") and word.lower() not in choices:
            values[name] = None
        elif get_origin(inner) is tuple:
            values[name] = [part.strip() for part in raw.split(",") if part.strip()]
        else:
            values[name] = word
    return values


def _unwrap_optional(annotation: Any) -> tuple[bool, Any]:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) < len(get_args(annotation)):
            return True, args[0] if len(args) == 1 else Union[tuple(args)]  # noqa: UP007
    return False, annotation


def _literal_choices(annotation: Any) -> tuple[Any, ...]:
    return get_args(annotation) if get_origin(annotation) is Literal else ()


def _literal_fields(model: type[BaseModel]) -> dict[str, tuple[Any, ...]]:
    found = {}
    for name, field in model.model_fields.items():
        choices = _literal_choices(_unwrap_optional(field.annotation)[1])
        if choices:
            found[name] = choices
    return found


# --- describing problems -------------------------------------------------------------------


def describe_settings_error(exc: ValidationError | SettingsError) -> str:
    """One line for an operator, secrets masked."""
    if isinstance(exc, SettingsError):
        return str(exc)
    return "; ".join(_problems(exc, ()))


def _problems(exc: ValidationError, from_env: Collection[str]) -> list[str]:
    fields = {**Settings.model_fields, **ServerSettings.model_fields}
    problems = []
    for error in exc.errors():
        loc = error["loc"]
        message = re.sub(r"^(Value error|Assertion failed), ", "", error["msg"])
        message = message.replace("Input should", "should")
        if not loc:  # a check across fields
            problems.append(message)
            continue
        field = str(loc[0])
        shown = env_name(field) if field in from_env else field
        where = shown + "".join(f"[{part}]" for part in loc[1:])
        if error["type"] == "extra_forbidden":
            near = difflib.get_close_matches(field, fields, n=1)
            hint = f" (did you mean {near[0]}?)" if near else ""
            problems.append(f"{where} is not a setting{hint}")
            continue
        problems.append(f"{where}={_shown_value(field, error.get('input'))}: {message}")
    return problems


def _shown_value(field: str, value: Any) -> str:
    if field in _SECRET_FIELDS:
        return "***"
    if field in _URL_FIELDS and isinstance(value, str):
        value = mask_url(value)
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


_SECRET_QUERY = re.compile(r"pass|secret|token|key|auth", re.IGNORECASE)


def mask_url(url: str) -> str:
    """`url` with its password (and secret-looking query values) replaced by ***."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"
    netloc = parts.netloc
    if parts.password is not None:
        userinfo, _, hostport = netloc.rpartition("@")
        user = userinfo.partition(":")[0]
        netloc = f"{user}:***@{hostport}"
    query = parts.query
    pairs = parse_qsl(query, keep_blank_values=True)
    if any(_SECRET_QUERY.search(k) for k, _ in pairs):
        query = urlencode([(k, "***" if _SECRET_QUERY.search(k) else v) for k, v in pairs])
        query = query.replace("%2A%2A%2A", "***")
    if (netloc, query) == (parts.netloc, parts.query):
        return url  # as given: urlunsplit would drop the empty host of sqlite:////path
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
