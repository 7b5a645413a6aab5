"""Issue 16, row 1: an email address is one mailbox, at sign-up and on the SMTP envelope.

The old validator (the seeds' regex) took any quoted local part, so
`"x" <attacker@evil.example>, "ceo"@bigcorp.com` signed up; its To: header named two
mailboxes and aiosmtplib, reading recipients from that header, sent the verification
mail to both. Two layers now stop it:

- the validator refuses quoted local parts altogether, control and format characters,
  and RFC 2047 encoded-word openers (`=?`), which a header parser decodes into other
  addresses (`=?utf-8?q?attacker=40evil.example=2C_x?=@bigcorp.com` went on the wire as
  `To: attacker@evil.example, x@bigcorp.com`);
- the SMTP sender gives the client the stored address as the one explicit envelope
  recipient, and refuses to send when the To: header would not name exactly that address.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import httpx
import pytest

from doorkeep import Doorkeep, Settings
from doorkeep.core.common import email_error
from doorkeep.delivery.messages import RenderedEmail
from doorkeep.delivery.senders import SMTPSender, to_message
from doorkeep.serve.server import create_app
from doorkeep.testing import free_port

PASSWORD = "correct horse battery"
CRAFTED = '"x" <attacker@evil.example>, "ceo"@bigcorp.com'
ENCODED_WORD = "=?utf-8?q?attacker=40evil.example=2C_x?=@bigcorp.com"

REFUSED = [
    CRAFTED,
    '"ceo"@bigcorp.com',  # quoted local parts are refused altogether
    '"a,b"@example.com',
    '"a b"@example.com',
    '"<attacker@evil.example>"@example.com',
    ENCODED_WORD,
    "=?utf-8?b?YXR0YWNrZXJAZXZpbC5leGFtcGxl?=@example.com",
    "ada\x00@example.com",
    "ada\x1b[31m@example.com",
    "ada\x7f@example.com",
    "ada\x85@example.com",
    "ada\u202e@example.com",  # right-to-left override
    "ada\u200b@example.com",  # zero-width space
    "ada\ud800@example.com",  # a lone surrogate
    "ada@example.com\nbcc: attacker@evil.example",
]
ACCEPTED = [
    "ada@example.com",
    "ada.lovelace+tag@example.co.uk",
    "o'brien@example.com",
    "j\u00f6rg@example.com",
    "a=b?c@example.com",
    "ada@[192.0.2.1]",
]


def fields(**values: object) -> dict[str, object]:
    return {"formFields": [{"id": k, "value": v} for k, v in values.items()]}


@pytest.mark.parametrize("address", REFUSED)
def test_validator_refuses_addresses_that_are_not_one_plain_mailbox(address: str) -> None:
    """fails on main: every quoted form, the encoded words and most control characters
    were accepted. Mutant tried: putting back the `(".+")` alternative -> the quoted
    rows pass the validator and this test fails."""
    assert email_error(address) == "Email is invalid"


@pytest.mark.parametrize("address", ACCEPTED)
def test_validator_still_accepts_ordinary_addresses(address: str) -> None:
    assert email_error(address) is None


@pytest.fixture
async def fdi(database_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, Doorkeep]]:
    dk = Doorkeep(Settings(database_url=database_url, rate_limits_enabled=False))
    transport = httpx.ASGITransport(app=create_app(dk))
    async with httpx.AsyncClient(transport=transport, base_url="http://doorkeep") as http:
        yield http, dk
    await dk.close()


async def test_crafted_addresses_are_a_field_error_at_sign_up(
    fdi: tuple[httpx.AsyncClient, Doorkeep],
) -> None:
    """fails on main: the crafted address signed up (status OK, one user written)."""
    http, dk = fdi
    for address in (CRAFTED, '"ceo"@bigcorp.com', ENCODED_WORD, "ada\x00@example.com"):
        answer = await http.post("/auth/signup", json=fields(email=address, password=PASSWORD))
        assert answer.status_code == 200
        assert answer.json() == {
            "status": "FIELD_ERROR",
            "formFields": [{"id": "email", "error": "Email is invalid"}],
        }, address
    # The CDI (the backend SDKs' path to the core) refuses them too: a 400, as the core.
    over_cdi = await http.post("/recipe/signup", json={"email": CRAFTED, "password": PASSWORD})
    assert over_cdi.status_code == 400 and "Email is invalid" in over_cdi.text
    assert await dk.core.public.users.count_users() == 0


@dataclass
class EnvelopeRecorder:
    """An aiosmtpd handler that keeps each transaction's envelope recipients."""

    rcpt_tos: list[list[str]] = field(default_factory=list)
    headers_to: list[str] = field(default_factory=list)

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        self.rcpt_tos.append(list(envelope.rcpt_tos))
        raw = envelope.original_content or envelope.content
        to_line = next(line for line in raw.split(b"\r\n") if line.lower().startswith(b"to:"))
        self.headers_to.append(to_line.decode())
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[EnvelopeRecorder, str]]:
    from aiosmtpd.controller import Controller

    recorder = EnvelopeRecorder()
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield recorder, f"smtp://127.0.0.1:{port}"
    finally:
        controller.stop()


def rendered(to: str) -> RenderedEmail:
    return RenderedEmail(to=to, subject="Verify your email", text="link", html="<p>link</p>")


async def test_sender_names_the_stored_address_as_the_only_envelope_recipient(
    smtp: tuple[EnvelopeRecorder, str],
) -> None:
    """fails on main (AttributeError: no `deliver`): aiosmtplib took the recipients from
    the headers, so a To: naming two mailboxes got two RCPT TOs.
    Mutant tried: dropping `recipients=[recipient]` from SMTPSender.deliver -> the
    server records [attacker@evil.example, ceo@bigcorp.com] and this test fails."""
    recorder, url = smtp
    sender = SMTPSender(url, "doorkeep <no-reply@localhost>")
    await sender.send(rendered("ceo@bigcorp.com"))
    assert recorder.rcpt_tos == [["ceo@bigcorp.com"]]
    assert recorder.headers_to == ["To: ceo@bigcorp.com"]

    # A message whose headers were crafted (an override, a template, a stored address
    # from before this fix): the envelope still names only the address given.
    crafted: EmailMessage = to_message(rendered("ceo@bigcorp.com"), sender.from_address)
    del crafted["To"]
    crafted["To"] = CRAFTED
    crafted["Cc"] = "attacker2@evil.example"
    await sender.deliver(crafted, "ceo@bigcorp.com")
    assert recorder.rcpt_tos[1] == ["ceo@bigcorp.com"]


@pytest.mark.parametrize("stored", [CRAFTED, ENCODED_WORD, "=?utf-8?q?a?=@bigcorp.com"])
async def test_sender_refuses_an_address_its_to_header_would_change(
    smtp: tuple[EnvelopeRecorder, str], stored: str
) -> None:
    """A stored address from before the validator's fix (or one the CDI's import took):
    the To: header would name other mailboxes, so nothing is sent at all.
    fails on main: the crafted address was sent to both mailboxes.
    Mutant tried: removing the header check in SMTPSender.send -> an email goes out
    (to ['"x" <attacker@...>, ...'] or the encoded-word mailbox) and this test fails."""
    recorder, url = smtp
    sender = SMTPSender(url, "doorkeep <no-reply@localhost>")
    with pytest.raises(ValueError, match="not one plain address"):
        await sender.send(rendered(stored))
    await asyncio.sleep(0)
    assert recorder.rcpt_tos == []
