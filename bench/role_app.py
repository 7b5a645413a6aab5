"""The applications `bench_role_route.py` loads into uvicorn, one per process, each a
FastAPI app with one route at `/route` (as protected_app.py): `verify_session_app`
(`Depends(verify_session())`, no requirement), `role_app` (`Depends(verify_session(
claims=[UserRoleClaim.includes("admin")]))`) and `role_session_of_app` (the same
requirement through `await session_of(request, claims=...)`). Sessions carry their
roles (`userroles=UserRolesConfig()`); the database is DOORKEEP_DATABASE_URL's file.
"""

from __future__ import annotations

from fastapi import Depends, FastAPI, Request

from doorkeep import Doorkeep, Settings
from doorkeep.integrations.fastapi import Session, install, session_of, verify_session
from doorkeep.recipes.userroles import UserRoleClaim, UserRolesConfig

dk = Doorkeep(Settings.from_env(), userroles=UserRolesConfig())
ADMIN = [UserRoleClaim.includes("admin")]


def with_doorkeep() -> FastAPI:
    app = FastAPI()
    install(app, dk)
    return app


verify_session_app = with_doorkeep()


@verify_session_app.get("/route")
async def protected(session: Session = Depends(verify_session())) -> dict[str, object]:
    return {"ok": True, "user": session.user_id}


role_app = with_doorkeep()


@role_app.get("/route")
async def admin(session: Session = Depends(verify_session(claims=ADMIN))) -> dict[str, object]:
    return {"ok": True, "user": session.user_id}


role_session_of_app = with_doorkeep()


@role_session_of_app.get("/route")
async def admin_direct(request: Request) -> dict[str, object]:
    session = await session_of(request, claims=ADMIN)
    assert session is not None
    return {"ok": True, "user": session.user_id}
