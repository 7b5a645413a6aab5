"""The applications `bench_protected_route.py` loads into uvicorn, one per process.

Each is a FastAPI app with one route at `/route`, so every row pays the same routing
(FastAPI matches routes in order: a route declared later pays for the ones before it).
`bare_app`: no doorkeep at all (the ceiling). With doorkeep installed:
`unprotected_app`, `empty_dependency_app` (a `Depends` that checks nothing: what
FastAPI's dependency injection costs by itself), `verify_session_app`
(`Depends(verify_session())`), `session_of_app` (`await session_of(request)` in the
route) and `pyjwt_app` (the same check written with PyJWT's `jwt.decode`).
The database is the SQLite file named by DOORKEEP_DATABASE_URL.
"""

from __future__ import annotations

import jwt
from fastapi import Depends, FastAPI, HTTPException, Request

from doorkeep import Doorkeep, Settings
from doorkeep.integrations.fastapi import Session, install, session_of, verify_session

dk = Doorkeep(Settings.from_env())


def with_doorkeep() -> FastAPI:
    app = FastAPI()
    install(app, dk)
    return app


bare_app = FastAPI()


@bare_app.get("/route")
async def bare() -> dict[str, object]:
    return {"ok": True}


unprotected_app = with_doorkeep()


@unprotected_app.get("/route")
async def unprotected() -> dict[str, object]:
    return {"ok": True}


async def nothing(request: Request) -> None:
    """An empty dependency."""


empty_dependency_app = with_doorkeep()


@empty_dependency_app.get("/route")
async def empty_dependency(_: None = Depends(nothing)) -> dict[str, object]:
    return {"ok": True}


verify_session_app = with_doorkeep()


@verify_session_app.get("/route")
async def protected(session: Session = Depends(verify_session())) -> dict[str, object]:
    return {"ok": True, "user": session.user_id}


session_of_app = with_doorkeep()


@session_of_app.get("/route")
async def direct(request: Request) -> dict[str, object]:
    session = await session_of(request)
    assert session is not None
    return {"ok": True, "user": session.user_id}


async def pyjwt_user(request: Request) -> str:
    """A plain PyJWT check per request: what a hand-written dependency usually does."""
    token = request.headers.get("authorization", "")[7:]
    try:
        kid = jwt.get_unverified_header(token)["kid"]
        key = dk.core.public.keys.verifier._keys[kid]  # the same public key doorkeep uses
        claims = jwt.decode(token, key, algorithms=["RS256"])
    except (jwt.PyJWTError, KeyError) as exc:
        raise HTTPException(401, "unauthorised") from exc
    return str(claims["sub"])


pyjwt_app = with_doorkeep()


@pyjwt_app.get("/route")
async def pyjwt_protected(user: str = Depends(pyjwt_user)) -> dict[str, object]:
    return {"ok": True, "user": user}
