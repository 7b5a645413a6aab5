"""The seeds' hand-written `/change-password` route, in doorkeep and FastAPI.

SuperTokens' guide (seed 000) protects a route with `verify_session()`, checks the
old password with the recipe's sign-in function, updates the password, then revokes
every session of the user, the current one included. doorkeep ships this flow built
in; this example shows that writing it by hand still takes only a few lines.

Run: DOORKEEP_DATABASE_URL=sqlite:///example.sqlite3 uvicorn examples.change_password:app
"""

from __future__ import annotations

from fastapi import Depends, FastAPI, Request

from doorkeep import Doorkeep, Settings
from doorkeep.core.emailpassword import SignInOk
from doorkeep.integrations.fastapi import Session, install, verify_session


def create_app(dk: Doorkeep) -> FastAPI:
    app = FastAPI()
    install(app, dk)

    @app.post("/change-password")
    async def change_password(request: Request, session: Session = Depends(verify_session())):
        body = await request.json()
        user = await dk.emailpassword.get_user_by_id(session.get_user_id())
        if user is None or user.email is None:
            return {"status": "UNKNOWN_USER_ID_ERROR"}
        # The recipe's sign-in function checks the old password (an override applies here too).
        checked = await dk.emailpassword.sign_in(
            user.email, body.get("oldPassword"), tenant_id=session.get_tenant_id()
        )
        if not isinstance(checked, SignInOk):
            return {"status": "WRONG_CREDENTIALS_ERROR"}
        updated = await dk.emailpassword.update_email_or_password(
            session.get_user_id(), password=body.get("newPassword")
        )
        if updated.status != "OK":
            return {"status": updated.status}
        await dk.session.revoke_all_sessions_for_user(session.get_user_id())
        await session.revoke_session()  # also clears the cookies of this device
        return {"status": "OK"}

    return app


app = create_app(Doorkeep(Settings.from_env()))
