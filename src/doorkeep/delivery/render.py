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
    PasswordlessLoginEmail,
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
        if isinstance(email, PasswordlessLoginEmail):
            return self._render_passwordless(email)
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

    def _render_passwordless(self, email: PasswordlessLoginEmail) -> RenderedEmail:
        """passwordless_code, passwordless_link or passwordless_code_and_link, by what the
        flow sends."""
        if email.user_input_code is not None and email.url_with_link_code is not None:
            name = "passwordless_code_and_link"
        elif email.user_input_code is not None:
            name = "passwordless_code"
        elif email.url_with_link_code is not None:
            name = "passwordless_link"
        else:
            raise ValueError("a passwordless email needs a code, a link or both")
        subject = f"Sign in to {self.settings.app_name}"
        context = {
            "app_name": self.settings.app_name,
            "subject": subject,
            "email": email.email,
            "code": email.user_input_code,
            "link": email.url_with_link_code,
            "lifetime_minutes": max(1, email.code_lifetime // 60_000),
        }
        return RenderedEmail(
            to=email.email,
            subject=subject,
            text=self.env.get_template(f"{name}.txt").render(context),
            html=self.env.get_template(f"{name}.html").render(context),
        )
