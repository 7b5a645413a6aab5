"""Rendering emails from Jinja2 templates (HTML and plain text), replaceable per application."""

from __future__ import annotations

from pathlib import Path

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    select_autoescape,
)

from doorkeep.config import Settings
from doorkeep.delivery.messages import (
    EmailInput,
    EmailVerificationEmail,
    NoticeEmail,
    PasswordResetEmail,
    RenderedEmail,
)


class EmailRenderer:
    """Looks for templates in `template_dir` first, then in doorkeep's own."""

    def __init__(self, settings: Settings, template_dir: str | Path | None = None) -> None:
        self.settings = settings
        loaders: list[BaseLoader] = [PackageLoader("doorkeep", "delivery/templates")]
        if template_dir is not None:
            loaders.insert(0, FileSystemLoader(str(template_dir)))
        self.env = Environment(
            loader=ChoiceLoader(loaders), autoescape=select_autoescape(["html"]), enable_async=False
        )

    def render(self, email: EmailInput) -> RenderedEmail:
        app = self.settings.app_name
        if isinstance(email, PasswordResetEmail):
            name, subject, link = (
                "password_reset",
                f"Reset your {app} password",
                email.password_reset_link,
            )
        elif isinstance(email, EmailVerificationEmail):
            name, subject, link = (
                "email_verification",
                f"Verify your email for {app}",
                email.email_verify_link,
            )
        elif isinstance(email, NoticeEmail):
            name, subject, link = "notice", email.subject, ""
        else:  # pragma: no cover - the union is closed
            raise TypeError(f"cannot render {type(email).__name__}")
        context = {
            "app_name": app,
            "subject": subject,
            "link": link,
            "email": email.user.email,
            "message": getattr(email, "message", ""),
            "lifetime_minutes": self.settings.password_reset_token_lifetime // 60,
        }
        return RenderedEmail(
            to=email.user.email,
            subject=subject,
            text=self.env.get_template(f"{name}.txt").render(context),
            html=self.env.get_template(f"{name}.html").render(context),
        )
