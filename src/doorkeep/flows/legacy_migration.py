"""Just-in-time migration from a legacy identity provider (seed 001), built in.

Users move over one at a time, on their first sign-in or password reset:
- sign-up is refused for emails the legacy provider knows (they should sign in);
- a first sign-in with valid legacy credentials creates the user with that password,
  maps the legacy user ID (sessions and every API use it from then on) and carries
  over email verification;
- a password reset for an unmigrated user creates the account with a random
  temporary password flagged `isUsingTemporaryPassword`, then sends the reset email;
  a completed reset clears the flag; the temporary password never signs in, but the
  legacy password does (and becomes the account's password) while a reset is pending.
The legacy provider is asked only for users not migrated yet. If it cannot be
reached, sign-in and reset fail closed with GENERAL_ERROR and create nothing.
"""

from __future__ import annotations

import secrets
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import httpx
from sqlalchemy.exc import IntegrityError

from doorkeep.core.bulk_import import ImportedUser, insert_users
from doorkeep.core.common import normalise_email
from doorkeep.core.context import UserContext
from doorkeep.core.emailpassword import (
    EmailAlreadyExistsError,
    SignInOk,
    WrongCredentialsError,
)
from doorkeep.core.errors import TemporaryFailure
from doorkeep.core.passwordreset import ResetTokenConsumed
from doorkeep.core.users import User

if TYPE_CHECKING:
    from doorkeep.app import Doorkeep

TEMPORARY_PASSWORD_FLAG = "isUsingTemporaryPassword"


@dataclass(frozen=True)
class LegacyUser:
    user_id: str
    email_verified: bool


class LegacyProviderUnavailable(TemporaryFailure):
    def __init__(self, detail: str) -> None:
        super().__init__("Signing in is temporarily unavailable. Please try again later.")
        self.detail = detail


class LegacyProvider(Protocol):
    async def find_user(self, email: str) -> LegacyUser | None: ...

    async def verify_credentials(self, email: str, password: str) -> LegacyUser | None: ...


class HttpLegacyProvider:
    """`POST {url}/lookup {"email"}` → 200 {userId, emailVerified} or 404;
    `POST {url}/verify {"email","password"}` → 200 {userId, emailVerified} or 401."""

    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    async def find_user(self, email: str) -> LegacyUser | None:
        return await self._call("lookup", {"email": email}, not_found=404)

    async def verify_credentials(self, email: str, password: str) -> LegacyUser | None:
        return await self._call("verify", {"email": email, "password": password}, not_found=401)

    async def _call(self, path: str, body: dict[str, str], *, not_found: int) -> LegacyUser | None:
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.post(f"{self.url}/{path}", json=body)
        except httpx.HTTPError as exc:  # timeouts, refused connections, broken responses
            raise LegacyProviderUnavailable(f"{path}: {exc!r}") from exc
        if response.status_code == not_found:
            return None
        if response.status_code != 200:
            raise LegacyProviderUnavailable(f"{path}: HTTP {response.status_code}")
        try:
            data = response.json()
            user_id, verified = data["userId"], data.get("emailVerified", False)
        except (ValueError, KeyError, TypeError) as exc:
            raise LegacyProviderUnavailable(f"{path}: malformed answer") from exc
        if not isinstance(user_id, str) or not user_id or not isinstance(verified, bool):
            raise LegacyProviderUnavailable(f"{path}: malformed answer")
        return LegacyUser(user_id, verified)


