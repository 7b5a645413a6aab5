"""A doorkeep server with passwordless on, over real HTTP: emails through a real SMTP
server (aiosmtpd) on loopback, SMS into the outbox sender. Shared by the passwordless
end-to-end, limit and SDK tests."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx

from doorkeep import Doorkeep, Settings
from doorkeep.delivery.sms import OutboxSmsSender, SmsDeliveryConfig
from doorkeep.serve.server import create_app
from doorkeep.testing import SmtpSink, email_text, free_port, serve_in_thread

T = TypeVar("T")
CODE_RE = re.compile(r"(?m)^\s*(\d{6})\b")
LINK_RE = re.compile(r"https?://\S+")


@dataclass(frozen=True)
class Message:
    to: str
    text: str

    @property
    def code(self) -> str | None:
        found = CODE_RE.search(self.text)
        return None if found is None else found.group(1)

    @property
    def link(self) -> str | None:
        found = LINK_RE.search(self.text)
        return None if found is None else found.group(0)

    def link_parts(self) -> tuple[str, str, str]:
        """(path, preAuthSessionId, linkCode) of the magic link."""
        assert self.link is not None, self.text
        parts = urlsplit(self.link)
        query = parse_qs(parts.query)
        # The link code is in the fragment only: browsers never send it, so neither a
        # server log nor a mail scanner's GET can see or spend it.
        assert set(query) == {"preAuthSessionId", "tenantId"}, self.link
        return parts.path, query["preAuthSessionId"][0], parts.fragment


@dataclass
class Stack:
    url: str
    smtp: SmtpSink
    sms: OutboxSmsSender
    settings: Settings

    def messages_to(self, to: str) -> list[Message]:
        emails = [Message(m["To"], email_text(m)) for m in self.smtp.messages if m["To"] == to]
        texts = [Message(s.to, s.body) for s in list(self.sms.sent) if s.to == to]
        return emails + texts

    def wait_for(self, to: str, count: int = 1, timeout: float = 10) -> Message:
        """The `count`-th message (email or SMS) to `to`, once it has arrived."""
        deadline = time.monotonic() + timeout
        while len(found := self.messages_to(to)) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(found)} of {count} messages to {to} arrived")
            time.sleep(0.02)
        return found[count - 1]

    def in_doorkeep(self, work: Callable[[Doorkeep], Awaitable[T]]) -> T:
        """Run `work(dk)` with doorkeep's own API on the server's database."""

        async def run() -> T:
            async with Doorkeep(Settings(database_url=self.settings.database_url)) as dk:
                return await work(dk)

        return asyncio.run(run())


def new_email() -> str:
    return f"pl-{uuid.uuid4().hex[:12]}@example.com"


def new_phone() -> str:
    """A valid San Francisco number, new on every call (E.164)."""
    return f"+14152{uuid.uuid4().int % 1_000_000:06d}"


def contact_body(kind: str, value: str) -> dict[str, str]:
    return {"email": value} if kind == "email" else {"phoneNumber": value}


def new_contact(kind: str) -> str:
    return new_email() if kind == "email" else new_phone()


@contextmanager
def passwordless_stack(
    database_url: str,
    *,
    passwordless: str = "email_or_phone",
    flow: str = "code_and_link",
    doorkeep_options: dict[str, Any] | None = None,
    **settings: Any,
) -> Iterator[Stack]:
    """Serve doorkeep on a random loopback port with passwordless on."""
    with SmtpSink() as smtp:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        values: dict[str, Any] = {
            "database_url": database_url,
            "smtp_url": smtp.url,
            "api_domain": base,
            "website_domain": base,
            "email_retry_delays": (0.2, 0.4),
            "sms_retry_delays": (0.2,),
            "passwordless": passwordless,
            "passwordless_flow": flow,
            "purge_interval_seconds": 3600,
            **settings,
        }
        configured = Settings(**values)
        sms = OutboxSmsSender()
        dk = Doorkeep(
            configured, sms_delivery=SmsDeliveryConfig(sender=sms), **(doorkeep_options or {})
        )
        with serve_in_thread(create_app(dk), port=port) as url:
            yield Stack(url, smtp, sms, configured)


def create_code(client: httpx.Client, kind: str, contact: str) -> dict[str, Any]:
    answer = client.post("/auth/signinup/code", json=contact_body(kind, contact))
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    assert body["status"] == "OK", body
    return body


def consume(client: httpx.Client, **body: str) -> httpx.Response:
    return client.post("/auth/signinup/code/consume", json=body)


def bearer(response: httpx.Response) -> dict[str, str]:
    return {"authorization": f"Bearer {response.headers['st-access-token']}"}
