"""The secrets of a passwordless sign-in and the contacts they go to.

A sign-in attempt is a *device*: the browser keeps its device ID (32 random bytes,
standard base64, as SuperTokens' core issues it) and the database keeps only its
SHA-256, which is also the attempt's public name, the preAuthSessionId (URL-safe
base64 without padding: it travels in the magic link's query).

Each code sent to a device has a user-input code (six digits by default) and a link
code (256 random bits). The link code is stored as its SHA-256. Six digits are only
a million guesses, so a bare digest of them would fall to a table lookup: the
user-input code is stored as an HMAC-SHA256 keyed by the device ID, which the
database never sees.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from enum import StrEnum
from typing import TypeGuard

import phonenumbers

from doorkeep.core.common import email_error, normalise_email

USER_INPUT_CODE_DIGITS = 6
MAX_SECRET_LENGTH = 256  # longer device IDs, link codes or user-input codes are not ours
MAX_PHONE_INPUT_LENGTH = 64


class ContactMethod(StrEnum):
    EMAIL = "EMAIL"
    PHONE = "PHONE"
    EMAIL_OR_PHONE = "EMAIL_OR_PHONE"


class FlowType(StrEnum):
    USER_INPUT_CODE = "USER_INPUT_CODE"
    MAGIC_LINK = "MAGIC_LINK"
    USER_INPUT_CODE_AND_MAGIC_LINK = "USER_INPUT_CODE_AND_MAGIC_LINK"

    @property
    def sends_code(self) -> bool:
        return self is not FlowType.MAGIC_LINK

    @property
    def sends_link(self) -> bool:
        return self is not FlowType.USER_INPUT_CODE


# The settings' spellings (DOORKEEP_PASSWORDLESS, DOORKEEP_PASSWORDLESS_FLOW).
CONTACT_SETTINGS = {
    "email": ContactMethod.EMAIL,
    "phone": ContactMethod.PHONE,
    "email_or_phone": ContactMethod.EMAIL_OR_PHONE,
}
FLOW_SETTINGS = {
    "code": FlowType.USER_INPUT_CODE,
    "link": FlowType.MAGIC_LINK,
    "code_and_link": FlowType.USER_INPUT_CODE_AND_MAGIC_LINK,
}


# -- contacts ------------------------------------------------------------------------------------


def phone_number_error(value: object) -> str | None:
    """None if `value` is a valid international phone number, else the message to show."""
    return None if normalise_phone_number(value) is not None else "Phone number is invalid"


def normalise_phone_number(value: object, default_region: str | None = None) -> str | None:
    """`value` in E.164 (+14155552671), or None if it is not a valid number.

    Without `default_region` the number must be international (start with +).
    """
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_PHONE_INPUT_LENGTH:
        return None
    try:
        parsed = phonenumbers.parse(value.strip(), default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalise_contact_email(value: object) -> str | None:
    """The email as doorkeep stores it, or None if it is not a plausible address."""
    if email_error(value) is not None:
        return None
    assert isinstance(value, str)
    return normalise_email(value)


# -- secrets -------------------------------------------------------------------------------------


def new_device_id() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def device_id_hash(device_id: object) -> str | None:
    """The preAuthSessionId of a device ID, or None if `device_id` is not one."""
    if not isinstance(device_id, str) or not device_id or len(device_id) > MAX_SECRET_LENGTH:
        return None
    try:
        raw = base64.b64decode(device_id, validate=True)
    except (binascii.Error, ValueError):
        return None
    if not raw:
        return None
    return base64.urlsafe_b64encode(hashlib.sha256(raw).digest()).decode().rstrip("=")


def new_user_input_code(digits: int = USER_INPUT_CODE_DIGITS) -> str:
    return f"{secrets.randbelow(10**digits):0{digits}d}"


def new_link_code() -> str:
    return secrets.token_urlsafe(32)  # 256 bits


def user_input_code_hash(device_id: str, user_input_code: str) -> str:
    key = base64.b64decode(device_id)
    return hmac.new(key, user_input_code.encode(), hashlib.sha256).hexdigest()


def link_code_hash(link_code: str) -> str:
    return hashlib.sha256(link_code.encode()).hexdigest()


def is_secret(value: object) -> TypeGuard[str]:
    """Whether `value` could be a code of ours (a non-empty string of sane length)."""
    return isinstance(value, str) and 0 < len(value) <= MAX_SECRET_LENGTH
