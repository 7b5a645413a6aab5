"""Issue 16's log check: a failed sign-in, a 429, a detected token theft and a password
change each leave one `doorkeep.security` record with who, where and which request —
and no record holds the password or a token.

Failed on SQLite before the fix beside it: a refresh's unit of work ran on the SQLite
thread without the request's context, so the theft record had no IP or request ID.

Mutant tried: `log_event` unsubscribed from the stream in `Doorkeep.__init__` — every
assertion on the four records fails."""

from __future__ import annotations

import logging

import pytest

from doorkeep import Doorkeep
from doorkeep.core.emailpassword import SignUpOk, UpdateOk
from doorkeep.core.events import RequestOrigin, origin
from doorkeep.core.session_models import NewSession, TokenTheftDetectedError
from doorkeep.ratelimit import Limit, counter_key

PASSWORD = "correct horse battery"
NEW_PASSWORD = "a brand new passphrase"
IP, AGENT, REQUEST = "198.51.100.23", "pytest-agent/1", "req-sec-16"


def security_records(caplog: pytest.LogCaptureFixture, name: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "doorkeep.security" and r.getMessage() == name]


async def test_security_events_are_logged_with_their_fields(
    dk: Doorkeep, caplog: pytest.LogCaptureFixture
) -> None:
    ada = await dk.emailpassword.sign_up("ada@example.com", PASSWORD)
    assert isinstance(ada, SignUpOk)
    user_id = ada.user.id
    caplog.clear()
    with (
        caplog.at_level(logging.INFO, logger="doorkeep.security"),
        origin(RequestOrigin(IP, AGENT, REQUEST)),
    ):
        await dk.emailpassword.sign_in("ada@example.com", "not her password")
        check = (counter_key("sign-in-ip", IP), Limit(1, 60))
        assert await dk.limiter.attempt(check) is None
        assert await dk.limiter.attempt(check) is not None  # the 429
        first = await dk.session.create_new_session(user_id)
        second = await dk.session.refresh_session(first.refresh_token.token)
        assert isinstance(second, NewSession)
        await dk.session.refresh_session(second.refresh_token.token)
        theft = await dk.session.refresh_session(first.refresh_token.token)
        assert isinstance(theft, TokenTheftDetectedError)
        changed = await dk.emailpassword.update_email_or_password(user_id, password=NEW_PASSWORD)
        assert isinstance(changed, UpdateOk)

    failed = security_records(caplog, "sign_in_failed")
    limited = security_records(caplog, "rate_limited")
    stolen = security_records(caplog, "token_theft_detected")
    password = security_records(caplog, "password_changed")
    assert [len(failed), len(limited), len(stolen), len(password)] == [1, 1, 1, 1]
    for record in (failed[0], stolen[0], password[0]):
        fields = record.__dict__
        assert fields["user_id"] == user_id
        assert (fields["ip"], fields["request_id"]) == (IP, REQUEST)
    assert failed[0].__dict__["tenant_id"] == "public"
    assert (limited[0].__dict__["ip"], limited[0].__dict__["request_id"]) == (IP, REQUEST)
    assert failed[0].levelno >= logging.INFO and stolen[0].levelno == logging.WARNING

    secrets = {PASSWORD, NEW_PASSWORD, first.refresh_token.token, first.access_token.token}
    secrets |= {second.refresh_token.token, second.access_token.token}
    for record in caplog.records:
        text = record.getMessage() + " " + " ".join(str(v) for v in record.__dict__.values())
        assert not any(secret in text for secret in secrets), record.__dict__
