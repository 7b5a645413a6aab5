"""The core: every service of every app, over one database and one password hasher."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from doorkeep.config import Settings
from doorkeep.core.common import PUBLIC
from doorkeep.core.context import AppContext
from doorkeep.core.emailpassword import EmailPasswordService
from doorkeep.core.emailverification import EmailVerificationService
from doorkeep.core.idmapping import UserIdMappingService
from doorkeep.core.keys import KeyService
from doorkeep.core.metadata import MetadataService
from doorkeep.core.passwordreset import PasswordResetService
from doorkeep.core.passwords import PasswordHasher
from doorkeep.core.sessions import SessionService
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
        self.metadata = MetadataService(ctx)
        self.idmapping = UserIdMappingService(ctx)
        self.emailverification = EmailVerificationService(ctx)
        self.passwordreset = PasswordResetService(ctx)


class Core:
    def __init__(
        self,
        settings: Settings,
        *,
        database: Database | None = None,
        hasher: PasswordHasher | None = None,
    ) -> None:
        self.settings = settings
        self.db = database or Database(settings.database_url)
        self.hasher = hasher or PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_cost,
            parallelism=settings.argon2_parallelism,
            firebase_signer_key=settings.firebase_signer_key,
        )
        self._apps: dict[str, AppCore] = {}

    async def start(self) -> None:
        await self.db.migrate()

    async def close(self) -> None:
        await self.db.dispose()
        self.hasher.close()

    def app(self, app_id: str = PUBLIC, **setting_overrides: Any) -> AppCore:
        """The services of one app; settings of a new app may be overridden (its core config)."""
        app = self._apps.get(app_id)
        if app is None or setting_overrides:
            settings = (
                replace(self.settings, **setting_overrides) if setting_overrides else self.settings
            )
            app = AppCore(AppContext(app_id, settings, self.db, self.hasher))
            self._apps[app_id] = app
        return app

    @property
    def public(self) -> AppCore:
        return self.app(PUBLIC)
