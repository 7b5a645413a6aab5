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


@dataclass(frozen=True)
class PasswordlessLoginEmail:
    """A sign-in code and/or magic link (SuperTokens' PASSWORDLESS_LOGIN template
    variables). The address may have no user yet: a first code signs its owner up."""

    email: str
    user_input_code: str | None  # None when the flow sends links only
    url_with_link_code: str | None  # None when the flow sends codes only
    code_lifetime: int  # milliseconds
    pre_auth_session_id: str
    tenant_id: str
    is_first_factor: bool = True
    type: str = "PASSWORDLESS_LOGIN"


EmailInput = PasswordResetEmail | EmailVerificationEmail | NoticeEmail | PasswordlessLoginEmail


@dataclass(frozen=True)
class RenderedEmail:
    to: str
    subject: str
    text: str
    html: str
