"""Logs (issue 16, part 3): one configuration for doorkeep and uvicorn, as text or JSON;
console emails through it; security events with their fields, never a secret; the
request ID from `X-Request-ID` (when sane) in every record of the request."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from doorkeep.delivery.messages import RenderedEmail
from doorkeep.delivery.senders import ConsoleSender
from doorkeep.logs import (
    REDACTED,
    SECURITY_EVENTS,
    RequestIdMiddleware,
    configure_logging,
    request_id_var,
    security_event,
)
from doorkeep.testing import serve_in_thread

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhZGEifQ.c2lnbmF0dXJl"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    named = {n: logging.getLogger(n).level for n in ("doorkeep", "uvicorn.access", "alembic")}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, old in named.items():
        logging.getLogger(name).setLevel(old)


def security_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "doorkeep.security"]


def test_security_event_fields_and_levels(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="doorkeep.security")
    token = request_id_var.set("req-42")
    try:
        security_event(
            "sign_in_failed", user_id="u-1", tenant_id="public", ip="203.0.113.9", reason="WRONG"
        )
        security_event("sign_in_succeeded", user_id="u-1", tenant_id="public", ip="203.0.113.9")
    finally:
        request_id_var.reset(token)
    security_event("rate_limited", ip="203.0.113.9", request_id="given", limit="sign_in", n=6)
    failed, succeeded, limited = security_records(caplog)
    assert (failed.levelno, succeeded.levelno, limited.levelno) == (30, 20, 30)
    assert failed.getMessage() == "sign_in_failed"
    for field, value in {
        "event": "sign_in_failed",
        "user_id": "u-1",
        "tenant_id": "public",
        "ip": "203.0.113.9",
        "request_id": "req-42",  # from the request being answered
        "reason": "WRONG",
    }.items():
        assert getattr(failed, field) == value, field
    assert (limited.request_id, limited.limit, limited.n, limited.user_id) == (
        "given",
        "sign_in",
        6,
        None,
    )
    assert set(SECURITY_EVENTS.values()) <= {logging.INFO, logging.WARNING}
    with pytest.raises(ValueError, match="unknown security event"):
        security_event("sign_in_faild")


def test_a_secret_cannot_be_logged_by_accident(caplog: pytest.LogCaptureFixture) -> None:
    """Mutant tried: `_safe_value` returning values as given -> every assert below fails."""
    caplog.set_level(logging.INFO, logger="doorkeep.security")
    security_event(
        "password_changed",
        user_id="u-1",
        password="correct horse battery",
        new_password="another passphrase",
        refresh_token="r-token",
        api_key="k" * 32,
        password_hash="$argon2id$v=19$...",
        note=f"Bearer {JWT}",  # a token in a harmless-looking field
        user=object(),  # objects may carry secrets: only their type is logged
        name="clash",  # a LogRecord attribute: kept, renamed
    )
    (record,) = security_records(caplog)
    for field in ("password", "new_password", "refresh_token", "api_key", "password_hash", "note"):
        assert getattr(record, field) == REDACTED, field
    assert record.user == "<object>" and record.field_name == "clash"
    everything = json.dumps(record.__dict__, default=str)
    for secret in ("correct horse", "another passphrase", "r-token", "k" * 32, "argon2id", JWT):
        assert secret not in everything


def test_request_id_reaches_events_and_the_answer_over_http(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="doorkeep.security")

    async def limited(request: Request) -> Response:
        security_event("rate_limited", ip=request.client.host if request.client else None)
        return PlainTextResponse("slow down", status_code=429)

    app = RequestIdMiddleware(Starlette(routes=[Route("/limited", limited)]))
    with serve_in_thread(app) as url, httpx.Client(base_url=url) as client:
        given = client.get("/limited", headers={"x-request-id": "edge-1f2e"})
        made = client.get("/limited", headers={"x-request-id": "not sane\tat all"})
    first, second = security_records(caplog)
    assert given.headers["x-request-id"] == first.request_id == "edge-1f2e"
    assert made.headers["x-request-id"] == second.request_id != "not sane\tat all"
    assert first.ip == "127.0.0.1"


def test_one_configuration_for_doorkeep_and_uvicorn_text_and_json() -> None:
    stream = io.StringIO()
    configure_logging("info", "text", stream=stream)
    logging.getLogger("uvicorn.access").info('%s - "GET /health HTTP/1.1" %d', "1.2.3.4:5", 200)
    logging.getLogger("doorkeep.fdi").info("fdi says %s", "hi")
    security_event("user_created", user_id="u-2", tenant_id="public")
    text = stream.getvalue().splitlines()
    assert len(text) == 3
    assert text[0].endswith('INFO uvicorn.access: 1.2.3.4:5 - "GET /health HTTP/1.1" 200')
    assert text[1].endswith("INFO doorkeep.fdi: fdi says hi")
    assert "doorkeep.security: user_created event=user_created user_id=u-2" in text[2]

    stream = io.StringIO()
    configure_logging("WARNING", "json", stream=stream)  # --log-level reaches both
    logging.getLogger("uvicorn.access").info("hidden")
    logging.getLogger("doorkeep.fdi").info("hidden")
    logging.getLogger("uvicorn.error").warning("shown")
    security_event("token_theft_detected", user_id="u-2", session_handle="h-1")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(line["logger"], line["level"]) for line in lines] == [
        ("uvicorn.error", "WARNING"),
        ("doorkeep.security", "WARNING"),
    ]
    theft = lines[1]
    assert theft["message"] == "token_theft_detected" and theft["session_handle"] == "h-1"
    assert theft["user_id"] == "u-2" and "time" in theft and "request_id" in theft
    ours = [h for h in logging.getLogger().handlers if h.get_name() == "doorkeep"]
    assert len(ours) == 1  # configuring again replaced the handler


async def test_console_emails_go_through_the_configuration() -> None:
    stream = io.StringIO()
    configure_logging("info", "json", stream=stream)
    email = RenderedEmail(
        to="ada@example.com", subject="Verify", text="https://x/verify?t=1", html=""
    )
    printed = io.StringIO()
    await ConsoleSender(stream=printed).send(email)
    (line,) = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert line["logger"] == "doorkeep.email" and "ada@example.com" in line["message"]
    # The link (and its token) is printed for the developer, never logged (issue 16).
    assert "https://x/verify?t=1" in printed.getvalue() and "verify" not in line["message"]
