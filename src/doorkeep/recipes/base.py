"""How recipes are overridden.

As in the seeds, an override is a function that receives the original
implementation and returns the one to use, usually the same object with some
methods replaced by closures that may call the originals:

    def override(original: EmailPasswordFunctions) -> EmailPasswordFunctions:
        original_sign_up = original.sign_up

        async def sign_up(email, password, tenant_id, user_context):
            if await known_elsewhere(email):
                return EmailAlreadyExistsError()
            return await original_sign_up(email, password, tenant_id, user_context)

        original.sign_up = sign_up
        return original

Returning an instance of a subclass works as well. Every function takes a
`user_context` dict, passed unchanged through every call of one request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from doorkeep.core.context import UserContext

T = TypeVar("T")
Override = Callable[[T], T]


def apply_override(original: T, override: Override[T] | None) -> T:
    if override is None:
        return original
    result = override(original)
    if result is None:
        raise TypeError(f"{override!r} returned None: an override must return the implementation")
    return result


def context(user_context: UserContext | None) -> UserContext:
    """The user context of a call: the caller's dict, or a fresh one."""
    return {} if user_context is None else user_context
