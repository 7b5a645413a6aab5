"""The values the session service hands out: tokens, session records, and outcomes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from doorkeep.core.common import Status

# Claims doorkeep sets itself; a custom payload cannot replace them (SuperTokens' JWT v5).
PROTECTED_CLAIMS = frozenset(
    {
        "sub",
        "exp",
        "iat",
        "sessionHandle",
        "refreshTokenHash1",
        "parentRefreshTokenHash1",
        "antiCsrfToken",
        "tId",
        "rsub",
        "stt",
    }
)


@dataclass(frozen=True)
class TokenInfo:
    token: str
    expiry: int  # ms since the epoch
    created_time: int  # ms since the epoch
    claims: Mapping[str, Any] | None = field(
        default=None, compare=False, repr=False
    )  # access tokens

    def to_json(self) -> dict[str, Any]:
        return {"token": self.token, "expiry": self.expiry, "createdTime": self.created_time}


@dataclass(frozen=True)
class SessionInfo:
    """A session as an access token describes it (no database read needed)."""

    handle: str
    user_id: str
    recipe_user_id: str
    tenant_id: str
    user_data_in_jwt: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "handle": self.handle,
            "userId": self.user_id,
            "recipeUserId": self.recipe_user_id,
            "tenantId": self.tenant_id,
            "userDataInJWT": dict(self.user_data_in_jwt),
        }


@dataclass(frozen=True)
class SessionRecord:
    """A session as the database holds it."""

    handle: str
    user_id: str
    recipe_user_id: str
    tenant_id: str
    session_data: dict[str, Any]
    user_data_in_jwt: dict[str, Any]
    time_created: int
    expiry: int


@dataclass(frozen=True)
class NewSession(Status):
    """A created or refreshed session: the tokens to send to the client."""

    session: SessionInfo
    access_token: TokenInfo
    refresh_token: TokenInfo
    anti_csrf_token: str | None


@dataclass(frozen=True)
class VerifiedSession(Status):
    session: SessionInfo
    claims: Mapping[str, Any]  # the full, read-only access-token payload
    new_access_token: TokenInfo | None = None  # set when the client should replace its token


@dataclass(frozen=True)
class TryRefreshTokenError(Status):
    """The access token is expired or unusable; the client should refresh."""

    status: ClassVar[str] = "TRY_REFRESH_TOKEN"
    message: str


@dataclass(frozen=True)
class UnauthorisedError(Status):
    """No valid session. `clear_tokens` is False when the client's newer tokens must be kept."""

    status: ClassVar[str] = "UNAUTHORISED"
    message: str
    clear_tokens: bool = True


@dataclass(frozen=True)
class TokenTheftDetectedError(Status):
    """A superseded refresh token came back: the session has been revoked."""

    status: ClassVar[str] = "TOKEN_THEFT_DETECTED"
    session_handle: str
    user_id: str
    recipe_user_id: str
