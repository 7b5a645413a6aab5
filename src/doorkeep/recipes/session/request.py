"""Sessions of HTTP requests: find and check the token a request carries, and the
`Session` object that application code receives (SuperTokens' SessionContainer).

Everything here works through the session recipe (its overridable functions, its
token transport and its claim registry): the web faces and every framework
integration call it, none re-implements it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection

from doorkeep.core.context import UserContext
from doorkeep.core.session_models import (
    NewSession,
    TryRefreshTokenError,
    UnauthorisedError,
    VerifiedSession,
)
from doorkeep.recipes.apis import APIOptions, ConfigT
from doorkeep.recipes.session.csrf import (
    CROSS_SITE_MESSAGE,
    JSON_REQUIRED_MESSAGE,
    cross_site,
    is_json,
    trusted_origins,
)
from doorkeep.recipes.session.transport import (
    ANTI_CSRF_HEADER,
    AuthMode,
    ResponseMutations,
    access_token_from,
    requested_auth_mode,
    session_cookie_mode,
)

if TYPE_CHECKING:
    from starlette.requests import Request

    from doorkeep.recipes.session import SessionRecipe
    from doorkeep.recipes.session.claims import ClaimValidator

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

    @classmethod
    def cross_site(cls, message: str = CROSS_SITE_MESSAGE) -> SessionError:
        """403: a cookie-authenticated request that another page may have sent (csrf.py).
        The tokens stay: a forged request must not sign the user out."""
        return cls(message, status_code=403)

    @classmethod
    def invalid_claim(cls, claim_key: str, reason: Mapping[str, Any]) -> SessionError:
        """403: the session lacks a claim the route needs (e.g. a verified email)."""
        return cls.invalid_claims([{"id": claim_key, "reason": dict(reason)}])

    @classmethod
    def invalid_claims(cls, failures: Sequence[Mapping[str, Any]]) -> SessionError:
        """403 listing every failed claim check `{"id", "reason"}`, as SuperTokens does."""
        body = {"message": "invalid claim", "claimValidationErrors": [dict(f) for f in failures]}
        return cls("invalid claim", status_code=403, body=body)


def mutations_of(conn: HTTPConnection) -> ResponseMutations:
    """The headers/cookies this request's response will carry (the middleware applies them)."""
    scope = conn.scope
    found = scope.get(MUTATIONS_KEY)
    if found is None:
        found = scope[MUTATIONS_KEY] = ResponseMutations()
    return found


def api_options(request: Request, config: ConfigT) -> APIOptions[ConfigT]:
    """What an API handler receives for this request: it, its response's headers and
    cookies, and the recipe's config."""
    return APIOptions(request, mutations_of(request), config)


def clear_tokens(recipe: SessionRecipe, conn: HTTPConnection) -> None:
    """Tell the client to drop its tokens, in the mode its session cookies say (the one
    rule of every answer to a SessionError that asks for it)."""
    recipe.transport.clear(mutations_of(conn), session_cookie_mode(conn))


class Session:
    """The signed-in session of a request."""

    __slots__ = (
        "_access_token",
        "_conn",
        "_recipe",
        "_verified",
        "handle",
        "mode",
        "recipe_user_id",
        "tenant_id",
        "user_id",
    )

    def __init__(
        self,
        recipe: SessionRecipe,
        conn: HTTPConnection,
        verified: VerifiedSession,
        access_token: str,
        mode: AuthMode,
    ) -> None:
        self._recipe = recipe
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
        await self._recipe.revoke_session(self.handle)
        self._recipe.transport.clear(mutations_of(self._conn), self.mode)

    revoke = revoke_session

    async def get_session_data_in_database(self) -> dict[str, Any]:
        record = await self._recipe.get_session_information(self.handle)
        if record is None:
            raise SessionError.unauthorised()
        return record.session_data

    async def update_session_data_in_database(self, data: Mapping[str, Any]) -> None:
        if not await self._recipe.update_session_data_in_database(self.handle, data):
            raise SessionError.unauthorised()

    async def fetch_and_set_claim(
        self, claim: str | ClaimValidator, user_context: UserContext | None = None
    ) -> bool:
        """Value a registered claim again (e.g. the user's roles after a change) and put
        it in this session's token now: the client gets a new access token with this
        response (SuperTokens' name). False if no recipe registered that claim."""
        key = claim if isinstance(claim, str) else claim.key
        source = self._recipe.claims.find(key)
        if source is None:
            return False
        context = {} if user_context is None else user_context
        value = await source.value_for(self.user_id, self.recipe_user_id, self.tenant_id, context)
        await self.merge_into_access_token_payload({key: value}, context)
        return True

    async def merge_into_access_token_payload(
        self, update: Mapping[str, Any], user_context: UserContext | None = None
    ) -> None:
        """Change the custom claims now: the client gets a new access token with this response.
        Goes through the recipe's (overridable) `regenerate_access_token`."""
        merged = {k: v for k, v in self._verified.session.user_data_in_jwt.items()}
        for key, value in update.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        regenerated = await self._recipe.functions.regenerate_access_token(
            self._access_token, merged, {} if user_context is None else user_context
        )
        if not isinstance(regenerated, VerifiedSession) or regenerated.new_access_token is None:
            raise SessionError.unauthorised()
        self._verified = regenerated
        self._access_token = regenerated.new_access_token.token
        self._recipe.transport.attach_access_token(
            mutations_of(self._conn), regenerated.new_access_token, self.mode, self.user_id
        )


