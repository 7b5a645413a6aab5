"""Starlette integration: the middleware that serves the FDI and carries session
cookies/headers onto responses, and a decorator that protects an endpoint.

    app = Starlette(routes=[...], middleware=[Middleware(DoorkeepMiddleware, dk=dk)])

    @requires_session()
    async def profile(request):
        session = request.state.session
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from doorkeep.core.events import request_origin
from doorkeep.logs import ScopeOrigin
from doorkeep.recipes.session.claims import ClaimValidator
from doorkeep.recipes.session.request import (
    MUTATIONS_KEY,
    Session,
    SessionError,
    clear_tokens,
    get_session,
)
from doorkeep.recipes.session.transport import ResponseMutations
from doorkeep.storage.database import is_unavailable

if TYPE_CHECKING:
    from doorkeep.app import Doorkeep

log = logging.getLogger("doorkeep")
SCOPE_KEY = "doorkeep"
_CORS_ALLOW_HEADERS = "content-type, rid, fdi-version, anti-csrf, st-auth-mode, authorization"


class DoorkeepMiddleware:
    """Serves the pages (`website_base_path`) and the FDI (`api_base_path`), adds pending
    session headers to every response, answers CORS for the configured website domain,
    and starts doorkeep on first use."""

    def __init__(self, app: ASGIApp, dk: Doorkeep, *, cors: bool = True) -> None:
        self.app = app
        self.dk = dk
        self.cors_origin = dk.settings.website_domain.rstrip("/") if cors else None
        # Most requests are the application's own: one startswith sends them past
        # the pages' and the FDI's own path checks.
        settings = dk.settings
        self._doorkeep_prefixes = (
            settings.api_base_path.rstrip("/"),
            settings.website_base_path.rstrip("/"),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        dk = self.dk
        if not dk.started:
            await dk.start()
        scope[SCOPE_KEY] = dk
        # Created now, not on demand: routers copy the scope, and every copy must
        # share this one object for its headers to reach the response.
        pending = scope[MUTATIONS_KEY] = ResponseMutations()
        origin = self._allowed_origin(scope) if self.cors_origin is not None else None
        if origin is not None and scope["method"] == "OPTIONS":
            await _preflight(origin, send)
            return
        started = False

        async def send_with_session_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if pending.headers or origin is not None:
                    message = _with_headers(message, pending, origin)
            await send(message)

        # Events reported while answering carry the client's address and device.
        origin_token = request_origin.set(ScopeOrigin(scope))
        try:
            await self._target(scope["path"])(scope, receive, send_with_session_headers)
        except Exception as exc:
            # A lost database is a 503 the client may retry, not a 500; the pool
            # replaces dead connections, so the next request recovers on its own.
            if started or not is_unavailable(exc):
                raise
            log.warning("database unavailable: %s", exc)
            response = JSONResponse(
                {"message": "The service is temporarily unavailable. Please try again."},
                status_code=503,
                headers={"retry-after": "1"},
            )
            await response(scope, receive, send)
        finally:
            request_origin.reset(origin_token)

    def _target(self, path: str) -> ASGIApp:
        """The pages, the FDI, or the application, by path."""
        if not path.startswith(self._doorkeep_prefixes):
            return self.app
        dk = self.dk
        if dk.pages is not None and dk.pages.handles(path):
            return dk.pages
        if dk.frontend_api.handles(path):
            return dk.frontend_api
        return self.app

    def _allowed_origin(self, scope: Scope) -> str | None:
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = value.decode("latin-1")
                return origin if origin == self.cors_origin else None
        return None


def _with_headers(message: Message, pending: ResponseMutations, origin: str | None) -> Message:
    headers = list(message.get("headers", []))
    headers += [(n.encode(), v.encode()) for n, v in pending.headers]
    if origin is not None:
        headers += [
            (b"access-control-allow-origin", origin.encode()),
            (b"access-control-allow-credentials", b"true"),
            (b"vary", b"Origin"),
        ]
    return {**message, "headers": headers}


async def _preflight(origin: str, send: Send) -> None:
    headers = [
        (b"access-control-allow-origin", origin.encode()),
        (b"access-control-allow-credentials", b"true"),
        (b"access-control-allow-methods", b"GET, POST, PUT, DELETE, OPTIONS"),
        (b"access-control-allow-headers", _CORS_ALLOW_HEADERS.encode()),
        (b"access-control-max-age", b"600"),
        (b"vary", b"Origin"),
        (b"content-length", b"0"),
    ]
    await send({"type": "http.response.start", "status": 204, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


def doorkeep_of(conn: HTTPConnection) -> Doorkeep:
    dk: Doorkeep | None = conn.scope.get(SCOPE_KEY)  # DoorkeepMiddleware puts it there
    if dk is None:
        raise RuntimeError("doorkeep is not installed: add DoorkeepMiddleware to the application")
    return dk


def session_error_response(conn: HTTPConnection, error: SessionError) -> Response:
    """The 401/403 the frontend SDK expects; clears tokens when the session is gone."""
    if error.clear_tokens:
        clear_tokens(doorkeep_of(conn).session, conn)
    return JSONResponse(error.body, status_code=error.status_code)


async def session_error_handler(request: Request, exc: Exception) -> Response:
    """For `app.add_exception_handler(SessionError, session_error_handler)`."""
    assert isinstance(exc, SessionError)
    return session_error_response(request, exc)


async def session_of(
    conn: HTTPConnection,
    *,
    session_required: bool = True,
    check_database: bool = False,
    anti_csrf_check: bool | None = None,
    require_verified_email: bool | None = None,
    claims: Sequence[ClaimValidator] = (),
) -> Session | None:
    """The request's session, from inside any endpoint: `await session_of(request)`.

    Failures raise SessionError, which `install()`'s handler turns into the 401/403
    answers the SuperTokens frontend SDK understands. Skipping a dependency layer
    makes this the cheapest way to protect a FastAPI route. `claims` are the route's
    requirements, e.g. `[UserRoleClaim.includes("admin")]` (doorkeep.recipes.userroles).
    """
    return await get_session(
        doorkeep_of(conn).session,
        conn,
        session_required=session_required,
        check_database=check_database,
        anti_csrf_check=anti_csrf_check,
        require_verified_email=require_verified_email,
        claims=claims,
    )


Endpoint = Callable[[Request], Awaitable[Response]]


def requires_session(
    *,
    session_required: bool = True,
    check_database: bool = False,
    anti_csrf_check: bool | None = None,
    require_verified_email: bool | None = None,
    claims: Sequence[ClaimValidator] = (),
) -> Callable[[Endpoint], Endpoint]:
    """Protect a Starlette endpoint; the session is at `request.state.session`."""

    def decorator(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def wrapper(request: Request) -> Response:
            try:
                session = await session_of(
                    request,
                    session_required=session_required,
                    check_database=check_database,
                    anti_csrf_check=anti_csrf_check,
                    require_verified_email=require_verified_email,
                    claims=claims,
                )
            except SessionError as exc:
                return session_error_response(request, exc)
            request.state.session = session
            return await endpoint(request)

        return wrapper

    return decorator


def install(app: Any, dk: Doorkeep) -> None:
    """Add the middleware and the session error handler to a Starlette or FastAPI app."""
    app.add_middleware(DoorkeepMiddleware, dk=dk)
    app.add_exception_handler(SessionError, session_error_handler)
