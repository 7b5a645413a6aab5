"""What every core service of one app shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from doorkeep.config import Settings
from doorkeep.core.events import Events
from doorkeep.core.passwords import PasswordHasher, PasswordPolicy
from doorkeep.core.revocation import RevokedSessions
from doorkeep.core.telemetry import Telemetry
from doorkeep.storage import Database

# A dict passed unchanged through every overridable call of one request (SuperTokens' name).
UserContext = dict[str, Any]


@dataclass(frozen=True)
class AppContext:
    """One app's view of doorkeep: its ID, its effective settings, and the shared parts."""

    app_id: str
    settings: Settings
    db: Database
    hasher: PasswordHasher
    events: Events = field(default_factory=Events)  # what happened: one stream per process
    # Sessions revoked anywhere, refused here without a database read (core/revocation.py).
    revoked: RevokedSessions = field(default_factory=RevokedSessions)
    telemetry: Telemetry = field(default_factory=Telemetry)  # latencies, for GET /metrics

    @property
    def password_policy(self) -> PasswordPolicy:
        return PasswordPolicy(
            min_length=self.settings.password_min_length,
            max_length=self.settings.password_max_length,
            reject_common=self.settings.reject_common_passwords,
        )
