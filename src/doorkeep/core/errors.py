"""Errors every layer shares: a malformed request, a dependency that cannot answer now,
and too many attempts. They live in core so that recipes, flows and the web faces can
raise and answer them without importing each other."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from doorkeep.core.common import Status


class BadRequest(Exception):
    """A request whose shape is wrong (not a field's value): answered with 400 and a message."""


class TemporaryFailure(Exception):
    """Something doorkeep depends on (a legacy provider, a mail server) cannot answer now.
    The API answers GENERAL_ERROR with this message; nothing was written."""


@dataclass(frozen=True)
class TooManyAttemptsError(Status):
    """A rate limit refused the attempt; try again after `retry_after` seconds."""

    status: ClassVar[str] = "TOO_MANY_ATTEMPTS_ERROR"
    retry_after: int  # seconds
