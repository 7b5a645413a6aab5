"""Sessions of HTTP requests: find and check the token a request carries, and the
`Session` object that application code receives (SuperTokens' SessionContainer)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection

from doorkeep.core.session_models import (
    NewSession,
    TryRefreshTokenError,
    UnauthorisedError,
    VerifiedSession,
)
from doorkeep.recipes.session.transport import (
    ANTI_CSRF_HEADER,
    AuthMode,
    ResponseMutations,
    access_token_from,
    requested_auth_mode,
)

if TYPE_CHECKING:
    from doorkeep.app import Doorkeep

MUTATIONS_KEY = "doorkeep.response"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class SessionError(HTTPException):
    """Ends a request with 401 (or 403 for a failed claim), as the frontend SDK expects.

    An HTTPException, so that an app without doorkeep's error handler still answers 401.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int = 401,
        clear_tokens: bool = False,
        body: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(status_code=status_code, detail=message)
        self.message = message
        self.clear_tokens = clear_tokens
        self.body = dict(body) if body is not None else {"message": message}

    @classmethod
    def unauthorised(cls, clear_tokens: bool = True) -> SessionError:
        return cls("unauthorised", clear_tokens=clear_tokens)

    @classmethod
    def try_refresh(cls) -> SessionError:
        return cls("try refresh token")

    @classmethod
    def token_theft(cls) -> SessionError:
        return cls("token theft detected", clear_tokens=True)


def mutations_of(conn: HTTPConnection) -> ResponseMutations:
    """The headers/cookies this request's response will carry (the middleware applies them)."""
    scope = conn.scope
    found = scope.get(MUTATIONS_KEY)
    if found is None:
        found = scope[MUTATIONS_KEY] = ResponseMutations()
    return found


class Session:
    """The signed-in session of a request."""

    __slots__ = (
        "_access_token",
        "_conn",
        "_dk",
        "_verified",
        "handle",
        "mode",
        "recipe_user_id",
        "tenant_id",
        "user_id",
    )

    def __init__(
        self,
        dk: Doorkeep,
        conn: HTTPConnection,
        verified: VerifiedSession,
        access_token: str,
        mode: AuthMode,
    ) -> None:
        self._dk = dk
        self._conn = conn
        self._verified = verified
        self._access_token = access_token
        self.mode = mode
        info = verified.session
        self.user_id = info.user_id
        self.recipe_user_id = info.recipe_user_id
        self.tenant_id = info.tenant_id
        self.handle = info.handle

    @property
    def access_token_payload(self) -> Mapping[str, Any]:
        return self._verified.claims

    # SuperTokens' method names, so code written for their SDK reads the same.
    def get_user_id(self) -> str:
        return self.user_id

    def get_recipe_user_id(self) -> str:
        return self.recipe_user_id

    def get_tenant_id(self) -> str:
        return self.tenant_id

    def get_handle(self) -> str:
        return self.handle

    def get_access_token_payload(self) -> dict[str, Any]:
        return dict(self._verified.claims)

    async def revoke_session(self) -> None:
        """Revoke this session and clear its tokens from the client."""
        await self._dk.session.revoke_session(self.handle)
        self._dk.web.transport.clear(mutations_of(self._conn), self.mode)

    revoke = revoke_session

    async def get_session_data_in_database(self) -> dict[str, Any]:
        record = await self._dk.session.get_session_information(self.handle)
        if record is None:
            raise SessionError.unauthorised()
        return record.session_data

    async def update_session_data_in_database(self, data: Mapping[str, Any]) -> None:
        if not await self._dk.session.update_session_data_in_database(self.handle, data):
            raise SessionError.unauthorised()

    async def merge_into_access_token_payload(self, update: Mapping[str, Any]) -> None:
        """Change the custom claims now: the client gets a new access token with this response."""
        merged = {k: v for k, v in self._verified.session.user_data_in_jwt.items()}
        for key, value in update.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        regenerated = await self._dk.core.public.sessions.regenerate_access_token(
            self._access_token, merged
        )
        if not isinstance(regenerated, VerifiedSession) or regenerated.new_access_token is None:
            raise SessionError.unauthorised()
        self._verified = regenerated
        self._access_token = regenerated.new_access_token.token
        self._dk.web.transport.attach_access_token(
            mutations_of(self._conn), regenerated.new_access_token, self.mode, self.user_id
        )


async def get_session(
    dk: Doorkeep,
    conn: HTTPConnection,
    *,
    session_required: bool = True,
    check_database: bool = False,
    anti_csrf_check: bool | None = None,
    require_verified_email: bool | None = None,
) -> Session | None:
    """The request's session, None (if not required and absent), or a SessionError.

    `require_verified_email` defaults to the email-verification mode (REQUIRED → True).
    """
    found = access_token_from(conn)
    if found is None:
        if session_required:
            raise SessionError.unauthorised(clear_tokens=False)
        return None
    token, mode = found
    csrf_mode = dk.web.anti_csrf
    check_csrf = (
        mode == "cookie"
        and csrf_mode != "NONE"
        and (
            anti_csrf_check
            if anti_csrf_check is not None
            else conn.scope.get("method") not in SAFE_METHODS
        )
    )
    if check_csrf and csrf_mode == "VIA_CUSTOM_HEADER" and "rid" not in conn.headers:
        raise SessionError.try_refresh()
    # Headers are read only when a check needs them: this runs on every protected request.
    via_token = check_csrf and csrf_mode == "VIA_TOKEN"
    result = await dk.session.get_session(
        token,
        anti_csrf_token=conn.headers.get(ANTI_CSRF_HEADER) if via_token else None,
        anti_csrf_check=via_token,
        check_database=check_database,
    )
    if isinstance(result, TryRefreshTokenError):
        raise SessionError.try_refresh()
    if isinstance(result, UnauthorisedError):
        raise SessionError.unauthorised(clear_tokens=result.clear_tokens)
    if result.new_access_token is not None:
        dk.web.transport.attach_access_token(
            mutations_of(conn), result.new_access_token, mode, result.session.user_id
        )
    session = Session(dk, conn, result, token, mode)
    if require_verified_email is None:
        require_verified_email = dk.emailverification.config.mode == "REQUIRED"
    if require_verified_email:
        await check_email_verified(dk, session)
    return session


async def check_email_verified(dk: Doorkeep, session: Session) -> None:
    """403 with the `st-ev` claim error unless the user's email is verified.

    A claim saying "not verified" is re-checked against the database on each such
    request, so the request after a verification already passes.
    """
    from doorkeep.recipes.emailverification import CLAIM

    claim = session.access_token_payload.get(CLAIM)
    if isinstance(claim, Mapping) and claim.get("v") is True:
        return
    verified = await dk.emailverification.is_user_verified(session.user_id, {})
    await dk.emailverification.update_session_claim(session, verified)
    if not verified:
        reason = {"message": "wrong value", "expectedValue": True, "actualValue": False}
        raise SessionError(
            "invalid claim",
            status_code=403,
            body={
                "message": "invalid claim",
                "claimValidationErrors": [{"id": CLAIM, "reason": reason}],
            },
        )


def attach_new_session(
    dk: Doorkeep, conn: HTTPConnection, new: NewSession, *, mode: AuthMode | None = None
) -> Session:
    """Send a new session's tokens with this response (by default in the mode the client asked)."""
    mode = mode or requested_auth_mode(conn)
    dk.web.transport.attach_session(mutations_of(conn), new, mode)
    verified = VerifiedSession(new.session, new.access_token.claims or {})
    return Session(dk, conn, verified, new.access_token.token, mode)
