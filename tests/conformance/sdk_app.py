"""A FastAPI application built with the official SuperTokens Python SDK (0.31.4), its
core pointed at doorkeep. Emails are captured instead of sent: the tests follow the
links, as a user would."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI, Request
from supertokens_python import InputAppInfo, SupertokensConfig, init
from supertokens_python.asyncio import get_user
from supertokens_python.framework.fastapi import get_middleware
from supertokens_python.ingredients.emaildelivery.types import (
    EmailDeliveryConfig,
    EmailDeliveryInterface,
)
from supertokens_python.recipe import emailpassword, emailverification, session, usermetadata
from supertokens_python.recipe.emailpassword.asyncio import sign_in, update_email_or_password
from supertokens_python.recipe.emailpassword.interfaces import WrongCredentialsError
from supertokens_python.recipe.session import SessionContainer
from supertokens_python.recipe.session.asyncio import revoke_all_sessions_for_user
from supertokens_python.recipe.session.framework.fastapi import verify_session
from supertokens_python.recipe.usermetadata.asyncio import (
    get_user_metadata,
    update_user_metadata,
)


class Outbox(EmailDeliveryInterface[Any]):
    """The seeds' `send_email` override: keep the link instead of mailing it."""

    def __init__(self) -> None:
        self.links: list[tuple[str, str]] = []  # (to, link)

    async def send_email(self, template_vars: Any, user_context: dict[str, Any]) -> None:
        link = getattr(template_vars, "password_reset_link", None) or getattr(
            template_vars, "email_verify_link", None
        )
        self.links.append((template_vars.user.email, link))


def build_app(core_url: str, api_url: str, outbox: Outbox) -> FastAPI:
    init(
        app_info=InputAppInfo(
            app_name="conformance",
            api_domain=api_url,
            website_domain=api_url,
            api_base_path="/auth",
            website_base_path="/auth",
        ),
        supertokens_config=SupertokensConfig(connection_uri=core_url),
        framework="fastapi",
        recipe_list=[
            session.init(),
            emailpassword.init(email_delivery=EmailDeliveryConfig(service=outbox)),
            emailverification.init(
                mode="OPTIONAL", email_delivery=EmailDeliveryConfig(service=outbox)
            ),
            usermetadata.init(),
        ],
        mode="asgi",
    )
    app = FastAPI()
    app.add_middleware(get_middleware())

    @app.get("/me")
    async def me(s: SessionContainer = Depends(verify_session())) -> dict[str, Any]:
        return {"userId": s.get_user_id(), "handle": s.get_handle()}

    @app.put("/metadata")
    async def put_metadata(
        request: Request, s: SessionContainer = Depends(verify_session())
    ) -> dict[str, Any]:
        await update_user_metadata(s.get_user_id(), await request.json())
        return {"metadata": (await get_user_metadata(s.get_user_id())).metadata}

    # Seed 000 (change password), its Python steps in the SDK 0.31 async API: get the
    # user, check the old password with sign_in, update it, revoke every session and
    # this one (which clears the tokens on the frontend).
    @app.post("/change-password")
    async def change_password(
        request: Request, session: SessionContainer = Depends(verify_session())
    ) -> dict[str, Any]:
        body = await request.json()
        user_id = session.get_user_id()
        users_info = await get_user(user_id)
        if users_info is None:
            raise Exception("Should never come here")
        is_password_valid = await sign_in(
            session.get_tenant_id(), users_info.emails[0], body["oldPassword"]
        )
        if isinstance(is_password_valid, WrongCredentialsError):
            return {"status": "WRONG_CREDENTIALS_ERROR"}
        await update_email_or_password(session.get_recipe_user_id(), password=body["newPassword"])
        await revoke_all_sessions_for_user(user_id)
        await session.revoke_session()
        return {"status": "OK"}

    return app
