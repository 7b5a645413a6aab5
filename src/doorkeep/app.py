"""`Doorkeep`: one configured instance — the core, its recipes, and (later) its web faces."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from doorkeep.background import BackgroundTasks
from doorkeep.config import Settings
from doorkeep.core.app import Core
from doorkeep.core.housekeeping import Housekeeping
from doorkeep.core.users import User
from doorkeep.delivery import EmailDelivery, EmailDeliveryConfig
from doorkeep.flows.change_email import ChangeEmail
from doorkeep.flows.change_password import ChangePassword
from doorkeep.flows.legacy_migration import (
    HttpLegacyProvider,
    LegacyMigration,
    LegacyProvider,
)
from doorkeep.ratelimit import DatabaseCounters, RateLimitConfig, RateLimiter, RedisCounters
from doorkeep.recipes.base import Override, apply_override
from doorkeep.recipes.emailpassword import EmailPasswordConfig, EmailPasswordRecipe
from doorkeep.recipes.emailverification import CLAIM as EV_CLAIM
from doorkeep.recipes.emailverification import EmailVerificationConfig, EmailVerificationRecipe
from doorkeep.recipes.session import SessionConfig, SessionRecipe
from doorkeep.recipes.useridmapping import UserIdMappingConfig, UserIdMappingRecipe
from doorkeep.recipes.usermetadata import UserMetadataConfig, UserMetadataRecipe
from doorkeep.web.fdi import FrontendApi
from doorkeep.web.pages import Pages, PagesConfig


@dataclass
class FlowsConfig:
    """Replace or wrap a built-in flow (same pattern as the recipes' overrides)."""

    override_change_password: Override[ChangePassword] | None = None
    override_change_email: Override[ChangeEmail] | None = None
    override_legacy_migration: Override[LegacyMigration] | None = None


class Doorkeep:
    """Create one per process (or per app), `await start()`, then use the recipes.

    dk = Doorkeep(Settings(database_url="sqlite:///auth.sqlite3"))
    await dk.start()
    result = await dk.emailpassword.sign_up("ada@example.com", "correct horse battery")
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        emailpassword: EmailPasswordConfig | None = None,
        session: SessionConfig | None = None,
        emailverification: EmailVerificationConfig | None = None,
        email_delivery: EmailDeliveryConfig | None = None,
        flows: FlowsConfig | None = None,
        rate_limits: RateLimitConfig | None = None,
        legacy_provider: LegacyProvider | None = None,
        usermetadata: UserMetadataConfig | None = None,
        useridmapping: UserIdMappingConfig | None = None,
        pages: PagesConfig | None = None,
    ) -> None:
        self.settings = settings or Settings.from_env()
        self.started = False
        self._start_lock = asyncio.Lock()
        self.core = Core(self.settings)
        public = self.core.public
        self.background = BackgroundTasks()
        self.rate_limits = rate_limits or RateLimitConfig()
        counters = (
            RedisCounters(self.settings.redis_url)
            if self.settings.redis_url
            else DatabaseCounters(self.core.db)
        )
        self.limiter = RateLimiter(counters, enabled=self.settings.rate_limits_enabled)
        self.housekeeping = Housekeeping(
            self.core.db,
            interval_s=self.settings.purge_interval_seconds,
            longest_window_s=self.rate_limits.longest_window_seconds,
        )
        self.email_delivery = EmailDelivery.create(self.settings, email_delivery)
        self.emailpassword = EmailPasswordRecipe(public, self.email_delivery, emailpassword)
        self.session = SessionRecipe(public, session)
        self.emailverification = EmailVerificationRecipe(
            public, self.email_delivery, emailverification
        )
        if emailverification is not None:  # configured: sessions carry the st-ev claim
            self.session.claim_builders.append(self._email_verification_claim)
        self.usermetadata = UserMetadataRecipe(public, usermetadata)
        self.useridmapping = UserIdMappingRecipe(public, useridmapping)
        self.web = FrontendApi(self)
        pages = pages or PagesConfig()
        self.pages: Pages | None = Pages(self, pages) if pages.enabled else None
        flows = flows or FlowsConfig()
        self.change_password = apply_override(ChangePassword(self), flows.override_change_password)
        self.change_email = apply_override(ChangeEmail(self), flows.override_change_email)
        self.change_email.install()
        if legacy_provider is None and self.settings.legacy_provider_url:
            legacy_provider = HttpLegacyProvider(self.settings.legacy_provider_url)
        self.legacy_migration: LegacyMigration | None = None
        if legacy_provider is not None:
            self.legacy_migration = apply_override(
                LegacyMigration(self, legacy_provider), flows.override_legacy_migration
            )
            self.legacy_migration.install()

    async def start(self) -> None:
        """Apply migrations and make sure a signing key exists (once; later calls return)."""
        async with self._start_lock:
            if self.started:
                return
            await self.core.start()
            await self.core.public.keys.signing_key()
            self.housekeeping.start()
            self.started = True

    async def close(self) -> None:
        await self.housekeeping.stop()
        await self.background.drain(timeout=5)
        await self.email_delivery.background.drain(timeout=5)
        await self.core.close()
        if isinstance(self.limiter.store, RedisCounters):
            await self.limiter.store.close()
        self.started = False

    async def __aenter__(self) -> Doorkeep:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _email_verification_claim(
        self, user_id: str, _recipe_user_id: str, _tenant_id: str, user_context: dict[str, Any]
    ) -> dict[str, Any]:
        return {EV_CLAIM: await self.emailverification.claim_value(user_id, user_context)}

    # User-level operations that belong to no single recipe.

    async def get_user(self, user_id: str) -> User | None:
        return await self.core.public.users.get_user(user_id)

    async def delete_user(self, user_id: str) -> bool:
        """Delete the user, their sessions, metadata, mappings and tokens."""
        return await self.core.public.delete_user(user_id)
