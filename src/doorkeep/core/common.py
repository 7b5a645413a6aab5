"""Small things every core service uses: the clock, IDs, digests, result types."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
import unicodedata
import uuid
from dataclasses import dataclass
from typing import ClassVar

PUBLIC = "public"

# The email rule of the seeds (SuperTokens' default validator) without its quoted local
# part (`"…"@host`): a quoted part may hold `<`, `>` and `,`, and
# `"x" <attacker@evil.example>, "ceo"@bigcorp.com` then names two mailboxes in a To:
# header. Quoted local parts are refused altogether (issue 16, row 1).
_EMAIL_RE = re.compile(
    r'[^<>()\[\]\\.,;:\s@"]+(\.[^<>()\[\]\\.,;:\s@"]+)*@'
    r"((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\])|(([a-zA-Z\-0-9]+\.)+[a-zA-Z]{2,}))"
)
MAX_EMAIL_LENGTH = 254
# Control, format (zero-width, bidi overrides) and lone surrogate characters: invisible or
# unencodable in a header. `=?` opens an RFC 2047 encoded word, which header parsers decode
# into other text: `=?utf-8?q?attacker=40evil.example=2C_x?=@bigcorp.com` goes on the wire
# as `To: attacker@evil.example, x@bigcorp.com`.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})
_USERNAME_RE = re.compile(r"^[a-z0-9_-]+$")
USERNAME_LENGTH = (3, 32)


def now_ms() -> int:
    return int(time.time() * 1000)


def new_id() -> str:
    return str(uuid.uuid4())


def random_token(num_bytes: int = 32) -> str:
    """A URL-safe secret from the OS CSPRNG (32 bytes = 256 bits)."""
    return secrets.token_urlsafe(num_bytes)


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def normalise_email(email: str) -> str:
    return email.strip().lower()


def email_error(email: object) -> str | None:
    """None if `email` is a plausible address, else the message to show."""
    if not isinstance(email, str):
        return "Email must be a string."
    email = email.strip()
    if not email:
        return "Field is not optional"
    if len(email) > MAX_EMAIL_LENGTH or _EMAIL_RE.fullmatch(email) is None or "=?" in email:
        return "Email is invalid"
    if any(unicodedata.category(char) in _REFUSED_CATEGORIES for char in email):
        return "Email is invalid"
    return None


def normalise_username(username: str) -> str:
    return username.strip().lower()


def username_error(username: object) -> str | None:
    """None if `username` follows the rule (3-32 of a-z 0-9 _ -, any case), else the message."""
    if not isinstance(username, str):
        return "Username must be a string."
    value = normalise_username(username)
    shortest, longest = USERNAME_LENGTH
    if len(value) < shortest:
        return f"Usernames must be at least {shortest} characters long."
    if len(value) > longest:
        return f"Usernames must be at most {longest} characters long."
    if _USERNAME_RE.match(value) is None:
        return "Username must contain only alphanumeric, underscore or hyphen characters."
    return None


@dataclass(frozen=True)
class Status:
    """A result with a wire `status` (the CDI/FDI convention: business outcomes are values)."""

    status: ClassVar[str] = "OK"


@dataclass(frozen=True)
class FieldError(Status):
    """Input that failed validation; nothing was written. `fields`: (field id, message) pairs."""

    status: ClassVar[str] = "FIELD_ERROR"
    fields: tuple[tuple[str, str], ...]

    @classmethod
    def one(cls, field_id: str, message: str) -> FieldError:
        return cls(((field_id, message),))

    def to_json(self) -> list[dict[str, str]]:
        return [{"id": field_id, "error": message} for field_id, message in self.fields]


@dataclass(frozen=True)
class UnknownUserIdError(Status):
    status: ClassVar[str] = "UNKNOWN_USER_ID_ERROR"


@dataclass(frozen=True)
class UnknownTenantError(Status):
    status: ClassVar[str] = "TENANT_NOT_FOUND_ERROR"
