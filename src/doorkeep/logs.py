"""doorkeep's logs: one configuration for doorkeep and uvicorn, security events, request IDs.

- `configure_logging(level, fmt)` sends every logger (doorkeep's, uvicorn's, the
  libraries') through one stderr handler, as text or as one JSON object per line.
  `doorkeep serve` calls it; an application that embeds doorkeep keeps its own logging
  (the loggers are `doorkeep.*`, security events on `doorkeep.security`).
- `security_event(name, ...)` logs one of the `SECURITY_EVENTS` with structured fields
  (in `extra`, so JSON logs carry them as keys). Field names that name a secret
  (password, token, key, ...) are logged as "[redacted]", values that look like a
  JWT likewise, and only plain values are logged: a password or a token cannot reach
  the log by accident.
- `RequestIdMiddleware` gives every request an ID (the caller's `X-Request-ID` when it
  is sane, else a new one), answers it in `X-Request-ID`, and keeps it in a contextvar
  that every log record (uvicorn's access log included) and every security event carry.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from collections.abc import Mapping
from contextvars import ContextVar
from typing import IO, Any, Literal

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from doorkeep.core.events import Event, EventKind

security_log = logging.getLogger("doorkeep.security")

# Every security event and its level: WARNING for what an operator may want to alert on.
# A new event is one line here (and its name is then part of the log's contract).
SECURITY_EVENTS: dict[str, int] = {
    "sign_in_succeeded": logging.INFO,
    "sign_in_failed": logging.WARNING,
    "rate_limited": logging.WARNING,
    "token_theft_detected": logging.WARNING,
    "session_revoked": logging.INFO,
    "password_changed": logging.INFO,
    "email_changed": logging.INFO,
    "password_reset_requested": logging.INFO,
    "password_reset_completed": logging.INFO,
    "user_created": logging.INFO,
    "user_deleted": logging.INFO,
    "core_api_key_refused": logging.WARNING,
    "email_verified": logging.INFO,
    "role_changed": logging.INFO,
    "passwordless_code_sent": logging.INFO,
}

REDACTED = "[redacted]"
# A field whose name has one of these words (split on "_") is never logged as it is.
_SECRET_WORDS = frozenset(
    {
        *("password", "passwords", "passwd", "pwd", "passphrase", "secret", "secrets"),
        *("token", "tokens", "key", "keys", "apikey", "hash", "digest", "signature", "jwt"),
        *("otp", "pin", "passcode", "cookie", "cookies", "authorization", "credential"),
        "credentials",
    }
)
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}")
_MAX_VALUE = 200  # characters of one field's value
_RECORD_ATTRS = frozenset(
    set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__)
    | {"message", "asctime", "color_message", "taskName"}
)

request_id_var: ContextVar[str | None] = ContextVar("doorkeep_request_id", default=None)
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def current_request_id() -> str | None:
    """The ID of the request being answered, if any."""
    return request_id_var.get()


def security_event(
    name: str,
    /,
    *,
    user_id: str | None = None,
    tenant_id: str | None = None,
    ip: str | None = None,
    request_id: str | None = None,
    **fields: Any,
) -> None:
    """Log the security event `name` on `doorkeep.security` (INFO or WARNING, from
    SECURITY_EVENTS; an unknown name is a ValueError) with its fields in `extra`."""
    level = SECURITY_EVENTS.get(name)
    if level is None:
        raise ValueError(f"unknown security event {name!r}: add it to SECURITY_EVENTS")
    if not security_log.isEnabledFor(level):
        return
    extra: dict[str, Any] = {
        "event": name,
        "user_id": _safe_value("user_id", user_id),
        "tenant_id": _safe_value("tenant_id", tenant_id),
        "ip": _safe_value("ip", ip),
        "request_id": _safe_value("request_id", request_id or current_request_id()),
    }
    for key, value in fields.items():
        field = key if key not in _RECORD_ATTRS and key not in extra else f"field_{key}"
        extra[field] = _safe_value(key, value)
    security_log.log(level, "%s", name, extra=extra)


# The stream's events that are logged, by their name in the log (core/events.py).
LOGGED_EVENTS: dict[EventKind, str] = {
    EventKind.USER_CREATED: "user_created",
    EventKind.USER_DELETED: "user_deleted",
    EventKind.SIGN_IN_SUCCEEDED: "sign_in_succeeded",
    EventKind.SIGN_IN_FAILED: "sign_in_failed",
    EventKind.RATE_LIMITED: "rate_limited",
    EventKind.TOKEN_THEFT_DETECTED: "token_theft_detected",
    EventKind.SESSION_REVOKED: "session_revoked",
    EventKind.PASSWORD_CHANGED: "password_changed",
    EventKind.EMAIL_CHANGED: "email_changed",
    EventKind.PASSWORD_RESET_REQUESTED: "password_reset_requested",
    EventKind.PASSWORD_RESET_COMPLETED: "password_reset_completed",
    EventKind.EMAIL_VERIFIED: "email_verified",
    EventKind.ROLE_CHANGED: "role_changed",
    EventKind.PASSWORDLESS_CODE_SENT: "passwordless_code_sent",
}
_NOT_LOGGED_DETAILS = frozenset({"access_token_expiry"})  # bookkeeping, not what happened


def log_event(event: Event) -> None:
    """The log as a subscriber of the event stream: `security_event` for each of the
    LOGGED_EVENTS (`Doorkeep` subscribes it with `kinds=LOGGED_EVENTS`)."""
    name = LOGGED_EVENTS.get(event.kind)
    if name is None:
        return
    details = {k: v for k, v in event.details().items() if k not in _NOT_LOGGED_DETAILS}
    security_event(
        name,
        user_id=event.user_id,
        tenant_id=event.tenant_id,
        ip=event.ip,
        request_id=event.request_id,
        event_id=event.id,
        outcome=event.outcome,
        user_agent=event.user_agent,
        **details,
    )


def _safe_value(key: str, value: Any) -> str | int | float | bool | None:
    if value is None:
        return None
    if _SECRET_WORDS.intersection(key.lower().split("_")):
        return REDACTED
    if isinstance(value, bool | int | float):
        return value
    if not isinstance(value, str):
        return f"<{type(value).__name__}>"  # objects may hold secrets: only plain values
    if _JWT.search(value):
        return REDACTED
    return value if len(value) <= _MAX_VALUE else value[:_MAX_VALUE] + "..."


# --- request IDs ---------------------------------------------------------------------------


def request_id_from(headers: Mapping[str, str] | list[tuple[bytes, bytes]]) -> str:
    """The caller's X-Request-ID if it is 1-128 of [A-Za-z0-9._:-], else a new one."""
    if isinstance(headers, Mapping):
        given = headers.get("x-request-id")
    else:
        given = next((v.decode("latin-1") for k, v in headers if k == b"x-request-id"), None)
    if given is not None and _SANE_REQUEST_ID.fullmatch(given):
        return given
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """ASGI middleware: the request's ID in `request_id_var` and in the answer's header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope.get("headers", []))
        token = request_id_var.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)


class ScopeOrigin:
    """The origin (core/events.py) of the ASGI request being answered, worked out only
    when an event asks: a request that reports nothing pays one object."""

    __slots__ = ("_scope",)
    MAX_USER_AGENT = 300

    def __init__(self, scope: Scope) -> None:
        self._scope = scope

    @property
    def ip(self) -> str | None:
        client = self._scope.get("client")
        return str(client[0]) if client else None

    @property
    def user_agent(self) -> str | None:
        for name, value in self._scope.get("headers", ()):
            if name == b"user-agent":
                return str(value.decode("latin-1")[: self.MAX_USER_AGENT])
        return None

    @property
    def request_id(self) -> str | None:
        return current_request_id()


# --- one configuration ---------------------------------------------------------------------


# A query parameter whose name says it carries a secret (`token`, `linkCode`, `apiKey`, ...).
_SECRET_QUERY_VALUE = re.compile(
    r"([?&][^=&#\s]*(?:token|code|key|secret|password)[^=&#\s]*=)[^&#\s]*", re.IGNORECASE
)


def redact_query(text: str) -> str:
    """`text` with the value of every secret-named URL query parameter redacted."""
    return _SECRET_QUERY_VALUE.sub(rf"\g<1>{REDACTED}", text)


class _AccessLogRedaction(logging.Filter):
    """uvicorn's access log writes each request line whole, and an emailed reset or
    verification link carries its token in the query: redact it (issue 16)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_query(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        return True


class _RequestIdFilter(logging.Filter):
    """Every record carries the current request's ID (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = current_request_id()
        return True


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message key=value ...`, the record's extra fields appended."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = [
            f"{key}={_text_value(value)}"
            for key, value in record.__dict__.items()
            if key not in _RECORD_ATTRS and value is not None
        ]
        if not extras:
            return line
        head, newline, rest = line.partition("\n")  # fields stay on the first line
        return f"{head} {' '.join(extras)}{newline}{rest}"


def _text_value(value: Any) -> str:
    text = str(value)
    return text if re.fullmatch(r"[^\s\"=]+", text) else json.dumps(text)


def _json_formatter() -> logging.Formatter:
    from pythonjsonlogger.core import RESERVED_ATTRS
    from pythonjsonlogger.json import JsonFormatter

    return JsonFormatter(
        "%(levelname)s %(name)s %(message)s",
        timestamp="time",  # ISO 8601, UTC
        rename_fields={"levelname": "level", "name": "logger"},
        reserved_attrs=[*RESERVED_ATTRS, "color_message", "taskName"],
    )


_LEVELS = {"trace": 5, "debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}
_QUIET_LOGGERS = ("alembic", "aiosqlite", "asyncio", "httpx", "httpcore", "sqlalchemy")


def configure_logging(
    level: str = "info",
    fmt: Literal["text", "json"] = "text",
    *,
    stream: IO[str] | None = None,
) -> logging.Handler:
    """Send every logger, uvicorn's included, to one handler on `stream` (stderr).
    Libraries' chatter below WARNING shows only at debug. Returns the handler;
    calling again replaces it."""
    numeric = _LEVELS[level.lower()]
    logging.addLevelName(5, "TRACE")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(_json_formatter() if fmt == "json" else TextFormatter())
    handler.addFilter(_RequestIdFilter())
    handler.set_name("doorkeep")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "doorkeep"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi", "doorkeep"):
        logger = logging.getLogger(name)
        logger.handlers.clear()  # uvicorn's own configuration, if it ran: ours only
        logger.propagate = True
        logger.setLevel(logging.NOTSET)
    access = logging.getLogger("uvicorn.access")
    for stale in [f for f in access.filters if isinstance(f, _AccessLogRedaction)]:
        access.removeFilter(stale)
    access.addFilter(_AccessLogRedaction())  # on the logger: whichever handler writes it
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(numeric if numeric <= logging.DEBUG else logging.WARNING)
    return handler
