"""Form fields of the emailpassword APIs: configuration and validation.

As in SuperTokens, the sign-up form has `email` and `password` plus any fields
the application adds; each field may have an async validator that returns an
error message or None, and may be optional.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from doorkeep.core.common import FieldError, email_error, username_error
from doorkeep.core.errors import BadRequest
from doorkeep.core.passwords import PasswordPolicy

Validator = Callable[[Any, str], Awaitable[str | None]]  # (value, tenant_id) -> error or None


@dataclass(frozen=True)
class FormField:
    id: str
    value: Any


@dataclass(frozen=True)
class InputFormField:
    id: str
    validate: Validator | None = None
    optional: bool = False


def parse_form_fields(body: object) -> list[FormField]:
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object")
    raw = body.get("formFields")
    if raw is None:
        raise BadRequest("Missing input param: formFields")
    if not isinstance(raw, list):
        raise BadRequest("formFields must be an array")
    fields: list[FormField] = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or "value" not in item:
            raise BadRequest("each of formFields must be an object with an id and a value")
        fields.append(FormField(item["id"], item["value"]))
    if len({f.id for f in fields}) != len(fields):
        raise BadRequest("formFields has the same id twice")
    return fields


async def default_email_validator(value: Any, _tenant_id: str) -> str | None:
    return email_error(value)


async def username_validator(value: Any, _tenant_id: str) -> str | None:
    return username_error(value)


async def username_or_email_validator(value: Any, _tenant_id: str) -> str | None:
    """Seed 004's rule for sign-in and reset: an email, or else a valid username."""
    if isinstance(value, str) and email_error(value) is None:
        return None
    return username_error(value)


def password_validator(policy: PasswordPolicy) -> Validator:
    async def validate(value: Any, _tenant_id: str) -> str | None:
        return policy.validate(value)

    return validate


async def _non_empty_string(value: Any, _tenant_id: str) -> str | None:
    if not isinstance(value, str):
        return "Field must be a string."
    return None if value else "Field is not optional"


def sign_in_fields(email_field: InputFormField) -> list[InputFormField]:
    """Sign-in checks the identifier, and the password only for being non-empty."""
    return [email_field, InputFormField("password", _non_empty_string)]


async def validate_form_fields(
    config: Sequence[InputFormField], received: Sequence[FormField], tenant_id: str
) -> list[FormField] | FieldError:
    by_id = {f.id: f for f in received}
    known = {f.id for f in config}
    unknown = [f.id for f in received if f.id not in known]
    if unknown:
        raise BadRequest(f"Are you sending too many formFields? Unknown: {', '.join(unknown[:5])}")
    errors: list[tuple[str, str]] = []
    for field in config:
        given = by_id.get(field.id)
        value = given.value if given is not None else None
        if given is None or value == "":
            if not field.optional:
                errors.append((field.id, "Field is not optional"))
            continue
        if field.id == "email" and isinstance(value, str):
            value = value.strip()
            by_id[field.id] = FormField(field.id, value)
        if field.validate is not None:
            try:
                message = await field.validate(value, tenant_id)
            except (TypeError, ValueError, AttributeError) as exc:  # a validator meeting odd input
                message = f"Invalid value: {exc}"
            if message is not None:
                errors.append((field.id, message))
        elif not isinstance(value, str):
            errors.append((field.id, "Field must be a string."))
    if errors:
        return FieldError(tuple(errors))
    return [by_id[f.id] for f in config if f.id in by_id]


PASSWORDS_DIFFER = "Passwords do not match."


def with_confirmation(
    validated: list[FormField] | FieldError, received: Sequence[FormField], confirmation: object
) -> list[FormField] | FieldError:
    """Add a repeated password that differs from `password` (a FieldError on
    `confirmPassword`) to the other problems; `confirmation` None: the form has none."""
    password = next((f.value for f in received if f.id == "password"), None)
    if confirmation is None or confirmation == password:
        return validated
    errors = validated.fields if isinstance(validated, FieldError) else ()
    return FieldError((*errors, ("confirmPassword", PASSWORDS_DIFFER)))
