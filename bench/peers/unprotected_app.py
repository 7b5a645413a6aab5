"""The ceiling: the same route with no authentication at all."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/me")
async def me() -> dict[str, str]:
    return {"user_id": "nobody"}
