"""Seed 001 (just-in-time migration from a legacy provider) in a Flask app on doorkeep:
the seed's overrides, step by step, written against doorkeep's recipes.

1. sign-up is refused for an address the legacy provider knows;
2. sign-in of an unknown address checks the legacy provider, and on success creates
   the account with the same password, maps the legacy user ID and copies the
   verification status;
3. a reset request for an address only the legacy provider knows creates the account
   with a temporary password (flagged `isUsingTemporaryPassword` in its metadata);
4. a completed reset clears the flag;
5. signing in to a flagged account checks the legacy provider, and on success keeps
   that password and clears the flag.

The legacy provider is passed in (`ExternalProvider`); the seed leaves it a TODO.
(doorkeep also ships this flow built in: `DOORKEEP_LEGACY_PROVIDER_URL`.)
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from flask import Flask, g, jsonify
from flask.typing import ResponseReturnValue

from doorkeep import Doorkeep as CoreDoorkeep
from doorkeep import Settings
from doorkeep.core.context import UserContext
from doorkeep.core.emailpassword import (
    EmailAlreadyExistsError,
    SignInOk,
    SignUpOk,
    WrongCredentialsError,
)
from doorkeep.core.emailverification import TokenCreated
from doorkeep.core.passwordreset import ResetTokenConsumed
from doorkeep.integrations.flask import Doorkeep, verify_session
from doorkeep.recipes.emailpassword import (
    EmailPasswordApis,
    EmailPasswordConfig,
    EmailPasswordFunctions,
)
from doorkeep.recipes.emailpassword.forms import FormField

TEMPORARY_PASSWORD_FLAG = "isUsingTemporaryPassword"


@dataclass(frozen=True)
class ExternalUserInfo:
    user_id: str
    is_email_verified: bool


class ExternalProvider(Protocol):
    async def validate_and_get_user_info(
        self, email: str, password: str
    ) -> ExternalUserInfo | None: ...

    async def retrieve_user_data(self, email: str) -> ExternalUserInfo | None: ...


class NoExternalProvider:
    """The seed's placeholder: nobody exists elsewhere."""

    async def validate_and_get_user_info(self, email: str, password: str) -> None:
        return None

    async def retrieve_user_data(self, email: str) -> None:
        return None


def create_app(
    config: Mapping[str, Any] | None = None, provider: ExternalProvider | None = None
) -> Flask:
    app = Flask(__name__)
    app.config.update(config or {})
    legacy = provider or NoExternalProvider()
    Doorkeep(app, create=lambda settings: build_doorkeep(settings, legacy))

    @app.get("/me")
    @verify_session()
    def me() -> ResponseReturnValue:
        return jsonify({"userId": g.supertokens.get_user_id()})

    return app


