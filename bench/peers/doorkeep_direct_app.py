"""doorkeep in a FastAPI app: `await session_of(request)` inside the route, no dependency."""

from __future__ import annotations

import os

from fastapi import FastAPI, Request

from doorkeep import Doorkeep, Settings
from doorkeep.integrations.fastapi import install, session_of

dk = Doorkeep(Settings.from_env(database_url=os.environ["PEER_DB_URL"]))
app = FastAPI()
install(app, dk)


@app.get("/me")
async def me(request: Request) -> dict[str, str]:
    session = await session_of(request)
    assert session is not None  # session_required: a missing session raised a 401
    return {"user_id": session.user_id}
