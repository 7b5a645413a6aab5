"""SMS delivery, the same shape as email: render, send in the background, retry.

`send_sms` renders the message (templates `sms_<name>.txt`, replaceable like the
email ones) and hands it to a background task that retries failed sends after
`settings.sms_retry_delays`, so an answer never waits for the SMS provider (no
timing oracle) and a provider outage does not lose the code. Override `send_sms`
as the seeds override `send_email` (e.g. to send through your own gateway).

Senders:

- `ConsoleSmsSender` (the default): prints the text to stdout, for development (the
  log says only that an SMS went to whom: a code never reaches a log record).
- `OutboxSmsSender`: keeps messages in memory, for tests.
- `TwilioSmsSender`: the official `twilio` library (`pip install 'doorkeep[twilio]'`),
  imported only when a message is first sent through it. Configure it with
  `DOORKEEP_SMS_URL=twilio://ACCOUNT_SID:AUTH_TOKEN@FROM`, FROM being the sending
  number in E.164 (`+15005550006`; write the + as %2B if your shell or tooling mangles
  it) or a Messaging Service SID (`MG…`), or in code:
  `SmsDeliveryConfig(sender=TwilioSmsSender(account_sid, auth_token, "+15005550006"))`.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import unquote, urlsplit

from jinja2 import BaseLoader, ChoiceLoader, Environment, FileSystemLoader, PackageLoader

from doorkeep.background import BackgroundTasks
from doorkeep.config import Settings
from doorkeep.recipes.base import Override, apply_override

log = logging.getLogger("doorkeep.sms")


@dataclass(frozen=True)
class PasswordlessLoginSms:
    """A sign-in code and/or magic link by SMS (SuperTokens' PASSWORDLESS_LOGIN variables)."""

    phone_number: str  # E.164
    user_input_code: str | None
    url_with_link_code: str | None
    code_lifetime: int  # milliseconds
    pre_auth_session_id: str
    tenant_id: str
    is_first_factor: bool = True
    type: str = "PASSWORDLESS_LOGIN"


@dataclass(frozen=True)
class PhoneNumberChangeSms:
    """The code that proves a new number before an account switches to it."""

    phone_number: str  # E.164, the new number
    user_input_code: str
    code_lifetime: int  # milliseconds
    tenant_id: str
    type: str = "PHONE_NUMBER_CHANGE"


SmsInput = PasswordlessLoginSms | PhoneNumberChangeSms


@dataclass(frozen=True)
class RenderedSms:
    to: str
    body: str


class SmsSender(Protocol):
    async def send(self, sms: RenderedSms) -> None:
        """Deliver one message or raise (the caller retries)."""


@dataclass
class ConsoleSmsSender:
    """Development default: print the message (codes included) to stdout; the log only
    says that an SMS went to whom (a code is a secret: never in a log record)."""

    stream: IO[str] | None = None  # default: sys.stdout at the time of sending

    async def send(self, sms: RenderedSms) -> None:
        print(f"--- SMS to {sms.to}\n{sms.body}\n---", file=self.stream or sys.stdout, flush=True)
        log.warning("SMS to %s (printed to stdout: no SMS provider configured)", sms.to)


@dataclass
class OutboxSmsSender:
    """Keeps messages in memory, for an application's own tests."""

    sent: list[RenderedSms] = field(default_factory=list)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, sms: RenderedSms) -> None:
        self.sent.append(sms)
        self._arrived.set()

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[RenderedSms]:
        async with asyncio.timeout(timeout):
            while len(self.sent) < count:
                self._arrived.clear()
                await self._arrived.wait()
        return self.sent


@dataclass
class TwilioSmsSender:
    """Twilio's Messages API through the official library (run in a worker thread: it
    is synchronous). `from_` is an E.164 number or a Messaging Service SID (MG…);
    `http_client` is passed to `twilio.rest.Client` (a proxy, or a test's stand-in)."""

    account_sid: str
    auth_token: str
    from_: str
    http_client: Any = None
    _client: Any = field(default=None, repr=False)

    async def send(self, sms: RenderedSms) -> None:
        await asyncio.to_thread(self._send, sms)

    def _send(self, sms: RenderedSms) -> None:
        if self._client is None:
            from twilio.rest import Client  # the twilio extra

            self._client = Client(self.account_sid, self.auth_token, http_client=self.http_client)
        sender = (
            {"messaging_service_sid": self.from_}
            if self.from_.startswith("MG")
            else {"from_": self.from_}
        )
        self._client.messages.create(to=sms.to, body=sms.body, **sender)


