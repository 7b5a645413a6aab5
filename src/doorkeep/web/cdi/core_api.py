"""`CoreApi`: the ASGI app of the CDI, SuperTokens' core API, over doorkeep's core.

`create_app` puts it in front of the FDI and the pages on the same port (the FDI and
pages live under `/auth`, the CDI never does); it can be mounted alone, and
`doorkeep serve --core-port` serves it alone on a listener of its own (`by_listener`).

Without `core_api_keys` it answers direct loopback callers only: a CDI caller can
create a session for any user, so an open one must never face a network. A reverse
proxy on the same host is a loopback peer too, so a request carrying a proxy header is
never trusted — and since nginx's default `proxy_pass` adds none, `doorkeep serve`
never trusts loopback on the frontend API's port (`trust_loopback=False`): there the
CDI needs a key, or its own port (docs/deployment.md).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from doorkeep.core.common import PUBLIC
from doorkeep.core.tenants import tenant_exists
from doorkeep.storage.database import is_unavailable
from doorkeep.web.cdi import emailpassword as ep
from doorkeep.web.cdi import jwt as jw
from doorkeep.web.cdi import passwordless as pl
from doorkeep.web.cdi import roles as ro
from doorkeep.web.cdi import session as se
from doorkeep.web.cdi import users as us
from doorkeep.web.cdi.protocol import (
    SUPPORTED_VERSIONS,
    CdiError,
    CdiRequest,
    check_api_key,
    check_version,
    ok,
    read_body,
    split_prefix,
)
from doorkeep.web.metrics import CONTENT_TYPE

if TYPE_CHECKING:
    from doorkeep.config import Settings
    from doorkeep.core.services import Core
    from doorkeep.web.metrics import Metrics

log = logging.getLogger("doorkeep.cdi")
Handler = Callable[[CdiRequest], Awaitable[Response]]

ROUTES: dict[tuple[str, str], Handler] = {
    ("POST", "/recipe/signup"): ep.sign_up,
    ("POST", "/recipe/signin"): ep.sign_in,
    ("PUT", "/recipe/user"): pl.update_user,  # emailpassword's or passwordless', by the user
    ("POST", "/recipe/user/password/reset/token"): ep.create_reset_token,
    ("POST", "/recipe/user/password/reset/token/consume"): ep.consume_reset_token,
    ("POST", "/recipe/user/passwordhash/import"): ep.import_password_hash,
    ("POST", "/recipe/signinup/code"): pl.create_code,
    ("POST", "/recipe/signinup/code/consume"): pl.consume_code,
    ("POST", "/recipe/signinup/code/check"): pl.check_code,
    ("POST", "/recipe/signinup/code/remove"): pl.remove_code,
    ("GET", "/recipe/signinup/codes"): pl.list_codes,
    ("POST", "/recipe/signinup/codes/remove"): pl.remove_codes,
    ("POST", "/recipe/session"): se.create,
    ("GET", "/recipe/session"): se.information,
    ("POST", "/recipe/session/verify"): se.verify,
    ("POST", "/recipe/session/refresh"): se.refresh,
    ("POST", "/recipe/session/remove"): se.remove,
    ("GET", "/recipe/session/user"): se.handles_for_user,
    ("PUT", "/recipe/session/data"): se.update_data,
    ("PUT", "/recipe/jwt/data"): se.update_jwt_data,
    ("POST", "/recipe/session/regenerate"): se.regenerate,
    ("GET", "/.well-known/jwks.json"): se.jwks,
    ("GET", "/recipe/jwt/jwks"): jw.jwks,
    ("POST", "/recipe/jwt"): jw.create_jwt,
    ("GET", "/user/id"): us.get_user,
    ("GET", "/users"): us.list_users,
    ("GET", "/users/count"): us.count_users,
    ("GET", "/users/by-accountinfo"): us.users_by_account_info,
    ("POST", "/user/remove"): us.remove_user,
    ("GET", "/recipe/user/metadata"): us.get_metadata,
    ("PUT", "/recipe/user/metadata"): us.update_metadata,
    ("POST", "/recipe/user/metadata/remove"): us.remove_metadata,
    ("POST", "/recipe/userid/map"): us.create_mapping,
    ("GET", "/recipe/userid/map"): us.get_mapping,
    ("POST", "/recipe/userid/map/remove"): us.remove_mapping,
    ("PUT", "/recipe/userid/external-user-id-info"): us.update_mapping_info,
    ("POST", "/recipe/userid/external-user-id-info"): us.update_mapping_info,  # the SDK's verb
    ("POST", "/recipe/user/email/verify/token"): us.create_verification_token,
    ("POST", "/recipe/user/email/verify"): us.verify_email,
    ("GET", "/recipe/user/email/verify"): us.is_email_verified,
    ("POST", "/recipe/user/email/verify/remove"): us.unverify_email,
    ("POST", "/recipe/user/email/verify/token/remove"): us.revoke_verification_tokens,
    ("GET", "/recipe/multitenancy/tenant/v2"): us.get_tenant,
    ("PUT", "/recipe/role"): ro.create_role,
    ("GET", "/recipe/role/permissions"): ro.permissions_of_role,
    ("POST", "/recipe/role/permissions/remove"): ro.remove_permissions,
    ("GET", "/recipe/permission/roles"): ro.roles_with_permission,
    ("POST", "/recipe/role/remove"): ro.delete_role,
    ("GET", "/recipe/roles"): ro.all_roles,
    ("PUT", "/recipe/user/role"): ro.add_role_to_user,
    ("POST", "/recipe/user/role/remove"): ro.remove_user_role,
    ("GET", "/recipe/user/roles"): ro.roles_of_user,
    ("GET", "/recipe/role/users"): ro.users_with_role,
    ("PUT", "/recipe/multitenancy/tenant/v2"): us.create_tenant,
}
_TENANT_ROUTES = {"/recipe/multitenancy/tenant/v2"}  # they answer for unknown tenants
# Routes that need neither an API key nor a version (as SuperTokens' core).
_OPEN = {"/hello", "/.well-known/jwks.json"}
_APP_ROUTE = "/recipe/multitenancy/app/v2"
_METRICS = "/metrics"  # Prometheus' scrape (web/metrics.py), guarded like every route
KNOWN_PATHS = {path for _, path in ROUTES} | {"/hello", "/apiversion", _APP_ROUTE, _METRICS}
_LOOPBACK = {"127.0.0.1", "::1", "localhost"}
# Headers a reverse proxy adds (RFC 7239 Forwarded, the de-facto X-Forwarded-*, nginx's
# X-Real-IP, Via, CDN client-IP headers): a request carrying one came through a proxy,
# whatever its peer address.
_PROXY_HEADERS = frozenset(
    {"forwarded", "x-real-ip", "via", "x-client-ip", "true-client-ip", "cf-connecting-ip"}
)
_NEEDS_KEY = "Invalid API key: set DOORKEEP_CORE_API_KEYS to call from afar"
_NEEDS_KEY_HERE = (
    "Invalid API key: the core API on the frontend API's port needs DOORKEEP_CORE_API_KEYS, "
    "or serve it alone on a loopback port with doorkeep serve --core-port"
)


def _direct_loopback(request: Request) -> bool:
    peer = request.client.host if request.client else ""
    return peer in _LOOPBACK and not came_through_a_proxy(request)


def came_through_a_proxy(request: Request) -> bool:
    """Whether the request carries a header that a reverse proxy adds."""
    names = request.headers.keys()
    return any(name in _PROXY_HEADERS or name.startswith("x-forwarded-") for name in names)


class CoreHost(Protocol):
    """What the CDI serves (the built `Doorkeep` is one): the core's apps, the API keys
    (settings), the metrics, and the instance to start on a first call when the CDI is
    mounted or served alone."""

    @property
    def settings(self) -> Settings: ...
    @property
    def core(self) -> Core: ...
    @property
    def metrics(self) -> Metrics | None: ...
    @property
    def started(self) -> bool: ...
    async def start(self) -> None: ...


class CoreApi:
    """`trust_loopback`: without keys, serve direct loopback callers (True: a listener
    of its own, or development), or nobody (False: a port a proxy may front)."""

    def __init__(self, host: CoreHost, *, trust_loopback: bool = True) -> None:
        self.host = host
        self.api_keys = host.settings.core_api_keys
        self.trust_loopback = trust_loopback

    def handles(self, path: str) -> bool:
        """CDI paths: a known route (with its prefixes) or anything under /appid-…."""
        return path.startswith("/appid-") or split_prefix(path, KNOWN_PATHS) is not None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await self._answer(request)
        except CdiError as exc:
            response = exc.response()
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            log.warning("database unavailable: %s", exc)
            response = PlainTextResponse("Database unavailable", status_code=503)
        await response(scope, receive, send)

    async def _answer(self, request: Request) -> Response:
        if not self.host.started:
            await self.host.start()
        parts = split_prefix(request.url.path, KNOWN_PATHS)
        if parts is None:
            raise CdiError(404, "Not found")
        app_id, tenant_id, path = parts
        if path == "/hello":
            return PlainTextResponse("Hello")
        if path not in _OPEN:
            self._check_caller(request)
        if path == _METRICS:
            return self._metrics(request)
        if path == "/apiversion":
            return JSONResponse({"versions": list(SUPPORTED_VERSIONS)})
        if path not in _OPEN:
            check_version(request)
        if path == _APP_ROUTE:
            return await self._create_app(request, app_id)
        handler = ROUTES.get((request.method, path))
        if handler is None:
            raise CdiError(405, "Method not supported")
        app = await self.host.core.stored_app(app_id)
        if app is None or (
            tenant_id != PUBLIC
            and path not in _TENANT_ROUTES
            and not await tenant_exists(app.ctx, tenant_id)
        ):
            raise CdiError(400, "AppId or tenantId not found")
        body = await read_body(request) if request.method in ("POST", "PUT") else {}
        try:
            return await handler(CdiRequest(request, app, tenant_id, body))
        except ValueError as exc:  # the core's word for input it cannot take
            raise CdiError(400, str(exc)) from None

    def _metrics(self, request: Request) -> Response:
        metrics = self.host.metrics
        if request.method != "GET":
            raise CdiError(405, "Method not supported")
        if metrics is None:
            raise CdiError(
                404,
                "Metrics are off: install doorkeep[metrics] and leave DOORKEEP_METRICS_ENABLED on",
            )
        return Response(metrics.exposition(), media_type=CONTENT_TYPE)

    def _check_caller(self, request: Request) -> None:
        if self.api_keys:
            check_api_key(request, self.api_keys)
        elif not self.trust_loopback:
            raise CdiError(401, _NEEDS_KEY_HERE)
        elif not _direct_loopback(request):
            raise CdiError(401, _NEEDS_KEY)

    async def _create_app(self, request: Request, app_id: str) -> Response:
        if request.method != "PUT":
            raise CdiError(405, "Method not supported")
        if app_id != PUBLIC:
            raise CdiError(403, "Only the public app can create apps")
        body = await read_body(request)
        new_app = body.get("appId")
        config = body.get("coreConfig") or {}
        if not isinstance(new_app, str) or not new_app or not isinstance(config, dict):
            raise CdiError(400, "Field name 'appId' is invalid in JSON input")
        try:
            created = await self.host.core.create_app(new_app.lower(), config)
        except ValueError as exc:
            raise CdiError(400, str(exc)) from None
        return ok(createdNew=created)


def by_listener(main: ASGIApp, core: ASGIApp, core_port: int) -> ASGIApp:
    """One ASGI app for a server listening on two sockets: connections accepted on
    `core_port` reach `core` alone, all others (and the lifespan) reach `main`. The port
    is the accepting socket's own (`scope["server"]`), which no header can change."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        server = scope.get("server")
        if scope["type"] != "lifespan" and server is not None and server[1] == core_port:
            await core(scope, receive, send)
        else:
            await main(scope, receive, send)

    return app
