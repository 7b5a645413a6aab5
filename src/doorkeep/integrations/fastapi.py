"""FastAPI integration: `verify_session()` as a dependency.

app = FastAPI()
install(app, dk)

@app.post("/change-password")
async def change_password(session: Session = Depends(verify_session())):
    ...

@app.get("/me")                      # the same check without a dependency layer
async def me(request: Request):
    session = await session_of(request)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from starlette.requests import Request

from doorkeep.integrations.starlette import install, session_of
from doorkeep.recipes.session.claims import ClaimValidator
from doorkeep.recipes.session.request import Session, SessionError

__all__ = ["Session", "SessionError", "install", "session_of", "verify_session"]


def verify_session(
    *,
    session_required: bool = True,
    check_database: bool = False,
    anti_csrf_check: bool | None = None,
    require_verified_email: bool | None = None,
    claims: Sequence[ClaimValidator] = (),
) -> Callable[[Request], Awaitable[Session | None]]:
    """A dependency giving the request's Session (or None when not required and absent).

    Failures raise SessionError, which `install()`'s handler turns into the 401/403
    answers the SuperTokens frontend SDK understands. `claims` are the route's
    requirements: `verify_session(claims=[UserRoleClaim.includes("admin")])` answers 403
    with SuperTokens' `claimValidationErrors` when the session's roles lack "admin".
    """

    async def dependency(request: Request) -> Session | None:
        return await session_of(
            request,
            session_required=session_required,
            check_database=check_database,
            anti_csrf_check=anti_csrf_check,
            require_verified_email=require_verified_email,
            claims=claims,
        )

    return dependency