async def get_session(
    recipe: SessionRecipe,
    conn: HTTPConnection,
    *,
    session_required: bool = True,
    check_database: bool = False,
    anti_csrf_check: bool | None = None,
    require_verified_email: bool | None = None,
    claims: Sequence[ClaimValidator] = (),
) -> Session | None:
    """The request's session, None (if not required and absent), or a SessionError.

    Then the claims registered with the recipe are checked (SessionError 403 if one
    fails): `require_verified_email` (SuperTokens' name; the email-verification claim
    is the only one so far) True checks every registered claim, False none, and None
    those registered to be checked by default (email verification in REQUIRED mode).
    `claims` are the route's own requirements (`UserRoleClaim.includes("admin")`): every
    one is checked and every failure listed in the one 403.
    """
    found = access_token_from(conn)
    if found is None:
        if session_required:
            raise SessionError.unauthorised(clear_tokens=False)
        return None
    token, mode = found
    csrf_mode = recipe.anti_csrf
    check_csrf = mode == "cookie" and (
        anti_csrf_check
        if anti_csrf_check is not None
        else conn.scope.get("method") not in SAFE_METHODS
    )
    if check_csrf:
        refuse_cross_site(recipe, conn)  # in every anti-CSRF mode, NONE included
        check_csrf = csrf_mode != "NONE"
    if check_csrf and csrf_mode == "VIA_CUSTOM_HEADER" and "rid" not in conn.headers:
        raise SessionError.try_refresh()
    # Headers are read only when a check needs them: this runs on every protected request.
    via_token = check_csrf and csrf_mode == "VIA_TOKEN"
    result = await recipe.get_session(
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
        recipe.transport.attach_access_token(
            mutations_of(conn), result.new_access_token, mode, result.session.user_id
        )
    session = Session(recipe, conn, result, token, mode)
    # Usually an empty tuple: then checking claims costs one loop over nothing.
    registry = recipe.claims
    if require_verified_email is None:
        checks = registry.checked_by_default
    else:
        checks = registry.checked if require_verified_email else ()
    for claim in checks:
        await claim.validate(session)
    if claims:
        await check_claims(session, claims, check_database=check_database)
    return session


def refuse_cross_site(recipe: SessionRecipe, conn: HTTPConnection) -> None:
    """SessionError 403 when the browser says a cookie-authenticated request comes from
    a page other than the website's or the API's (csrf.py)."""
    headers = conn.headers
    origin, fetch_site = headers.get("origin"), headers.get("sec-fetch-site")
    if cross_site(origin, fetch_site, trusted_origins(recipe.transport.settings)):
        raise SessionError.cross_site()


def refuse_unless_json(conn: HTTPConnection) -> None:
    """For a JSON route about to read a body: SessionError 403 when a session cookie
    authenticates an unsafe request whose body is not `application/json` (a type no
    other page can send without a CORS preflight). Header mode is never refused."""
    if conn.scope.get("method") in SAFE_METHODS:
        return
    found = access_token_from(conn)
    if found is not None and found[1] == "cookie" and not is_json(conn.headers.get("content-type")):
        raise SessionError.cross_site(JSON_REQUIRED_MESSAGE)


async def check_claims(
    session: Session, validators: Sequence[ClaimValidator], *, check_database: bool = False
) -> None:
    """SessionError 403 naming every validator the session fails, else nothing."""
    failures = []
    for validator in validators:
        reason = await validator.check(session, check_database=check_database)
        if reason is not None:
            failures.append({"id": validator.key, "reason": dict(reason)})
    if failures:
        raise SessionError.invalid_claims(failures)


async def sign_in_session(
    recipe: SessionRecipe,
    conn: HTTPConnection,
    user_id: str,
    recipe_user_id: str,
    tenant_id: str,
    user_context: UserContext,
) -> Session:
    """The fresh session of a sign-in or sign-up by any recipe: anti-CSRF per the recipe's
    mode, tokens in the transport the client asked for, never a pre-existing token (no
    fixation)."""
    new = await recipe.functions.create_new_session(
        user_id,
        recipe_user_id,
        None,
        None,
        recipe.anti_csrf != "VIA_TOKEN",
        tenant_id,
        user_context,
    )
    return attach_new_session(recipe, conn, new)


def attach_new_session(
    recipe: SessionRecipe, conn: HTTPConnection, new: NewSession, *, mode: AuthMode | None = None
) -> Session:
    """Send a new session's tokens with this response (by default in the mode the client asked)."""
    mode = mode or requested_auth_mode(conn)
    recipe.transport.attach_session(mutations_of(conn), new, mode)
    verified = VerifiedSession(new.session, new.access_token.claims or {})
    return Session(recipe, conn, verified, new.access_token.token, mode)
