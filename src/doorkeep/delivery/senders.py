"""Where rendered emails go: an SMTP server, the console, or an in-memory outbox."""

from __future__ import annotations

import asyncio
import logging
import sys
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import IO, Protocol
from urllib.parse import unquote, urlsplit

import aiosmtplib

from doorkeep.delivery.messages import RenderedEmail

log = logging.getLogger("doorkeep.email")


class EmailSender(Protocol):
    async def send(self, email: RenderedEmail) -> None:
        """Deliver one email or raise (the caller retries)."""


def to_message(email: RenderedEmail, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = email.to
    message["Subject"] = email.subject
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    return message


@dataclass
class SMTPSender:
    """SMTP through aiosmtplib. URL forms: smtp://host:25, smtp+starttls://user:pass@host:587,
    smtps://user:pass@host:465."""

    url: str
    from_address: str
    timeout: float = 10.0

    async def send(self, email: RenderedEmail) -> None:
        message = to_message(email, self.from_address)
        # A header parser may read more (or other) mailboxes out of an address than the
        # one stored: quoted parts with `<>,`, encoded words. Such an address gets nothing.
        if [address.addr_spec for address in message["To"].addresses] != [email.to]:
            raise ValueError("refusing to send: the recipient is not one plain address")
        await self.deliver(message, email.to)

    async def deliver(self, message: EmailMessage, recipient: str) -> None:
        """Send `message` to `recipient` alone: the SMTP envelope names it explicitly,
        whatever the To/Cc/Bcc headers say (aiosmtplib would otherwise read them)."""
        parts = urlsplit(self.url)
        if parts.scheme not in ("smtp", "smtps", "smtp+starttls") or not parts.hostname:
            raise ValueError(f"unsupported SMTP URL scheme in {parts.scheme}://…")
        tls = parts.scheme == "smtps"
        await aiosmtplib.send(
            message,
            recipients=[recipient],
            hostname=parts.hostname,
            port=parts.port or (465 if tls else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=tls,
            start_tls=True if parts.scheme == "smtp+starttls" else (False if tls else None),
            timeout=self.timeout,
        )


@dataclass
class ConsoleSender:
    """Development default: print the email (links included) to stdout, for the developer.

    The log only says that an email went to whom: its links carry tokens, and a log
    record is shipped, kept and searched (no token in any log record; issue 16)."""

    stream: IO[str] | None = None  # default: sys.stdout at the time of sending

    async def send(self, email: RenderedEmail) -> None:
        out = self.stream or sys.stdout
        print(f"--- email to {email.to}: {email.subject}\n{email.text}\n---", file=out, flush=True)
        log.warning(
            "email to %s: %s (printed to stdout: no SMTP configured)", email.to, email.subject
        )


@dataclass
class OutboxSender:
    """Keeps emails in memory, for an application's own tests."""

    sent: list[RenderedEmail] = field(default_factory=list)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, email: RenderedEmail) -> None:
        self.sent.append(email)
        self._arrived.set()

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[RenderedEmail]:
        async with asyncio.timeout(timeout):
            while len(self.sent) < count:
                self._arrived.clear()
                await self._arrived.wait()
        return self.sent
