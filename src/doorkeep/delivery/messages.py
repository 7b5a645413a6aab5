"""The emails doorkeep sends, as data (SuperTokens' template-variable shapes)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EmailUser:
    id: str
    recipe_user_id: str
    email: str


@dataclass(frozen=True)
class PasswordResetEmail:
    user: EmailUser
    password_reset_link: str
    tenant_id: str
    type: str = "PASSWORD_RESET"


@dataclass(frozen=True)
class EmailVerificationEmail:
    user: EmailUser
    email_verify_link: str
    tenant_id: str
    type: str = "EMAIL_VERIFICATION"


@dataclass(frozen=True)
class NoticeEmail:
    """A notice to an account's address (password changed, email changed)."""

    user: EmailUser
    subject: str
    message: str
    tenant_id: str
    type: str = "NOTICE"


EmailInput = PasswordResetEmail | EmailVerificationEmail | NoticeEmail


@dataclass(frozen=True)
class RenderedEmail:
    to: str
    subject: str
    text: str
    html: str
