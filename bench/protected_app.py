"""The applications `bench_protected_route.py` loads into uvicorn.

`app`: FastAPI with doorkeep installed; `/unprotected`, `/protected` (doorkeep's
`verify_session()`), `/direct` (`await session_of(request)` in the route), `/pyjwt`
(the same check written with PyJWT's `jwt.decode`).
`bare_app`: the same unprotected route with no doorkeep at all (the ceiling).
The database is the SQLite file named by DOORKEEP_DATABASE_URL.
"""

from __future__ import annotations

import jwt
from fastapi import Depends, FastAPI, HTTPException, Request

from doorkeep import Doorkeep, Settings
from doorkeep.integrations.fastapi import Session, install, session_of, verify_session

dk = Doorkeep(Settings.from_env())
app = FastAPI()
install(app, dk)


@app.get("/unprotected")
async def unprotected() -> dict[str, object]:
    return {"ok": True}


@app.get("/protected")
async def protected(session: Session = Depends(verify_session())) -> dict[str, object]:
    return {"ok": True, "user": session.user_id}


@app.get("/direct")
async def direct(request: Request) -> dict[str, object]:
    session = await session_of(request)
    assert session is not None
    return {"ok": True, "user": session.user_id}


async def nothing(request: Request) -> None:
    """An empty dependency: what FastAPI's dependency injection costs by itself."""


@app.get("/empty-dependency")
async def empty_dependency(_: None = Depends(nothing)) -> dict[str, object]:
    return {"ok": True}


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


@app.get("/pyjwt")
async def pyjwt_protected(user: str = Depends(pyjwt_user)) -> dict[str, object]:
    return {"ok": True, "user": user}


bare_app = FastAPI()


@bare_app.get("/unprotected")
async def bare_unprotected() -> dict[str, object]:
    return {"ok": True}
