"""doorkeep in a FastAPI app: `verify_session()` on the protected route."""

from __future__ import annotations

import os

from fastapi import Depends, FastAPI

from doorkeep import Doorkeep, Settings
from doorkeep.integrations.fastapi import verify_session
from doorkeep.integrations.starlette import install
from doorkeep.recipes.session.request import Session

dk = Doorkeep(Settings.from_env(database_url=os.environ["PEER_DB_URL"]))
app = FastAPI()
install(app, dk)


@app.get("/me")
async def me(session: Session = Depends(verify_session())) -> dict[str, str]:
    return {"user_id": session.user_id}
