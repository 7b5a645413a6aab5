"""Email delivery: render, send, and retry failed sends in the background.

Endpoints never wait for an SMTP server: `send_email` renders the message and
hands it to a background task that retries with backoff (settings
`email_retry_delays`), so a slow or failing server neither delays an answer
(no timing oracle) nor loses the email while it comes back.

Override `send_email` the way the seeds do, e.g. to change the recipient:

    def override(original: EmailDelivery) -> EmailDelivery:
        original_send = original.send_email

        async def send_email(email, user_context):
            real = await lookup_real_address(email.user.id)
            user = dataclasses.replace(email.user, email=real)
            return await original_send(dataclasses.replace(email, user=user), user_context)

        original.send_email = send_email
        return original
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from doorkeep.background import BackgroundTasks
from doorkeep.config import Settings
from doorkeep.delivery.messages import (
    EmailInput,
    EmailUser,
    EmailVerificationEmail,
    NoticeEmail,
    PasswordlessLoginEmail,
    PasswordResetEmail,
    RenderedEmail,
)
from doorkeep.delivery.render import EmailRenderer
from doorkeep.delivery.senders import ConsoleSender, EmailSender, OutboxSender, SMTPSender
from doorkeep.recipes.base import Override, apply_override

__all__ = [
    "ConsoleSender",
    "EmailDelivery",
    "EmailDeliveryConfig",
    "EmailInput",
    "EmailSender",
    "EmailUser",
    "EmailVerificationEmail",
    "NoticeEmail",
    "OutboxSender",
    "PasswordResetEmail",
    "PasswordlessLoginEmail",
    "RenderedEmail",
    "SMTPSender",
]

log = logging.getLogger("doorkeep.email")


@dataclass
class EmailDeliveryConfig:
    sender: EmailSender | None = None  # default: SMTP if settings.smtp_url, else the console
    template_dir: str | Path | None = None
    override: Override[EmailDelivery] | None = None


class EmailDelivery:
    def __init__(self, settings: Settings, sender: EmailSender, renderer: EmailRenderer) -> None:
        self.settings = settings
        self.sender = sender
        self.renderer = renderer
        self.background = BackgroundTasks()
        self.failures = 0  # failed attempts to send (each retry counts), for metrics
        self.abandoned = 0  # emails given up on after the last retry

    @classmethod
    def create(cls, settings: Settings, config: EmailDeliveryConfig | None = None) -> EmailDelivery:
        config = config or EmailDeliveryConfig()
        sender = config.sender or (
            SMTPSender(settings.smtp_url, settings.email_from)
            if settings.smtp_url
            else ConsoleSender()
        )
        delivery = cls(settings, sender, EmailRenderer(settings, config.template_dir))
        return apply_override(delivery, config.override)

    async def send_email(self, email: EmailInput, user_context: dict[str, Any]) -> None:
        """Render `email` and queue it for delivery (returns at once)."""
        rendered = self.renderer.render(email)
        self.background.spawn(self._deliver(rendered), name=f"sending {rendered.subject!r}")

    async def _deliver(self, email: RenderedEmail) -> None:
        delays = (0.0, *self.settings.email_retry_delays)
        for attempt, delay in enumerate(delays, start=1):
            if delay:
                await asyncio.sleep(delay)
            try:
                await self.sender.send(email)
                return
            except Exception as exc:  # any failure of the server or the network is retried
                self.failures += 1
                log.warning(
                    "sending %r to %s failed (attempt %d of %d): %s",
                    email.subject,
                    email.to,
                    attempt,
                    len(delays),
                    exc,
                )
        self.abandoned += 1
        log.error("gave up sending %r to %s", email.subject, email.to)
