"""The seeds' Python code as written for the official SDK (supertokens-python 0.31.4,
framework="flask"), with `doorkeep serve` as its core.

Each view is the seed's snippet; where 0.31 renamed or re-shaped something the seed
uses, the line is changed as little as possible and marked `# 0.31:` — docs/flask.md
lists every such line next to the seed's original. The `# TODO` answers of the seed
return small JSON bodies here so that a test can tell the branches apart.

    app = seed_000_app(core_url, api_url, api_key, outbox)   # change password
    app = seed_002_app(core_url, api_url, api_key, outbox)   # change email (passwordless)
"""

from __future__ import annotations

from re import fullmatch
from typing import Any

from flask import Flask, g, jsonify, request
from supertokens_python import InputAppInfo, SupertokensConfig, init
from supertokens_python.framework.flask import Middleware
from supertokens_python.ingredients.emaildelivery.types import (
    EmailDeliveryConfig,
    EmailDeliveryInterface,
)
from supertokens_python.recipe import emailpassword, emailverification, passwordless, session
from supertokens_python.recipe.emailpassword.interfaces import (
    WrongCredentialsError,  # 0.31: was SignInWrongCredentialsError
)
from supertokens_python.recipe.emailpassword.syncio import sign_in, update_email_or_password
from supertokens_python.recipe.emailverification.interfaces import (
    APIInterface,
    APIOptions,
    EmailVerifyPostOkResult,
)
from supertokens_python.recipe.emailverification.syncio import (
    is_email_verified,
    send_email_verification_email,
)
from supertokens_python.recipe.passwordless import ContactEmailOrPhoneConfig
from supertokens_python.recipe.passwordless.asyncio import update_user as async_update_user
from supertokens_python.recipe.passwordless.interfaces import (
    UpdateUserEmailAlreadyExistsError,
    UpdateUserOkResult,
)
from supertokens_python.recipe.passwordless.syncio import update_user
from supertokens_python.recipe.session import SessionContainer
from supertokens_python.recipe.session.framework.flask import verify_session
from supertokens_python.recipe.session.syncio import revoke_all_sessions_for_user
from supertokens_python.syncio import get_user  # 0.31: emailpassword's get_user_by_id is gone


