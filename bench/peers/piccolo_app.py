"""piccolo_api's session auth as its docs set it up: `SessionsAuthBackend` behind
Starlette's AuthenticationMiddleware, `session_login` for signing in, SQLite."""

from __future__ import annotations

import os

from piccolo.apps.user.tables import BaseUser
from piccolo.engine.sqlite import SQLiteEngine
from piccolo_api.session_auth.endpoints import session_login
from piccolo_api.session_auth.middleware import SessionsAuthBackend
from piccolo_api.session_auth.tables import SessionsBase
from starlette.applications import Starlette
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

# piccolo's docs recommend a `timeout` under concurrent writes: with sqlite3's default
# of 5 s, a load of 32 sign-ins (PBKDF2 runs on the event loop) ends in "database is
# locked" instead of a measured rate.
DB = SQLiteEngine(path=os.environ["PEER_DB"], timeout=60)
BaseUser._meta.db = DB
SessionsBase._meta.db = DB


async def me(request: Request) -> JSONResponse:
    return JSONResponse({"user_id": str(request.user.user_id)})


protected = AuthenticationMiddleware(
    Starlette(routes=[Route("/me", me)]),
    backend=SessionsAuthBackend(admin_only=False, allow_unauthenticated=False),
)

app = Starlette(
    routes=[
        Route("/login", session_login(redirect_to=None)),
        Mount("/", protected),
    ]
)
