"""The standalone ASGI application that `doorkeep serve` runs: the FDI under
`api_base_path`, the pages under `website_base_path`, the CDI (core API) for the
official backend SDKs, health routes, and a demo home page linking to every flow.

Health routes (no API key, no session, no rate limit):
- `GET /health`: the process answers (liveness); never touches the database.
- `GET /ready`: one database round trip (`SELECT 1`); 200 `{"status": "OK"}`, or 503
  `{"status": "UNAVAILABLE"}` when the database does not answer (readiness).
- `GET /hello` (also POST/PUT/DELETE, and under `/appid-…/`): SuperTokens' core ping,
  kept as the core answers it — text `Hello`, no database. SDKs and SuperTokens'
  own tooling call it; use `/ready` to know whether doorkeep can serve.

Every answer carries `X-Request-ID` (the caller's when sane, else a new one), which
every log record of the request carries too (see `doorkeep.logs`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from doorkeep.app import Doorkeep
from doorkeep.integrations.starlette import DoorkeepMiddleware, requires_session
from doorkeep.logs import RequestIdMiddleware
from doorkeep.startup import select_one
from doorkeep.web.cdi import CoreApi

log = logging.getLogger("doorkeep.health")
READY_TIMEOUT_S = 5.0  # a database that takes longer to say SELECT 1 is not ready


def create_app(
    dk: Doorkeep, *, core_api: bool = True, core_trusts_loopback: bool = True
) -> ASGIApp:
    """The FDI and pages (under their base paths), the demo routes and, unless
    `core_api=False`, the CDI on the same port for the official backend SDKs (without
    keys: direct loopback callers only, none if `core_trusts_loopback=False`)."""
    web = _web_app(dk)
    cdi = CoreApi(dk, trust_loopback=core_trusts_loopback) if core_api else None
    bases = (dk.settings.api_base_path, dk.settings.website_base_path)
    own_prefixes = tuple({base.rstrip("/") + "/" for base in bases})

    async def ready() -> Response:
        return await _ready(dk)

    health: dict[str, Callable[[], Awaitable[Response]]] = {"/health": _health, "/ready": ready}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and path in health:
            response = await health[path]()
            await response(scope, receive, send)
        elif (
            scope["type"] == "http"
            and cdi is not None
            and not path.startswith(own_prefixes)
            and cdi.handles(path)
        ):
            await cdi(scope, receive, send)
        else:
            await web(scope, receive, send)

    return RequestIdMiddleware(app)


async def _health() -> Response:
    return JSONResponse({"status": "OK"})


async def _ready(dk: Doorkeep) -> Response:
    """One round trip to the database; 503 when it fails or is slow."""
    if not dk.started:
        return JSONResponse({"status": "STARTING"}, status_code=503)
    try:
        async with asyncio.timeout(READY_TIMEOUT_S):
            await dk.core.db.run(select_one)
    except Exception as exc:  # any failure means "not ready"; the reason goes to the log
        log.warning("not ready: the database did not answer: %s", type(exc).__name__)
        return JSONResponse({"status": "UNAVAILABLE"}, status_code=503)
    return JSONResponse({"status": "OK"})


def _web_app(dk: Doorkeep) -> Starlette:
    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await dk.start()
        try:
            yield
        finally:
            await dk.close()

    async def hello(_request: Request) -> Response:
        return PlainTextResponse("Hello")

    @requires_session()
    async def session_info(request: Request) -> Response:
        session = request.state.session
        return JSONResponse(
            {
                "sessionHandle": session.handle,
                "userId": session.user_id,
                "accessTokenPayload": session.get_access_token_payload(),
            }
        )

    async def home(request: Request) -> Response:
        if dk.pages is not None:
            return await dk.pages.home(request)
        return HTMLResponse(_HOME.replace("{base}", dk.settings.api_base_path))

    return Starlette(
        routes=[
            Route("/", home),
            Route("/hello", hello, methods=["GET", "POST", "PUT", "DELETE"]),
            Route("/sessioninfo", session_info, methods=["GET"]),
        ],
        middleware=[Middleware(DoorkeepMiddleware, dk=dk)],
        lifespan=lifespan,
    )


_HOME = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>doorkeep</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;
line-height:1.5}code{background:#f3f3f3;padding:.1rem .3rem;border-radius:.2rem}</style></head>
<body><h1>doorkeep is running</h1>
<p>The frontend API is under <code>{base}</code>: <code>POST {base}/signup</code>,
<code>POST {base}/signin</code>, <code>POST {base}/session/refresh</code>,
<code>POST {base}/signout</code>, <code>GET {base}/jwt/jwks.json</code>.</p>
<p><code>GET /sessioninfo</code> shows the current session; <code>GET /health</code> says the
process is alive, <code>GET /ready</code> that the database answers.</p></body></html>
"""
