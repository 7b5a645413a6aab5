# ruff: noqa: E501, UP006, UP007, UP035, UP045, RUF036
# (the seeds' code keeps its typing.Dict / Union spelling and its long comment lines)
"""The seeds' Python code as written for the official SDK (supertokens-python 0.31.4,
framework="flask"), with `doorkeep serve` as its core.

Each view is the seed's snippet; where 0.31 renamed or re-shaped something the seed
uses, the line is changed as little as possible and marked `# 0.31:` — docs/flask.md
lists every such line next to the seed's original. The `# TODO` answers of the seed
return small JSON bodies here so that a test can tell the branches apart.

    app = seed_000_app(core_url, api_url, api_key, outbox)   # change password
    app = seed_002_app(core_url, api_url, api_key, outbox)   # change email (passwordless)
    app = seed_001_app(core_url, api_url, api_key, outbox)   # just-in-time migration
"""

from __future__ import annotations

import secrets
from re import fullmatch
from typing import Any, Dict, List, Optional, Tuple, Union

from flask import Flask, g, jsonify, request
from supertokens_python import InputAppInfo, SupertokensConfig, init
from supertokens_python.asyncio import create_user_id_mapping, list_users_by_account_info
from supertokens_python.framework.flask import Middleware
from supertokens_python.ingredients.emaildelivery.types import (
    EmailDeliveryConfig,
    EmailDeliveryInterface,
)
from supertokens_python.recipe import (
    emailpassword,
    emailverification,
    passwordless,
    session,
    usermetadata,
)
from supertokens_python.recipe.emailpassword.asyncio import (
    update_email_or_password as update_email_or_password_async,
)
from supertokens_python.recipe.emailpassword.interfaces import (
    APIInterface as EmailPasswordAPIInterface,
)
from supertokens_python.recipe.emailpassword.interfaces import (
    APIOptions as EmailPasswordAPIOptions,
)
from supertokens_python.recipe.emailpassword.interfaces import (
    EmailAlreadyExistsError,  # 0.31: was SignUpEmailAlreadyExistsError
    PasswordPolicyViolationError,
    PasswordResetPostOkResult,
    PasswordResetTokenInvalidError,  # 0.31: was PasswordResetPostInvalidTokenResponse
    RecipeInterface,
    SignInOkResult,
    SignUpOkResult,
    WrongCredentialsError,  # 0.31: was SignInWrongCredentialsError
)
from supertokens_python.recipe.emailpassword.syncio import sign_in, update_email_or_password
from supertokens_python.recipe.emailpassword.types import FormField as EmailPasswordFormField
from supertokens_python.recipe.emailverification.asyncio import (
    create_email_verification_token,
    verify_email_using_token,
)
from supertokens_python.recipe.emailverification.interfaces import (
    APIInterface,
    APIOptions,
    CreateEmailVerificationTokenOkResult,
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
from supertokens_python.recipe.usermetadata.asyncio import get_user_metadata, update_user_metadata
from supertokens_python.syncio import get_user  # 0.31: emailpassword's get_user_by_id is gone
from supertokens_python.types import GeneralErrorResponse, User
from supertokens_python.types.base import AccountInfoInput


class Outbox(EmailDeliveryInterface[Any]):
    """Keeps each email's recipient, code and link instead of mailing them."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send_email(self, template_vars: Any, user_context: dict[str, Any]) -> None:
        email = getattr(template_vars, "email", None) or template_vars.user.email
        link = (
            getattr(template_vars, "email_verify_link", None)
            or getattr(template_vars, "password_reset_link", None)
            or getattr(template_vars, "url_with_link_code", None)
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
        # revoke the user's current session, we do this to remove the auth cookies, logging out the user on the frontend
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


# -- seed 001: just-in-time migration (steps 1, 2+5, 3, 4) --------------------------------
#
# The seed's Python for steps 1, 2, 4 and 5 (step 5's sign_in contains step 2's). The seed's
# Python tab for step 3 repeats step 2, so step 3 is translated from its NodeJS tab. The
# external provider's functions are the seed's TODOs, answered from LEGACY_USERS.

LEGACY_USERS: Dict[str, Tuple[str, str, bool]] = {}  # email -> (user_id, password, verified)
# Steps 2 and 3 create the account of an address the provider knows: step 1's override of
# sign_up refuses exactly those, so they call the sign-up it wraps (kept here).
UNCHECKED_SIGN_UP: List[Any] = []


class ExternalUserInfo:
    def __init__(self, user_id: str, isEmailVerified: bool):
        self.user_id: str = user_id
        self.isEmailVerified: bool = isEmailVerified


async def does_user_exist_in_external_provider(email: str):  # type: ignore[no-untyped-def]
    return email in LEGACY_USERS


async def validate_and_get_user_info_from_external_provider(
    email: str, password: str
) -> Union[None, ExternalUserInfo]:
    known = LEGACY_USERS.get(email)
    if known is None or known[1] != password:
        return None
    return ExternalUserInfo(known[0], known[2])


async def retrieve_user_data_from_external_provider(email: str) -> Union[None, ExternalUserInfo]:
    known = LEGACY_USERS.get(email)
    return None if known is None else ExternalUserInfo(known[0], known[2])


async def get_user_by_email(tenant_id: str, email: str) -> Optional[User]:
    """0.31: emailpassword's get_user_by_email is gone; the email/password user of an address."""
    users = await list_users_by_account_info(tenant_id, AccountInfoInput(email=email))
    return next(
        (u for u in users if any(m.recipe_id == "emailpassword" for m in u.login_methods)), None
    )


def override_email_password_functions(original_implementation: RecipeInterface):  # type: ignore[no-untyped-def]
    original_sign_up = original_implementation.sign_up
    original_sign_in = original_implementation.sign_in
    UNCHECKED_SIGN_UP[:] = [original_sign_up]

    # Step 1
    async def sign_up(
        email: str,
        password: str,
        tenant_id: str,
        session: Optional[SessionContainer],  # 0.31: added
        should_try_linking_with_session_user: Optional[bool],  # 0.31: added
        user_context: Dict[str, Any],
    ) -> Union[SignUpOkResult, EmailAlreadyExistsError]:  # 0.31: SignUpEmailAlreadyExistsError
        # check if the user signing in exists in the external provider
        if await does_user_exist_in_external_provider(email):
            # Return SignUpEmailAlreadyExistsError since the user exists in the external provider
            return EmailAlreadyExistsError()  # 0.31: SignUpEmailAlreadyExistsError()
        return await original_sign_up(  # 0.31: + session, should_try_linking_with_session_user
            email, password, tenant_id, session, should_try_linking_with_session_user, user_context
        )

    # Step 5 (and step 2)
    async def sign_in(
        email: str,
        password: str,
        tenant_id: str,
        session: Optional[SessionContainer],  # 0.31: added
        should_try_linking_with_session_user: Optional[bool],  # 0.31: added
        user_context: Dict[str, Any],
    ) -> Union[SignInOkResult, WrongCredentialsError]:  # 0.31: SignInWrongCredentialsError
        # check if the user exists in SuperTokens
        supertokens_user = await get_user_by_email(tenant_id, email)
        if supertokens_user is None:
            # EmailPassword user with the input credentials does not exist in SuperTokens
            # Check if the input credentials are valid in the external provider
            legacy_user_info = await validate_and_get_user_info_from_external_provider(
                email, password
            )
            if legacy_user_info is None:
                # Credentials are incorrect
                return WrongCredentialsError()  # 0.31: SignInWrongCredentialsError()
            # Call the signup function to create a new SuperTokens user
            sign_up_response = await original_sign_up(  # the seed: sign_up(email, password, tenant_id, user_context)
                email, password, tenant_id, None, False, user_context
            )
            if isinstance(
                sign_up_response, EmailAlreadyExistsError
            ):  # 0.31: SignUpEmailAlreadyExistsError
                raise Exception("Should never come here")
            assert isinstance(sign_up_response, SignUpOkResult)  # added: for the type checker
            # Map the external provider's user_id to the SuperTokens user_id
            await create_user_id_mapping(
                sign_up_response.user.id, legacy_user_info.user_id
            )  # 0.31: .user.user_id
            # Set the user_id in the response to use the provider's userId
            sign_up_response.user.id = legacy_user_info.user_id  # 0.31: .user.user_id
            # We will also need to set the email verification status of the user
            if legacy_user_info.isEmailVerified:
                generate_email_verification_token_response = await create_email_verification_token(
                    tenant_id, sign_up_response.recipe_user_id, email
                )  # 0.31: sign_up_response.user.user_id
                if isinstance(
                    generate_email_verification_token_response, CreateEmailVerificationTokenOkResult
                ):
                    # Verify the user's email
                    await verify_email_using_token(
                        tenant_id, generate_email_verification_token_response.token
                    )
            return SignInOkResult(  # 0.31: SignInOkResult(sign_up_response.user)
                sign_up_response.user, sign_up_response.recipe_user_id
            )
        # Check if the user signing in has a temporary password
        metadata_result = await get_user_metadata(
            supertokens_user.id, user_context
        )  # 0.31: supertokens_user.user_id
        if (
            metadata_result.metadata.get("isUsingTemporaryPassword") is not None
        ):  # the seed: ["isUsingTemporaryPassword"]
            # Check if the input credentials are valid in the external provider
            legacy_user_info = await validate_and_get_user_info_from_external_provider(
                email, password
            )
            recipe_user_id = supertokens_user.login_methods[0].recipe_user_id  # 0.31: added
            if legacy_user_info is not None:
                # Update the user's password with the correct password
                await update_email_or_password_async(  # 0.31: (supertokens_user.user_id, None, ...)
                    recipe_user_id, None, password, False, tenant_id, user_context
                )
                # Update the user's metadata to remove the isUsingTemporaryPassword flag
                await update_user_metadata(
                    supertokens_user.id,
                    {  # 0.31: .user_id
                        "isUsingTemporaryPassword": None
                    },
                )
                return SignInOkResult(supertokens_user, recipe_user_id)  # 0.31: + recipe_user_id
            return WrongCredentialsError()  # 0.31: SignInWrongCredentialsError()
        return await original_sign_in(  # 0.31: + session, should_try_linking_with_session_user
            email, password, tenant_id, session, should_try_linking_with_session_user, user_context
        )

    original_implementation.sign_up = sign_up
    original_implementation.sign_in = sign_in
    return original_implementation


def override_email_password_apis(original_implementation: EmailPasswordAPIInterface):  # type: ignore[no-untyped-def]
    original_password_reset_post = original_implementation.password_reset_post
    original_generate = original_implementation.generate_password_reset_token_post

    # Step 3, translated from the seed's NodeJS tab (its Python tab repeats step 2)
    async def generate_password_reset_token_post(
        form_fields: List[EmailPasswordFormField],
        tenant_id: str,
        api_options: EmailPasswordAPIOptions,
        user_context: Dict[str, Any],
    ):  # type: ignore[no-untyped-def]
        # retrieve the email from the input
        email = next(f.value for f in form_fields if f.id == "email")
        # Check if the user exists in SuperTokens
        supertokens_user = await get_user_by_email(tenant_id, email)
        if supertokens_user is None:
            # check if the user exists in the external provider
            legacy_user_info = await retrieve_user_data_from_external_provider(email)
            if legacy_user_info is not None:
                # create a SuperTokens account for the user with a temporary password
                temp_password = secrets.token_urlsafe(24) + "7"
                sign_up_response = await UNCHECKED_SIGN_UP[0](
                    email, temp_password, tenant_id, None, False, user_context
                )
                if not isinstance(sign_up_response, SignUpOkResult):
                    raise Exception("Should never come here")
                # Map the external provider's userId to the SuperTokens userId
                await create_user_id_mapping(sign_up_response.user.id, legacy_user_info.user_id)
                # We will also need to set the email verification status of the user
                if legacy_user_info.isEmailVerified:
                    token = await create_email_verification_token(
                        tenant_id, sign_up_response.recipe_user_id, email
                    )
                    if isinstance(token, CreateEmailVerificationTokenOkResult):
                        await verify_email_using_token(tenant_id, token.token)
                # We also need to identify that the user is using a temporary password
                await update_user_metadata(
                    legacy_user_info.user_id, {"isUsingTemporaryPassword": True}
                )
        return await original_generate(form_fields, tenant_id, api_options, user_context)

    # Step 4
    async def password_reset_post(
        form_fields: List[EmailPasswordFormField],
        token: str,
        tenant_id: str,
        api_options: EmailPasswordAPIOptions,
        user_context: Dict[str, Any],
    ) -> Union[
        PasswordResetPostOkResult,
        PasswordResetTokenInvalidError,  # 0.31: PasswordResetPostInvalidTokenResponse
        PasswordPolicyViolationError,  # 0.31: added
        GeneralErrorResponse,
    ]:
        response = await original_password_reset_post(
            form_fields, token, tenant_id, api_options, user_context
        )
        if (
            isinstance(response, PasswordResetPostOkResult) and response.user.id is not None
        ):  # 0.31: response.user_id
            # Check that the user has the isUsingTemporaryPassword flag set in their metadata
            metadata_result = await get_user_metadata(
                response.user.id, user_context
            )  # 0.31: response.user_id
            if (
                metadata_result.metadata.get("isUsingTemporaryPassword") is not None
            ):  # the seed: ["isUsingTemporaryPassword"]
                # Since the password has been successfully reset, we can remove the isUsingTemporaryPassword flag
                await update_user_metadata(
                    response.user.id,
                    {  # 0.31: response.user_id
                        "isUsingTemporaryPassword": None
                    },
                )
        return response

    original_implementation.generate_password_reset_token_post = generate_password_reset_token_post
    original_implementation.password_reset_post = password_reset_post
    return original_implementation


def seed_001_app(core_url: str, api_url: str, api_key: str, outbox: Outbox) -> Flask:
    app = _init(
        core_url,
        api_url,
        api_key,
        [
            session.init(),
            emailpassword.init(
                override=emailpassword.InputOverrideConfig(
                    functions=override_email_password_functions,
                    apis=override_email_password_apis,
                ),
                email_delivery=EmailDeliveryConfig(service=outbox),
            ),
            emailverification.init("OPTIONAL", email_delivery=EmailDeliveryConfig(service=outbox)),
            usermetadata.init(),
        ],
    )

    @app.get("/me")
    @verify_session()
    def me():  # type: ignore[no-untyped-def]
        return jsonify({"userId": g.supertokens.get_user_id()})

    # 0.31's sign-in API answers WRONG_CREDENTIALS_ERROR for an address without an
    # account before it calls the recipe's sign_in, so the seed's override of that
    # *function* (step 2) never runs from the sign-in form for a user not yet migrated.
    # The seed notes the function also runs "if you call the signIn function manually":
    # this route does, as a migration endpoint would.
    @app.route("/migrate", methods=["POST"])
    def migrate():  # type: ignore[no-untyped-def]
        result = sign_in("public", request.json["email"], request.json["password"])
        if isinstance(result, SignInOkResult):
            return jsonify({"status": "OK", "userId": result.user.id})
        return jsonify({"status": result.status})

    return app
