"""`Doorkeep`: one configured instance, and the composition root of doorkeep.

It builds every piece in layer order — the core, the recipes, the flows, the web
faces — and hands each the collaborators it uses; no piece receives the whole
`Doorkeep`. Built-in features that change a recipe (legacy migration) are composed
here, when the recipe is built, never patched in afterwards.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from types import TracebackType

from doorkeep.background import BackgroundTasks
from doorkeep.config import Settings
from doorkeep.core.audit import AUDITED, AuditTrail
from doorkeep.core.housekeeping import Housekeeping
from doorkeep.core.services import Core
from doorkeep.core.users import User
from doorkeep.core.webhooks import Webhooks
from doorkeep.delivery import EmailDelivery, EmailDeliveryConfig
from doorkeep.delivery.sms import SmsDelivery, SmsDeliveryConfig
from doorkeep.delivery.webhook_http import HttpWebhookTransport
from doorkeep.flows import Flows
from doorkeep.flows.change_email import ChangeEmail
from doorkeep.flows.change_password import ChangePassword
from doorkeep.flows.change_phone_number import ChangePhoneNumber
from doorkeep.flows.email_verification import EmailVerification
from doorkeep.flows.legacy_migration import (
    HttpLegacyProvider,
    LegacyMigration,
    LegacyProvider,
)
from doorkeep.flows.limits import Attempts
from doorkeep.flows.password_reset import PasswordReset
from doorkeep.flows.passwordless import Passwordless
from doorkeep.flows.reauthentication import Reauthentication
from doorkeep.flows.sign_in import SignIn
from doorkeep.flows.sign_up import SignUp
from doorkeep.logs import LOGGED_EVENTS, log_event
from doorkeep.ratelimit import DatabaseCounters, RateLimitConfig, RateLimiter, RedisCounters
from doorkeep.recipes.base import Override, apply_override
from doorkeep.recipes.emailpassword import EmailPasswordConfig, EmailPasswordRecipe
from doorkeep.recipes.emailverification import EmailVerificationConfig, EmailVerificationRecipe
from doorkeep.recipes.jwt import JwtConfig, JwtRecipe
from doorkeep.recipes.passwordless import PasswordlessConfig, PasswordlessRecipe
from doorkeep.recipes.session import SessionConfig, SessionRecipe
from doorkeep.recipes.useridmapping import UserIdMappingConfig, UserIdMappingRecipe
from doorkeep.recipes.usermetadata import UserMetadataConfig, UserMetadataRecipe
from doorkeep.recipes.userroles import UserRolesConfig, UserRolesRecipe
from doorkeep.web.fdi import FrontendApi
from doorkeep.web.metrics import Metrics, Queue
from doorkeep.web.metrics import available as metrics_available
from doorkeep.web.pages import Pages, PagesConfig
from doorkeep.web.pages.outcome import PageServices


@dataclass
class FlowsConfig:
    """Replace or wrap a built-in flow (same pattern as the recipes' overrides)."""

    override_sign_in: Override[SignIn] | None = None
    override_sign_up: Override[SignUp] | None = None
    override_password_reset: Override[PasswordReset] | None = None
    override_email_verification: Override[EmailVerification] | None = None
    override_reauthentication: Override[Reauthentication] | None = None
    override_change_password: Override[ChangePassword] | None = None
    override_change_email: Override[ChangeEmail] | None = None
    override_legacy_migration: Override[LegacyMigration] | None = None
    override_passwordless: Override[Passwordless] | None = None
    override_change_phone_number: Override[ChangePhoneNumber] | None = None


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
        userroles: UserRolesConfig | None = None,
        jwt: JwtConfig | None = None,
        pages: PagesConfig | None = None,
        passwordless: PasswordlessConfig | None = None,
        sms_delivery: SmsDeliveryConfig | None = None,
    ) -> None:
        self.settings = settings or Settings.from_env()
        self.started = False
        self._start_lock = asyncio.Lock()
        self.core = Core(self.settings)
        # What happened, reported by the core, recipes and flows; logs, metrics, the audit
        # trail, webhooks and revocation subscribe to it (applications may too).
        self.events = self.core.events
        self.events.subscribe(log_event, kinds=LOGGED_EVENTS)
        public = self.core.public
        self.background = BackgroundTasks()
        self.rate_limits = rate_limits or RateLimitConfig()
        counters = (
            RedisCounters(self.settings.redis_url)
            if self.settings.redis_url
            else DatabaseCounters(self.core.db)
        )
        self.limiter = RateLimiter(
            counters, enabled=self.settings.rate_limits_enabled, events=self.events
        )
        # The audit trail: security events per user, chained by digests (core/audit.py).
        self.audit = AuditTrail(self.core.db)
        if self.settings.audit_enabled:
            self.events.subscribe(self.audit.on_event, kinds=AUDITED)
        # Webhooks: an outbox row per wanted event, in the event's transaction where the
        # core records it there; a worker delivers them (core/webhooks.py).
        self.webhooks = Webhooks(
            self.core.db, self.settings.webhook_retry_delays, HttpWebhookTransport()
        )
        self.events.add_sink(self.webhooks.sink)
        self.events.subscribe(self.webhooks.on_event)
        self.housekeeping = Housekeeping(
            self.core.db,
            interval_s=self.settings.purge_interval_seconds,
            longest_window_s=self.rate_limits.longest_window_seconds,
            audit=self.audit,
            audit_retention_days=self.settings.audit_retention_days,
        )
        self.email_delivery = EmailDelivery.create(self.settings, email_delivery)
        flows = flows or FlowsConfig()
        # Recipes: the session recipe first (the others create sessions or register claims).
        self.session = SessionRecipe(public, session)
        self.usermetadata = UserMetadataRecipe(public, usermetadata)
        self.useridmapping = UserIdMappingRecipe(public, useridmapping)
        # Registers st-role/st-perm; new sessions carry them when `userroles` is given.
        self.userroles = UserRolesRecipe(public, self.session, userroles)
        self.jwt = JwtRecipe(public, jwt)
        if legacy_provider is None and self.settings.legacy_provider_url:
            legacy_provider = HttpLegacyProvider(self.settings.legacy_provider_url)
        legacy_migration = None
        if legacy_provider is not None:
            legacy_migration = apply_override(
                LegacyMigration(legacy_provider, public, self.usermetadata),
                flows.override_legacy_migration,
            )
        self.emailpassword = EmailPasswordRecipe(
            public,
            self.email_delivery,
            self.session,
            self.background,
            emailpassword,
            extend_functions=legacy_migration.extend_functions if legacy_migration else None,
            extend_apis=legacy_migration.extend_apis if legacy_migration else None,
        )
        self.emailverification = EmailVerificationRecipe(
            public, self.email_delivery, self.session, emailverification
        )
        self.sms_delivery = SmsDelivery.create(self.settings, sms_delivery)
        self.passwordless = PasswordlessRecipe(
            public, self.email_delivery, self.sms_delivery, self.session, passwordless
        )
        self.flows = self._build_flows(flows, legacy_migration)
        # The web faces: they translate the flows' statuses into JSON and HTML.
        self.frontend_api = FrontendApi(
            self.settings.api_base_path,
            self.session,
            self.emailverification,
            self.flows,
            public.keys,
            jwt=self.jwt,
        )
        pages = pages or PagesConfig()
        self.pages: Pages | None = None
        if pages.enabled:
            services = PageServices(
                self.settings,
                self.flows,
                self.emailpassword,
                self.emailverification,
                self.session,
                public.users,
                audit=self.audit if self.settings.audit_enabled else None,
                userroles=self.userroles,
            )
            self.pages = Pages(services, pages)
        # GET /metrics (served by the core API): off without the metrics extra.
        self.metrics: Metrics | None = None
        if self.settings.metrics_enabled and metrics_available():
            core = self.core
            queues: dict[str, Queue] = {"email": self.email_delivery, "sms": self.sms_delivery}
            self.metrics = Metrics(self.events, core.telemetry, core.db, core.revocations, queues)
            audit = self.audit
            self.metrics.gauges["doorkeep_audit_queue_depth"] = lambda: audit.queue_depth
            hooks = self.webhooks
            self.metrics.gauges["doorkeep_webhooks_delivered"] = lambda: hooks.delivered
            self.metrics.gauges["doorkeep_webhooks_failed_attempts"] = lambda: hooks.failed

    def _build_flows(self, config: FlowsConfig, legacy_migration: LegacyMigration | None) -> Flows:
        attempts = Attempts(self.limiter, self.rate_limits)
        ep, ev, settings = self.emailpassword, self.emailverification, self.settings
        reauthentication = apply_override(
            Reauthentication(ep, attempts), config.override_reauthentication
        )
        change_email = apply_override(
            ChangeEmail(
                ep,
                ev,
                self.session,
                reauthentication,
                self.core.public,
                self.email_delivery,
                settings,
                self.passwordless,
            ),
            config.override_change_email,
        )
        change_password = ChangePassword(
            ep, self.session, reauthentication, self.email_delivery, settings
        )
        return Flows(
            sign_in=apply_override(SignIn(ep, attempts), config.override_sign_in),
            sign_up=apply_override(SignUp(ep, attempts), config.override_sign_up),
            password_reset=apply_override(
                PasswordReset(ep, attempts), config.override_password_reset
            ),
            email_verification=apply_override(
                EmailVerification(ev, attempts, change_email), config.override_email_verification
            ),
            reauthentication=reauthentication,
            change_password=apply_override(change_password, config.override_change_password),
            change_email=change_email,
            legacy_migration=legacy_migration,
            passwordless=apply_override(
                Passwordless(self.passwordless, attempts), config.override_passwordless
            ),
            change_phone_number=apply_override(
                ChangePhoneNumber(self.passwordless, self.session, attempts, settings),
                config.override_change_phone_number,
            ),
        )

    async def start(self) -> None:
        """Apply migrations and make sure a signing key exists (once; later calls return)."""
        async with self._start_lock:
            if self.started:
                return
            await self.core.start()
            await self.core.public.keys.signing_key()
            self.housekeeping.start()
            self.audit.start()
            await self.webhooks.refresh()
            self.webhooks.start()
            self.started = True

    async def close(self) -> None:
        await self.housekeeping.stop()
        await self.audit.stop()  # what is queued is written first
        await self.webhooks.stop()  # what is not delivered stays in the outbox
        await self.background.drain(timeout=5)
        await self.email_delivery.background.drain(timeout=5)
        await self.sms_delivery.background.drain(timeout=5)
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

    # User-level operations that belong to no single recipe.

    async def get_user(self, user_id: str) -> User | None:
        return await self.core.public.users.get_user(user_id)

    async def delete_user(self, user_id: str) -> bool:
        """Delete the user, their sessions, metadata, mappings and tokens."""
        return await self.core.public.delete_user(user_id)
