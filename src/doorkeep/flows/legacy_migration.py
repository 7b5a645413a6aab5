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
The legacy provider is asked only for users not migrated yet, only in tenants that
exist (elsewhere every request is answered as without a provider), and always about
the email as doorkeep stores it (trimmed, lower-cased), so a case variant can neither
squat a legacy user's address nor block their migration. If it cannot be reached,
sign-in fails closed with GENERAL_ERROR and creates nothing. A reset request is
answered OK at once, whatever the provider says or how long it takes: the lookup, the
migration and the email happen after the answer (checklist item 25).

The migration is composed where the app is built: `extend_functions` and
`extend_apis` are given to the emailpassword recipe, which applies them to its own
implementation before the app's overrides (which then wrap the migrating one).
"""

from __future__ import annotations

import secrets
from contextlib import suppress
from dataclasses import dataclass
from typing import Protocol

import httpx
from sqlalchemy.exc import IntegrityError

from doorkeep.background import BackgroundTasks
from doorkeep.core.bulk_import import ImportedUser, insert_users
from doorkeep.core.common import FieldError, normalise_email
from doorkeep.core.context import UserContext
from doorkeep.core.emailpassword import (
    EmailAlreadyExistsError,
    SignInOk,
    SignUpResult,
    WrongCredentialsError,
)
from doorkeep.core.errors import TemporaryFailure
from doorkeep.core.passwordreset import InvalidResetTokenError, ResetTokenConsumed
from doorkeep.core.services import AppCore
from doorkeep.core.tenants import tenant_exists
from doorkeep.core.users import User
from doorkeep.recipes.apis import APIOptions, GeneralError
from doorkeep.recipes.emailpassword import EmailPasswordConfig, EmailPasswordRecipe
from doorkeep.recipes.emailpassword.apis import EmailPasswordApis
from doorkeep.recipes.emailpassword.forms import FormField
from doorkeep.recipes.emailpassword.functions import EmailPasswordFunctions, SignInResult
from doorkeep.recipes.session import SessionRecipe
from doorkeep.recipes.usermetadata import UserMetadataRecipe

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
    """The migration's steps; override a method (FlowsConfig) to change one. The recipe
    calls them through `MigratingFunctions` and `MigratingApis`."""

    def __init__(
        self, provider: LegacyProvider, core: AppCore, usermetadata: UserMetadataRecipe
    ) -> None:
        self.provider = provider
        self.core = core
        self.usermetadata = usermetadata

    def extend_functions(self, original: EmailPasswordFunctions) -> EmailPasswordFunctions:
        """For the recipe's `extend_functions`: it hands over its own implementation."""
        return MigratingFunctions(original.core, self)

    def extend_apis(self, original: EmailPasswordApis) -> EmailPasswordApis:
        return MigratingApis(original.recipe, original.session_recipe, original.background, self)

    async def refuses_sign_up(
        self, functions: EmailPasswordFunctions, email: str, tenant_id: str, ctx: UserContext
    ) -> bool:
        """Step 1: an email the legacy provider knows signs in instead (it migrates then)."""
        email = normalise_email(email)
        if await functions.get_user_by_email(email, tenant_id, ctx) is not None:
            return False
        if not await self.tenant_exists(tenant_id):
            return False  # the sign-up itself answers "Tenant not found"
        return await self.provider.find_user(email) is not None

    async def tenant_exists(self, tenant_id: str) -> bool:
        """Only a tenant that exists gets migrated users (and sessions for them)."""
        return await tenant_exists(self.core.ctx, tenant_id)

    async def sign_in(
        self,
        functions: EmailPasswordFunctions,
        email: str,
        password: str,
        tenant_id: str,
        ctx: UserContext,
    ) -> SignInResult | None:
        """Steps 2 and 5: the result, or None to sign in as usual (with the local password)."""
        email = normalise_email(email)
        local = await functions.get_user_by_email(email, tenant_id, ctx)
        if local is None:  # step 2: not migrated yet
            if not await self.tenant_exists(tenant_id):
                return None  # no such tenant: the usual sign-in finds nobody there
            legacy = await self.provider.verify_credentials(email, password)
            if legacy is None:
                return WrongCredentialsError()
            user = await self.migrate(email, password, legacy, tenant_id, ctx)
            return SignInOk(user, user.id)
        metadata = await self.usermetadata.get_user_metadata(local.id, ctx)
        if metadata.get(TEMPORARY_PASSWORD_FLAG):  # step 5: a reset is pending
            legacy = await self.provider.verify_credentials(email, password)
            if legacy is None:
                return WrongCredentialsError()  # the temporary password never signs in
            await self.core.emailpassword.update_email_or_password(
                local.id, password=password, apply_password_policy=False
            )
            await self.usermetadata.update_user_metadata(
                local.id, {TEMPORARY_PASSWORD_FLAG: None}, ctx
            )
        return None

    async def reset_completed(self, result: ResetTokenConsumed, ctx: UserContext) -> None:
        """Step 4: a real password now."""
        await self.usermetadata.update_user_metadata(
            result.user_id, {TEMPORARY_PASSWORD_FLAG: None}, ctx
        )

    async def prepare_reset(
        self, functions: EmailPasswordFunctions, email: str, tenant_id: str, ctx: UserContext
    ) -> None:
        """Step 3: an unmigrated user who forgot their password gets an account to reset.
        Runs after the reset request was answered (MigratingApis)."""
        email = normalise_email(email)
        if await functions.get_user_by_email(email, tenant_id, ctx):
            return
        if not await self.tenant_exists(tenant_id):
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
        core = self.core
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


