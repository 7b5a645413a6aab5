"""The core: every service of every app, over one database and one password hasher."""

from __future__ import annotations

from typing import Any

from doorkeep.config import Settings
from doorkeep.core.common import PUBLIC
from doorkeep.core.context import AppContext
from doorkeep.core.emailpassword import EmailPasswordService
from doorkeep.core.emailverification import EmailVerificationService
from doorkeep.core.events import EventKind, Events
from doorkeep.core.idmapping import UserIdMappingService
from doorkeep.core.jwt_issuer import JwtIssuer
from doorkeep.core.keys import KeyService
from doorkeep.core.metadata import MetadataService
from doorkeep.core.passwordless import PasswordlessService
from doorkeep.core.passwordreset import PasswordResetService
from doorkeep.core.passwords import PasswordHasher
from doorkeep.core.revocation import RevocationFeed, RevokedSessions
from doorkeep.core.revocation_channels import channel_for
from doorkeep.core.roles import RoleService
from doorkeep.core.sessions import SessionService
from doorkeep.core.telemetry import Telemetry
from doorkeep.core.tenants import load_app_config, save_app
from doorkeep.core.users import UserService
from doorkeep.storage import Database


class AppCore:
    """The domain services of one app (SuperTokens' "app"; `public` unless you create others)."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.users = UserService(ctx)
        self.emailpassword = EmailPasswordService(ctx)
        self.keys = KeyService(ctx)
        self.sessions = SessionService(ctx, self.keys)
        self.jwt = JwtIssuer(self.keys)
        self.metadata = MetadataService(ctx)
        self.idmapping = UserIdMappingService(ctx)
        self.emailverification = EmailVerificationService(ctx)
        self.passwordreset = PasswordResetService(ctx)
        self.passwordless = PasswordlessService(ctx)
        self.roles = RoleService(ctx)

    async def delete_user(self, user_id: str) -> bool:
        """Delete the user, their sessions (revoked everywhere), metadata, mappings and tokens."""
        return await self.users.delete_user(user_id)


class Core:
    def __init__(
        self,
        settings: Settings,
        *,
        database: Database | None = None,
        hasher: PasswordHasher | None = None,
        events: Events | None = None,
    ) -> None:
        self.settings = settings
        self.events = events or Events()  # every app's services report to this one stream
        self.db = database or Database(settings.database_url)
        self.hasher = hasher or PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_cost,
            parallelism=settings.argon2_parallelism,
            firebase_signer_key=settings.firebase_signer_key,
        )
        self._apps: dict[str, AppCore] = {}
        self.telemetry = Telemetry(enabled=settings.metrics_enabled)
        for engine in self.db.sync_engines():
            self.telemetry.count_statements(engine)
        # Revocation reaches every instance: rows written with the revoke (a sink of the
        # stream), followed by NOTIFY, Redis or polling into `revoked`.
        self.revoked = RevokedSessions()
        channel = channel_for(settings.database_url, self.db.dialect, settings.redis_url)
        self.revocations = RevocationFeed(self.db, self.revoked, channel)
        revoked = [EventKind.SESSION_REVOKED]
        self.events.add_sink(self.revocations.sink, kinds=revoked)
        self.events.subscribe(self.revocations.on_revoked, kinds=revoked)

    async def start(self) -> None:
        await self.db.migrate()
        await self.revocations.start()  # every live revocation is known before serving

    async def close(self) -> None:
        await self.revocations.stop()
        await self.db.dispose()
        self.hasher.close()

    def app(self, app_id: str = PUBLIC, **setting_overrides: Any) -> AppCore:
        """The services of one app; settings of a new app may be overridden (its core config)."""
        app = self._apps.get(app_id)
        if app is None or setting_overrides:
            settings = (
                self.settings.with_overrides(**setting_overrides)
                if setting_overrides
                else self.settings
            )
            app = AppCore(
                AppContext(
                    app_id,
                    settings,
                    self.db,
                    self.hasher,
                    self.events,
                    self.revoked,
                    self.telemetry,
                )
            )
            self._apps[app_id] = app
        return app

    async def stored_app(self, app_id: str) -> AppCore | None:
        """An app created through the CDI (with its stored core config), or None."""
        app = self._apps.get(app_id)
        if app is not None:
            return app
        config = await load_app_config(self.db, app_id)
        if config is None:
            return None
        return self.app(app_id, **settings_from_core_config(config))

    async def create_app(self, app_id: str, core_config: dict[str, Any]) -> bool:
        """Create or reconfigure an app; True if it is new. Unknown keys are a ValueError."""
        overrides = settings_from_core_config(core_config)
        created = await save_app(self.db, app_id, core_config)
        self._apps.pop(app_id, None)
        self.app(app_id, **overrides)
        return created

    @property
    def public(self) -> AppCore:
        return self.app(PUBLIC)


# SuperTokens' core config names and units -> doorkeep's Settings (seconds).
_CORE_CONFIG: dict[str, tuple[str, float]] = {
    "access_token_validity": ("access_token_validity", 1),  # seconds
    "refresh_token_validity": ("refresh_token_validity", 60),  # minutes
    "password_reset_token_lifetime": ("password_reset_token_lifetime", 0.001),  # ms
    "email_verification_token_lifetime": ("email_verification_token_lifetime", 0.001),  # ms
    "access_token_dynamic_signing_key_update_interval": ("signing_key_rotation_hours", 1),  # h
    "passwordless_code_lifetime": ("passwordless_code_lifetime", 0.001),  # ms
    "passwordless_max_code_input_attempts": ("passwordless_max_code_input_attempts", 1),
}
_FRACTIONAL = {"signing_key_rotation_hours"}


def settings_from_core_config(core_config: dict[str, Any]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for name, value in core_config.items():
        if name not in _CORE_CONFIG:
            raise ValueError(f"unsupported core config: {name}")
        if isinstance(value, str):  # the SDK's tests send numbers as strings
            try:
                value = float(value)
            except ValueError:
                raise ValueError(f"{name} must be a positive number") from None
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ValueError(f"{name} must be a positive number")
        field, scale = _CORE_CONFIG[name]
        overrides[field] = value * scale if field in _FRACTIONAL else max(1, int(value * scale))
    return overrides