def sms_sender_from_url(url: str) -> SmsSender:
    """The sender a `DOORKEEP_SMS_URL` names: twilio://ACCOUNT_SID:AUTH_TOKEN@FROM."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "twilio":
        raise ValueError("the SMS URL must look like twilio://ACCOUNT_SID:AUTH_TOKEN@FROM")
    credentials, _, sender = parts.netloc.rpartition("@")
    sid, _, token = credentials.partition(":")
    if not sid or not token or not sender:
        raise ValueError("the SMS URL must look like twilio://ACCOUNT_SID:AUTH_TOKEN@FROM")
    # Read from the raw netloc: `hostname` would lowercase a Messaging Service SID.
    return TwilioSmsSender(unquote(sid), unquote(token), unquote(sender))


class SmsRenderer:
    """Looks for `sms_<name>.txt` in `template_dir` first, then in doorkeep's own."""

    def __init__(self, settings: Settings, template_dir: str | Path | None = None) -> None:
        self.settings = settings
        loaders: list[BaseLoader] = [PackageLoader("doorkeep", "delivery/templates")]
        if template_dir is not None:
            loaders.insert(0, FileSystemLoader(str(template_dir)))
        self.env = Environment(loader=ChoiceLoader(loaders), autoescape=False)

    def render(self, sms: SmsInput) -> RenderedSms:
        if isinstance(sms, PhoneNumberChangeSms):
            body = self.env.get_template("sms_phone_number_change.txt").render(
                app_name=self.settings.app_name,
                code=sms.user_input_code,
                lifetime_minutes=max(1, sms.code_lifetime // 60_000),
            )
            return RenderedSms(to=sms.phone_number, body=body.strip())
        if sms.user_input_code is not None and sms.url_with_link_code is not None:
            name = "passwordless_code_and_link"
        elif sms.user_input_code is not None:
            name = "passwordless_code"
        elif sms.url_with_link_code is not None:
            name = "passwordless_link"
        else:
            raise ValueError("a passwordless SMS needs a code, a link or both")
        body = self.env.get_template(f"sms_{name}.txt").render(
            app_name=self.settings.app_name,
            code=sms.user_input_code,
            link=sms.url_with_link_code,
            lifetime_minutes=max(1, sms.code_lifetime // 60_000),
        )
        return RenderedSms(to=sms.phone_number, body=body.strip())


@dataclass
class SmsDeliveryConfig:
    sender: SmsSender | None = None  # default: Twilio if settings.sms_url, else the console
    template_dir: str | Path | None = None
    override: Override[SmsDelivery] | None = None


class SmsDelivery:
    def __init__(self, settings: Settings, sender: SmsSender, renderer: SmsRenderer) -> None:
        self.settings = settings
        self.sender = sender
        self.renderer = renderer
        self.background = BackgroundTasks()
        self.failures = 0  # failed attempts to send (each retry counts), for metrics
        self.abandoned = 0  # messages given up on after the last retry

    @classmethod
    def create(cls, settings: Settings, config: SmsDeliveryConfig | None = None) -> SmsDelivery:
        config = config or SmsDeliveryConfig()
        sender = config.sender or (
            sms_sender_from_url(settings.sms_url) if settings.sms_url else ConsoleSmsSender()
        )
        delivery = cls(settings, sender, SmsRenderer(settings, config.template_dir))
        return apply_override(delivery, config.override)

    async def send_sms(self, sms: SmsInput, user_context: dict[str, Any]) -> None:
        """Render `sms` and queue it for delivery (returns at once)."""
        rendered = self.renderer.render(sms)
        self.background.spawn(self._deliver(rendered), name=f"sending an SMS to {rendered.to}")

    async def _deliver(self, sms: RenderedSms) -> None:
        delays = (0.0, *self.settings.sms_retry_delays)
        for attempt, delay in enumerate(delays, start=1):
            if delay:
                await asyncio.sleep(delay)
            try:
                await self.sender.send(sms)
                return
            except Exception as exc:  # any failure of the provider or the network is retried
                self.failures += 1
                log.warning(
                    "sending an SMS to %s failed (attempt %d of %d): %s",
                    sms.to,
                    attempt,
                    len(delays),
                    exc,
                )
        self.abandoned += 1
        log.error("gave up sending an SMS to %s", sms.to)