class MigratingFunctions(EmailPasswordFunctions):
    """The recipe's functions with the migration's steps (its `extend_functions`)."""

    def __init__(self, core: AppCore, migration: LegacyMigration) -> None:
        super().__init__(core)
        self.migration = migration

    async def sign_up(
        self, email: str, password: str, tenant_id: str, user_context: UserContext
    ) -> SignUpResult:
        if await self.migration.refuses_sign_up(self, email, tenant_id, user_context):
            return EmailAlreadyExistsError()
        return await super().sign_up(email, password, tenant_id, user_context)

    async def sign_up_with_username(
        self,
        username: str,
        email: str | None,
        password: str,
        tenant_id: str,
        user_context: UserContext,
    ) -> SignUpResult:
        if email is not None and await self.migration.refuses_sign_up(
            self, email, tenant_id, user_context
        ):
            return EmailAlreadyExistsError()
        return await super().sign_up_with_username(
            username, email, password, tenant_id, user_context
        )

    async def sign_in(
        self, email: str, password: str, tenant_id: str, user_context: UserContext
    ) -> SignInResult:
        migrated = await self.migration.sign_in(self, email, password, tenant_id, user_context)
        if migrated is not None:
            return migrated
        return await super().sign_in(email, password, tenant_id, user_context)


class MigratingApis(EmailPasswordApis):
    """The recipe's API handlers with the migration's reset steps (its `extend_apis`)."""

    def __init__(
        self,
        recipe: EmailPasswordRecipe,
        session_recipe: SessionRecipe,
        background: BackgroundTasks,
        migration: LegacyMigration,
    ) -> None:
        super().__init__(recipe, session_recipe, background)
        self.migration = migration

    async def send_reset_email_if_known(
        self, identifier: str, tenant_id: str, user_context: UserContext
    ) -> None:
        """After the answer (so neither it nor its timing depends on the provider): migrate
        an unmigrated legacy user, then email the link as usual."""
        await self.migration.prepare_reset(
            self.recipe.functions, identifier, tenant_id, user_context
        )
        await super().send_reset_email_if_known(identifier, tenant_id, user_context)

    async def password_reset_post(
        self,
        form_fields: list[FormField],
        token: str,
        tenant_id: str,
        api_options: APIOptions[EmailPasswordConfig],
        user_context: UserContext,
    ) -> ResetTokenConsumed | InvalidResetTokenError | FieldError | GeneralError:
        result = await super().password_reset_post(
            form_fields, token, tenant_id, api_options, user_context
        )
        if isinstance(result, ResetTokenConsumed):
            await self.migration.reset_completed(result, user_context)
        return result
