"""Protecting FastAPI and Starlette routes: `Depends(verify_session())`, `await
session_of(request)` and `@requires_session()` give the same answers, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi import Depends, FastAPI, Request
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from doorkeep import Doorkeep, Settings
from doorkeep.integrations.fastapi import Session, install, session_of, verify_session
from doorkeep.integrations.starlette import requires_session
from doorkeep.testing import serve_in_thread

PASSWORD = "correct horse battery"


def fastapi_app(dk: Doorkeep) -> FastAPI:
    app = FastAPI()
    install(app, dk)

    @app.get("/depends")
    async def depends(session: Session = Depends(verify_session())) -> dict[str, str]:
        return {"user_id": session.user_id}

    @app.get("/direct")
    async def direct(request: Request) -> dict[str, str]:
        session = await session_of(request)
        assert session is not None
        return {"user_id": session.user_id}

    @app.get("/optional")
    async def optional(
        session: Session | None = Depends(verify_session(session_required=False)),
    ) -> dict[str, str | None]:
        return {"user_id": session.user_id if session else None}

    @app.get("/verified-depends")
    async def verified(
        session: Session = Depends(verify_session(require_verified_email=True)),
    ) -> dict[str, str]:
        return {"user_id": session.user_id}

    @app.get("/verified-direct")
    async def verified_direct(request: Request) -> dict[str, str]:
        session = await session_of(request, require_verified_email=True)
        assert session is not None
        return {"user_id": session.user_id}

    return app


def starlette_app(dk: Doorkeep) -> Starlette:
    @requires_session()
    async def decorated(request: Request) -> JSONResponse:
        return JSONResponse({"user_id": request.state.session.user_id})

    @requires_session(require_verified_email=True)
    async def verified(request: Request) -> JSONResponse:
        return JSONResponse({"user_id": request.state.session.user_id})

    app = Starlette(routes=[Route("/decorated", decorated), Route("/verified", verified)])
    install(app, dk)
    return app


@pytest.fixture
def urls(database_url: str) -> Iterator[tuple[str, str]]:
    settings = Settings(database_url=database_url)
    with (
        serve_in_thread(fastapi_app(Doorkeep(settings))) as fast,
        serve_in_thread(starlette_app(Doorkeep(settings))) as plain,
    ):
        yield fast, plain


def signed_up(url: str, email: str) -> httpx.Response:
    form = {"formFields": [{"id": "email", "value": email}, {"id": "password", "value": PASSWORD}]}
    answer = httpx.post(f"{url}/auth/signup", json=form)
    assert answer.status_code == 200 and answer.json()["status"] == "OK"
    return answer


PROTECTED = [("fastapi", "/depends"), ("fastapi", "/direct"), ("starlette", "/decorated")]
UNVERIFIED = {"message": "invalid claim"}


@pytest.mark.parametrize(("app", "path"), PROTECTED)
def test_every_way_of_protecting_a_route_answers_alike(
    urls: tuple[str, str], app: str, path: str
) -> None:
    url = urls[0] if app == "fastapi" else urls[1]
    answer = signed_up(url, "ada@example.com")
    user_id = answer.json()["user"]["id"]
    bearer = {"authorization": f"Bearer {answer.headers['st-access-token']}"}

    assert httpx.get(url + path, headers=bearer).json() == {"user_id": user_id}
    missing = httpx.get(url + path)
    assert missing.status_code == 401 and missing.json() == {"message": "unauthorised"}
    forged = httpx.get(url + path, headers={"authorization": "Bearer not.a.token"})
    assert forged.status_code == 401 and forged.json() == {"message": "try refresh token"}

    # Cookie mode: the same token from the sAccessToken cookie.
    cookie_form = {"st-auth-mode": "cookie"}
    form = {"formFields": [{"id": "email", "value": "ada@example.com"},
                           {"id": "password", "value": PASSWORD}]}  # fmt: skip
    with httpx.Client(base_url=url) as browser:
        assert browser.post("/auth/signin", json=form, headers=cookie_form).status_code == 200
        assert browser.get(path).json() == {"user_id": user_id}


def test_an_optional_session_is_none_without_a_token(urls: tuple[str, str]) -> None:
    url = urls[0]
    assert httpx.get(f"{url}/optional").json() == {"user_id": None}
    answer = signed_up(url, "grace@example.com")
    bearer = {"authorization": f"Bearer {answer.headers['st-access-token']}"}
    assert httpx.get(f"{url}/optional", headers=bearer).json() == {
        "user_id": answer.json()["user"]["id"]
    }


@pytest.mark.parametrize(
    ("app", "path"),
    [("fastapi", "/verified-depends"), ("fastapi", "/verified-direct"), ("starlette", "/verified")],
)
def test_require_verified_email_answers_the_sdk_claim_error(
    urls: tuple[str, str], app: str, path: str
) -> None:
    url = urls[0] if app == "fastapi" else urls[1]
    answer = signed_up(url, "unverified@example.com")
    bearer = {"authorization": f"Bearer {answer.headers['st-access-token']}"}
    refused = httpx.get(url + path, headers=bearer)
    assert refused.status_code == 403
    body = refused.json()
    assert body["message"] == "invalid claim"
    assert body["claimValidationErrors"][0]["id"] == "st-ev"
    # The flag is what refused it: the same session passes an ordinary protected route.
    ordinary = "/depends" if app == "fastapi" else "/decorated"
    assert httpx.get(url + ordinary, headers=bearer).status_code == 200
