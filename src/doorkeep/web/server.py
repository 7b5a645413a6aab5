"""The standalone ASGI application that `doorkeep serve` runs: the FDI under
`api_base_path`, the pages under `website_base_path`, the CDI (core API) for the
official backend SDKs, a health route, and a demo home page linking to every flow."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from doorkeep.app import Doorkeep
from doorkeep.integrations.starlette import DoorkeepMiddleware, requires_session
from doorkeep.web.cdi import CoreApi


def create_app(dk: Doorkeep, *, core_api: bool = True) -> ASGIApp:
    """The FDI and pages (under their base paths), the demo routes and, unless
    `core_api=False`, the CDI on the same port for the official backend SDKs."""
    web = _web_app(dk)
    if not core_api:
        return web
    cdi = CoreApi(dk)
    bases = (dk.settings.api_base_path, dk.settings.website_base_path)
    own_prefixes = tuple({base.rstrip("/") + "/" for base in bases})

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and not path.startswith(own_prefixes) and cdi.handles(path):
            await cdi(scope, receive, send)
        else:
            await web(scope, receive, send)

    return app


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
<p><code>GET /sessioninfo</code> shows the current session; <code>GET /hello</code> is the health
check.</p></body></html>
"""
