"""The floor of any FastAPI dependency: one that takes the request and checks nothing.

Whatever an auth library does inside `Depends(...)`, it pays at least this.
"""

from fastapi import Depends, FastAPI, Request

app = FastAPI()


async def nothing(request: Request) -> Request:
    return request


@app.get("/me")
async def me(request: Request = Depends(nothing)) -> dict[str, str]:
    return {"user_id": "nobody"}