def build_doorkeep(settings: Settings, provider: ExternalProvider) -> CoreDoorkeep:
    dk: CoreDoorkeep  # the overrides reach the other recipes through it, once built
    unchecked_sign_up: Any = None  # sign-up without step 1's check (steps 2 and 3 use it)

    async def import_legacy_user(
        original_sign_up: Any,
        email: str,
        password: str,
        info: ExternalUserInfo,
        tenant_id: str,
        user_context: UserContext,
    ) -> SignUpOk:
        """Create the account, map the legacy user ID, copy the verification status."""
        sign_up_response = await original_sign_up(email, password, tenant_id, user_context)
        if not isinstance(sign_up_response, SignUpOk):
            raise Exception("Should never come here")
        # Map the external provider's user_id to doorkeep's user_id
        await dk.useridmapping.create_user_id_mapping(sign_up_response.user.id, info.user_id)
        if info.is_email_verified:
            created = await dk.emailverification.create_email_verification_token(
                tenant_id, info.user_id, email
            )
            if isinstance(created, TokenCreated):
                await dk.emailverification.verify_email_using_token(tenant_id, created.token)
        # Set the user_id in the response to use the provider's userId
        user = dataclasses.replace(sign_up_response.user, id=info.user_id)
        return dataclasses.replace(sign_up_response, user=user)

    def override_email_password_functions(
        original_implementation: EmailPasswordFunctions,
    ) -> EmailPasswordFunctions:
        nonlocal unchecked_sign_up
        original_sign_up = unchecked_sign_up = original_implementation.sign_up
        original_sign_in = original_implementation.sign_in

        async def sign_up(
            email: str, password: str, tenant_id: str, user_context: UserContext
        ) -> Any:
            # Step 1: check if the user signing up exists in the external provider
            if await provider.retrieve_user_data(email) is not None:
                return EmailAlreadyExistsError()
            return await original_sign_up(email, password, tenant_id, user_context)

        async def sign_in(
            email: str, password: str, tenant_id: str, user_context: UserContext
        ) -> SignInOk | WrongCredentialsError:
            # check if the user exists in doorkeep
            user = await original_implementation.get_user_by_email(email, tenant_id, user_context)
            if user is None:
                # Step 2: check if the input credentials are valid in the external provider
                info = await provider.validate_and_get_user_info(email, password)
                if info is None:
                    return WrongCredentialsError()
                created = await import_legacy_user(
                    original_sign_up, email, password, info, tenant_id, user_context
                )
                return SignInOk(created.user, created.recipe_user_id)
            # Step 5: check if the user signing in has a temporary password
            metadata = await dk.usermetadata.get_user_metadata(user.id, user_context)
            if metadata.get(TEMPORARY_PASSWORD_FLAG) is not None:
                info = await provider.validate_and_get_user_info(email, password)
                if info is None:
                    return WrongCredentialsError()
                # Replace the temporary password with the valid password
                await original_implementation.update_email_or_password(
                    user.id, None, password, False, tenant_id, user_context
                )
                await dk.usermetadata.update_user_metadata(
                    user.id, {TEMPORARY_PASSWORD_FLAG: None}, user_context
                )
                return SignInOk(user, user.login_methods[0].recipe_user_id)
            return await original_sign_in(email, password, tenant_id, user_context)

        original_implementation.sign_up = sign_up  # type: ignore[method-assign]
        original_implementation.sign_in = sign_in  # type: ignore[method-assign]
        return original_implementation

    def override_email_password_apis(
        original_implementation: EmailPasswordApis,
    ) -> EmailPasswordApis:
        original_generate = original_implementation.generate_password_reset_token_post
        original_reset = original_implementation.password_reset_post

        async def generate_password_reset_token_post(
            form_fields: list[FormField],
            tenant_id: str,
            api_options: Any,
            user_context: UserContext,
        ) -> Any:
            # Step 3: retrieve the email from the input
            email = next(str(f.value) for f in form_fields if f.id == "email")
            user = await dk.emailpassword.get_user_by_email(email, tenant_id, user_context)
            if user is None:
                info = await provider.retrieve_user_data(email)
                if info is not None:
                    # create an account for the user with a temporary password
                    temporary_password = secrets.token_urlsafe(24)
                    await import_legacy_user(
                        unchecked_sign_up,
                        email,
                        temporary_password,
                        info,
                        tenant_id,
                        user_context,
                    )
                    # mark the account as using a temporary password
                    await dk.usermetadata.update_user_metadata(
                        info.user_id, {TEMPORARY_PASSWORD_FLAG: True}, user_context
                    )
            return await original_generate(form_fields, tenant_id, api_options, user_context)

        async def password_reset_post(
            form_fields: list[FormField],
            token: str,
            tenant_id: str,
            api_options: Any,
            user_context: UserContext,
        ) -> Any:
            response = await original_reset(
                form_fields, token, tenant_id, api_options, user_context
            )
            if isinstance(response, ResetTokenConsumed):
                # Step 4: the password was reset, so the temporary one is gone
                metadata = await dk.usermetadata.get_user_metadata(response.user_id, user_context)
                if metadata.get(TEMPORARY_PASSWORD_FLAG) is not None:
                    await dk.usermetadata.update_user_metadata(
                        response.user_id, {TEMPORARY_PASSWORD_FLAG: None}, user_context
                    )
            return response

        original_implementation.generate_password_reset_token_post = (
            generate_password_reset_token_post  # type: ignore[method-assign]
        )
        original_implementation.password_reset_post = password_reset_post  # type: ignore[method-assign]
        return original_implementation

    dk = CoreDoorkeep(
        settings,
        emailpassword=EmailPasswordConfig(
            override_functions=override_email_password_functions,
            override_apis=override_email_password_apis,
        ),
    )
    return dk


app = create_app()