class Outbox(EmailDeliveryInterface[Any]):
    """Keeps each email's recipient, code and link instead of mailing them."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send_email(self, template_vars: Any, user_context: dict[str, Any]) -> None:
        email = getattr(template_vars, "email", None) or template_vars.user.email
        link = getattr(template_vars, "email_verify_link", None) or getattr(
            template_vars, "url_with_link_code", None
        )
        code = getattr(template_vars, "user_input_code", None)
        self.sent.append({"to": email, "link": link, "code": code})


def _init(core_url: str, api_url: str, api_key: str, recipe_list: list[Any]) -> Flask:
    init(
        supertokens_config=SupertokensConfig(connection_uri=core_url, api_key=api_key),
        app_info=InputAppInfo(api_domain=api_url, app_name="seeds", website_domain=api_url),
        framework="flask",
        recipe_list=recipe_list,
        mode="wsgi",
    )
    app = Flask(__name__)
    Middleware(app)
    return app


# -- seed 000: change password (steps 2 and 3) -------------------------------------------


def seed_000_app(core_url: str, api_url: str, api_key: str, outbox: Outbox) -> Flask:
    app = _init(
        core_url,
        api_url,
        api_key,
        [session.init(), emailpassword.init(email_delivery=EmailDeliveryConfig(service=outbox))],
    )

    @app.route("/change-password", methods=["POST"])
    @verify_session()
    def change_password():  # type: ignore[no-untyped-def]
        session: SessionContainer = g.supertokens
        # get the userId from the session object
        user_id = session.get_user_id()
        # get the signed in user's email from the getUserById function
        users_info = get_user(user_id)  # 0.31: get_user_by_id(user_id)
        if users_info is None:
            raise Exception("Should never come here")
        # call signin to check that the input password is correct
        isPasswordValid = sign_in(  # 0.31: sign_in(users_info.email, request.json["oldPassword"])
            session.get_tenant_id(), users_info.emails[0], request.json["oldPassword"]
        )
        if isinstance(isPasswordValid, WrongCredentialsError):
            # TODO: handle incorrect password error
            return jsonify({"status": "WRONG_CREDENTIALS_ERROR"})
        # update the users password
        update_email_or_password(  # 0.31: update_email_or_password(user_id, password=...)
            session.get_recipe_user_id(), password=request.json["newPassword"]
        )
        # Step 3
        # revoke all sessions for the user
        revoke_all_sessions_for_user(user_id)
        # revoke the user's current session, we do this to remove the auth cookies, logging out the user on the frontend  # noqa: E501
        session.sync_revoke_session()
        # TODO: send successful password update response
        return jsonify({"status": "OK"})

    return app


# -- seed 002: change email, flows 1 and 2, for passwordless users -----------------------


def override_email_verification_apis(original_implementation: APIInterface):  # type: ignore[no-untyped-def]
    original_email_verification_verify_email_post = original_implementation.email_verify_post

    async def email_verify_post(
        token: str,
        session: SessionContainer | None,
        tenant_id: str,
        api_options: APIOptions,
        user_context: dict[str, Any],
    ):  # type: ignore[no-untyped-def]
        verification_response = await original_email_verification_verify_email_post(
            token, session, tenant_id, api_options, user_context
        )

        if isinstance(verification_response, EmailVerifyPostOkResult):
            await async_update_user(  # 0.31: update_user(....user.user_id, ....user.email)
                verification_response.user.recipe_user_id, verification_response.user.email
            )

        return verification_response

    original_implementation.email_verify_post = email_verify_post
    return original_implementation


def seed_002_app(core_url: str, api_url: str, api_key: str, outbox: Outbox) -> Flask:
    delivery = EmailDeliveryConfig(service=outbox)  # added: the test reads the emails
    app = _init(
        core_url,
        api_url,
        api_key,
        [
            session.init(),  # added: the seed's init lists only its own recipes
            passwordless.init(
                flow_type="USER_INPUT_CODE_AND_MAGIC_LINK",
                contact_config=ContactEmailOrPhoneConfig(),
                email_delivery=delivery,
            ),
            emailverification.init(
                "REQUIRED",
                override=emailverification.InputOverrideConfig(
                    apis=override_email_verification_apis
                ),
                email_delivery=delivery,
            ),
        ],
    )

    # Flow 1: update email without verifying the new email
    @app.route("/change-email", methods=["POST"])
    @verify_session()
    def change_email():  # type: ignore[no-untyped-def]
        session: SessionContainer = g.supertokens
        request_body = request.get_json()
        email = str(request_body["email"])
        if request_body is None:
            # TODO: handle invalid body error
            return jsonify({"status": "INVALID_BODY_ERROR"})
        # validate the input email
        if not is_valid_email(email):
            # TODO: handle invalid email error
            return jsonify({"status": "INVALID_EMAIL_ERROR"})
        # update the users email
        user_id = session.get_user_id()
        update_response = update_user(  # 0.31: update_user(user_id, email=email)
            session.get_recipe_user_id(), email=email
        )
        if isinstance(update_response, UpdateUserOkResult):
            # TODO send successful email update response
            return jsonify({"status": "OK", "userId": user_id})
        if isinstance(update_response, UpdateUserEmailAlreadyExistsError):
            # TODO handle error, email already exists
            return jsonify({"status": "EMAIL_ALREADY_EXISTS_ERROR"})
        raise Exception("Should never reach here")

    # Flow 2: update email after verifying the new email (the seed's path is
    # /change-email too; both flows live in one app here)
    @app.route("/change-email-verified", methods=["POST"])
    @verify_session()
    def change_email_verified():  # type: ignore[no-untyped-def]
        session: SessionContainer = g.supertokens
        request_body = request.get_json()
        if request_body is None:
            # TODO: handle invalid body error
            return jsonify({"status": "INVALID_BODY_ERROR"})
        # validate the input email
        if not is_valid_email(request_body["email"]):
            # TODO: handle invalid email error
            return jsonify({"status": "INVALID_EMAIL_ERROR"})
        user_id = session.get_user_id()
        # Then, we check if the email is verified for this user ID or not.
        # It is important to understand that SuperTokens stores email verification
        # status based on the user ID AND the email, and not just the email.
        is_verified = is_email_verified(  # 0.31: is_email_verified(user_id, request_body["email"])
            session.get_recipe_user_id(), request_body["email"]
        )
        if not is_verified:
            # Create and send the email verification link to the user for the new email.
            send_email_verification_email(  # 0.31: + the recipe user ID
                session.get_tenant_id(),
                user_id,
                session.get_recipe_user_id(),
                request_body["email"],
            )
            # TODO send successful email verification response
            return jsonify({"status": "VERIFICATION_EMAIL_SENT"})
        # update the users email
        update_response = update_user(  # 0.31: update_user(user_id, email=request_body["email"])
            session.get_recipe_user_id(), email=request_body["email"]
        )
        if isinstance(update_response, UpdateUserOkResult):
            # TODO send successful email update response
            return jsonify({"status": "OK"})
        if isinstance(update_response, UpdateUserEmailAlreadyExistsError):
            # TODO handle error, email already exists
            return jsonify({"status": "EMAIL_ALREADY_EXISTS_ERROR"})
        raise Exception("Should never reach here")

    return app


def is_valid_email(value: str) -> bool:  # the seed: `async def`, never awaited (always truthy)
    return (
        fullmatch(
            r'^(([^<>()\[\]\\.,;:\s@"]+(\.[^<>()\[\]\\.,;:\s@"]+)*)|(".+"))@((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,'
            r"3}\.[0-9]{1,3}\])|(([a-zA-Z\-0-9]+\.)+[a-zA-Z]{2,}))$",
            value,
        )
        is not None
    )
