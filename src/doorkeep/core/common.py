"""Small things every core service uses: the clock, IDs, digests, result types."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import ClassVar

PUBLIC = "public"

# The email rule of the seeds (SuperTokens' default validator), plus a length cap.
_EMAIL_RE = re.compile(
    r'^(([^<>()\[\]\\.,;:\s@"]+(\.[^<>()\[\]\\.,;:\s@"]+)*)|(".+"))@'
    r"((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\])|(([a-zA-Z\-0-9]+\.)+[a-zA-Z]{2,}))$"
)
MAX_EMAIL_LENGTH = 254


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
    if len(email) > MAX_EMAIL_LENGTH or _EMAIL_RE.match(email) is None:
        return "Email is invalid"
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