class LegacyMigration:
    """Wraps the emailpassword functions and API handlers (the seeds' overrides), so
    other overrides still apply beneath. Override a method to change a step."""

    def __init__(self, dk: Doorkeep, provider: LegacyProvider) -> None:
        self.dk = dk
        self.provider = provider

    def install(self) -> None:
        functions = self.dk.emailpassword.functions
        apis = self.dk.web.emailpassword
        original_sign_up, original_sign_in = functions.sign_up, functions.sign_in
        original_reset_token = apis.generate_password_reset_token_post
        original_reset = apis.password_reset_post

        async def sign_up(email: str, password: str, tenant_id: str, ctx: UserContext) -> Any:
            known_here = await functions.get_user_by_email(email, tenant_id, ctx)
            if known_here is None and await self.provider.find_user(email) is not None:
                return EmailAlreadyExistsError()  # step 1: they should sign in instead
            return await original_sign_up(email, password, tenant_id, ctx)

        async def sign_in(email: str, password: str, tenant_id: str, ctx: UserContext) -> Any:
            return await self.sign_in(original_sign_in, email, password, tenant_id, ctx)

        async def reset_token_post(
            form_fields: Any, tenant_id: str, options: Any, ctx: UserContext
        ) -> Any:
            email = next((str(f.value) for f in form_fields if f.id == "email"), "")
            await self.prepare_reset(email, tenant_id, ctx)
            return await original_reset_token(form_fields, tenant_id, options, ctx)

        async def reset_post(
            form_fields: Any, token: str, tenant_id: str, options: Any, ctx: UserContext
        ) -> Any:
            result = await original_reset(form_fields, token, tenant_id, options, ctx)
            if isinstance(result, ResetTokenConsumed):  # step 4: a real password now
                await self.dk.usermetadata.update_user_metadata(
                    result.user_id, {TEMPORARY_PASSWORD_FLAG: None}, ctx
                )
            return result

        functions.sign_up = sign_up  # type: ignore[method-assign]
        functions.sign_in = sign_in  # type: ignore[method-assign]
        apis.generate_password_reset_token_post = reset_token_post  # type: ignore[method-assign]
        apis.password_reset_post = reset_post  # type: ignore[method-assign]

    async def sign_in(
        self, original: Any, email: str, password: str, tenant_id: str, ctx: UserContext
    ) -> Any:
        local = await self.dk.emailpassword.functions.get_user_by_email(email, tenant_id, ctx)
        if local is None:  # step 2: not migrated yet
            legacy = await self.provider.verify_credentials(email, password)
            if legacy is None:
                return WrongCredentialsError()
            user = await self.migrate(email, password, legacy, tenant_id, ctx)
            return SignInOk(user, user.id)
        metadata = await self.dk.usermetadata.get_user_metadata(local.id, ctx)
        if metadata.get(TEMPORARY_PASSWORD_FLAG):  # step 5: a reset is pending
            legacy = await self.provider.verify_credentials(email, password)
            if legacy is None:
                return WrongCredentialsError()  # the temporary password never signs in
            await self.dk.core.public.emailpassword.update_email_or_password(
                local.id, password=password, apply_password_policy=False
            )
            await self.dk.usermetadata.update_user_metadata(
                local.id, {TEMPORARY_PASSWORD_FLAG: None}, ctx
            )
        return await original(email, password, tenant_id, ctx)

    async def prepare_reset(self, email: str, tenant_id: str, ctx: UserContext) -> None:
        """Step 3: an unmigrated user who forgot their password gets an account to reset."""
        if await self.dk.emailpassword.functions.get_user_by_email(email, tenant_id, ctx):
            return
        legacy = await self.provider.find_user(email)
        if legacy is not None:
            await self.migrate(
                email, self.temporary_password(), legacy, tenant_id, ctx, temporary=True
            )

    async def migrate(
        self,
        email: str,
        password: str,
        legacy: LegacyUser,
        tenant_id: str,
        ctx: UserContext,
        *,
        temporary: bool = False,
    ) -> User:
        """Create the user with the legacy ID mapped, verification carried and (for a
        reset) the temporary-password flag — in one transaction: all or nothing."""
        core = self.dk.core.public
        # The legacy provider accepted this password; import it as it is (its policy ruled).
        stored = await core.ctx.hasher.hash(password)
        user = ImportedUser(
            tenant_id=tenant_id,
            email=normalise_email(email),
            password_hash=stored,
            external_user_id=legacy.user_id,
            email_verified=legacy.email_verified,
            metadata={TEMPORARY_PASSWORD_FLAG: True} if temporary else None,
        )
        # A concurrent first sign-in of the same user may have made it: then use theirs.
        with suppress(IntegrityError):
            await insert_users(core.ctx, [user])
        migrated = await core.users.get_user(legacy.user_id)
        if migrated is None or user.email not in migrated.emails:
            # The legacy ID belongs to another account here: never sign in as that one.
            raise LegacyProviderUnavailable(f"could not create {email}")
        return migrated

    def temporary_password(self) -> str:
        return secrets.token_urlsafe(32)
