"""Re-authentication: prove, inside a session, that you still know the password.

Change password and change email ask for it; every form that does draws on one
per-user budget of guesses, so two forms do not guess faster than one. The
recipe's sign-in function decides, so a sign-in override applies here too.
"""

from __future__ import annotations

from doorkeep.core.common import FieldError
from doorkeep.core.context import UserContext
from doorkeep.core.emailpassword import SignInOk, WrongCredentialsError
from doorkeep.core.errors import TooManyAttemptsError
from doorkeep.flows.limits import Attempts
from doorkeep.ratelimit import counter_key
from doorkeep.recipes.emailpassword import EmailPasswordRecipe

# What a flow answers when re-authentication refuses.
ReauthenticationError = FieldError | WrongCredentialsError | TooManyAttemptsError


class Reauthentication:
    def __init__(self, emailpassword: EmailPasswordRecipe, attempts: Attempts) -> None:
        self.emailpassword = emailpassword
        self.attempts = attempts

    async def confirm_current_password(
        self,
        user_id: str,
        identifier: str | None,
        password: str,
        tenant_id: str,
        user_context: UserContext,
    ) -> WrongCredentialsError | TooManyAttemptsError | None:
        """None when `password` is the current one of the account `identifier` signs in to."""
        # Counted before the check, so parallel guesses cannot get past the limit.
        # (The key keeps its historical name: live counters stay valid across upgrades.)
        attempts = counter_key("change-password", user_id)
        refused = await self.attempts.count(
            (attempts, self.attempts.limits.change_password_per_user)
        )
        if refused is not None:
            return refused
        if identifier is None or not await self.check_current_password(
            identifier, password, tenant_id, user_context
        ):
            return WrongCredentialsError()
        await self.attempts.succeeded(attempts)
        return None

    async def check_current_password(
        self, identifier: str, password: str, tenant_id: str, user_context: UserContext
    ) -> bool:
        result = await self.emailpassword.functions.sign_in(
            identifier, password, tenant_id, user_context
        )
        return isinstance(result, SignInOk)
