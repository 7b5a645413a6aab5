"""Issue 16 ("never a password or token in a log record"): the development senders.

Without SMTP (or an SMS provider) doorkeep's console senders stand in for the mail: the
developer must see the link, but a log record is shipped, kept and searched, so it must
not carry the link's token (nor a passwordless code). The message goes to the console
(stdout), the log record says only that a message went to whom.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator

import httpx
import pytest

from doorkeep import Doorkeep, Settings
from doorkeep.delivery.messages import RenderedEmail
from doorkeep.delivery.senders import ConsoleSender
from doorkeep.delivery.sms import ConsoleSmsSender, RenderedSms
from doorkeep.serve.server import create_app

TOKEN = "Zm9vYmFyLXNlY3JldC10b2tlbi1vZi00My1jaGFycw"
LINK = f"https://app.example/auth/reset-password?token={TOKEN}&tenantId=public"
CODE = "482915"


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def text(self) -> str:
        """Everything a formatter could print of the records: message, args, extras."""
        return "\n".join(f"{r.getMessage()} {r.args!r} {vars(r)!r}" for r in self.records)


@pytest.fixture
def records() -> Iterator[Records]:
    handler = Records()
    logger = logging.getLogger("doorkeep")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


async def test_the_console_senders_print_the_secret_and_log_none(
    records: Records, capsys: pytest.CaptureFixture[str]
) -> None:
    """Fails before the fix: ConsoleSender logged `email.text` at WARNING (the record's
    args held the link with its token) and ConsoleSmsSender the SMS body (the code).
    Mutant tried: the email text logged at DEBUG instead — the record still carries it."""
    email = RenderedEmail(to="ada@example.com", subject="Reset", text=f"Open {LINK}", html="")
    await ConsoleSender().send(email)
    await ConsoleSmsSender().send(RenderedSms(to="+14155552671", body=f"Code {CODE}"))
    logged = records.text()
    assert TOKEN not in logged, logged
    assert CODE not in logged, logged
    printed = capsys.readouterr().out
    assert LINK in printed and CODE in printed  # the developer still gets the message
    # ...and the log still says that (and to whom) something was sent.
    messages = [r.getMessage() for r in records.records]
    assert any("ada@example.com" in m and "Reset" in m for m in messages), messages
    assert any("+14155552671" in m for m in messages), messages


async def test_a_reset_link_reaches_stdout_not_the_log(
    database_url: str, records: Records, capsys: pytest.CaptureFixture[str]
) -> None:
    """The whole way: no SMTP configured, a reset requested over HTTP."""
    async with Doorkeep(Settings(database_url=database_url)) as dk:
        await dk.emailpassword.sign_up("ada@example.com", "correct horse battery")
        transport = httpx.ASGITransport(app=create_app(dk))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            body = {"formFields": [{"id": "email", "value": "ada@example.com"}]}
            await client.post("/auth/user/password/reset/token", json=body)
        await dk.background.drain()
        await dk.email_delivery.background.drain()
    found = re.search(r"reset-password\?token=([A-Za-z0-9_-]+)", capsys.readouterr().out)
    assert found is not None
    assert found.group(1) not in records.text()


async def test_a_console_sender_prints_where_it_is_told() -> None:
    out = io.StringIO()
    await ConsoleSender(stream=out).send(RenderedEmail("a@example.com", "Hi", LINK, ""))
    await ConsoleSmsSender(stream=out).send(RenderedSms(to="+14155552671", body=CODE))
    assert LINK in out.getvalue() and CODE in out.getvalue()
