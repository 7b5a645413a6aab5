"""Seed 002 — SuperTokens' "allow users to change their email" guide for the passwordless
recipe — written against doorkeep's own API (FastAPI), both flows.

The seed runs `passwordless.init(flow_type="USER_INPUT_CODE_AND_MAGIC_LINK",
contact_config=ContactEmailOrPhoneConfig())`; here that is
`DOORKEEP_PASSWORDLESS=email_or_phone` and `DOORKEEP_PASSWORDLESS_FLOW=code_and_link`.

- Flow 1 (`POST /change-email`): validate the address, `update_user`, answer OK or
  EMAIL_ALREADY_EXISTS_ERROR.
- Flow 2 (`POST /change-email-verified`): an address not yet verified for this user gets
  a verification link (unless another user of a tenant of this one holds it); the
  email-verification API is overridden so that a verified address is written to the user
  with `update_user` — the seed's step 3.

doorkeep also ships both flows built in (`POST /auth/user/email/change`, the change-email
page; docs/passwordless.md); this file shows the seed's hand-written version still takes
only a few lines. EMAIL_CHANGE_NOT_ALLOWED_ERROR, which the seed gets from account
linking, never comes here: doorkeep has no account linking.

Run: DOORKEEP_DATABASE_URL=sqlite:///example.sqlite3 DOORKEEP_PASSWORDLESS=email_or_phone \
     uvicorn examples.passwordless_change_email:app
"""

from __future__ import annotations

from re import fullmatch
from typing import Any

from fastapi import Depends, FastAPI, Request

from doorkeep import Doorkeep, Settings
from doorkeep.core.context import UserContext
from doorkeep.core.emailverification import EmailVerified, InvalidVerificationTokenError
from doorkeep.integrations.fastapi import Session, install, verify_session
from doorkeep.recipes.apis import APIOptions
from doorkeep.recipes.emailverification import EmailVerificationApis, EmailVerificationConfig
from doorkeep.recipes.passwordless import PasswordlessConfig


def create_doorkeep(settings: Settings, switched: list[str] | None = None) -> Doorkeep:
    """Doorkeep with the seed's recipes: passwordless (code and link, email or phone) and
    email verification REQUIRED, its `verify_email_post` overridden (step 3). `switched`
    records each address the override writes (the example's test reads it)."""
    built: list[Doorkeep] = []

    def override_email_verification_apis(
        original_implementation: EmailVerificationApis,
    ) -> EmailVerificationApis:
        original_verify_email_post = original_implementation.verify_email_post

        async def verify_email_post(
            token: str,
            session: Session | None,
            tenant_id: str,
            api_options: APIOptions[EmailVerificationConfig],
            user_context: UserContext,
        ) -> EmailVerified | InvalidVerificationTokenError:
            response = await original_verify_email_post(
                token, session, tenant_id, api_options, user_context
            )
            if isinstance(response, EmailVerified):
                # This will update the email of the user to the one that was just marked
                # as verified by the token.
                await built[0].passwordless.update_user(response.user_id, email=response.email)
                if switched is not None:
                    switched.append(response.email)
            return response

        # The seed replaces the method on the instance, as its overrides do.
        original_implementation.verify_email_post = verify_email_post  # type: ignore[method-assign]
        return original_implementation

    dk = Doorkeep(
        settings,
        passwordless=PasswordlessConfig(),  # the contact method and flow type from settings
        emailverification=EmailVerificationConfig(
            mode="REQUIRED", override_apis=override_email_verification_apis
        ),
    )
    built.append(dk)
    return dk


def create_app(dk: Doorkeep) -> FastAPI:
    app = FastAPI()
    install(app, dk)

    # Flow 1: update the email without verifying the new one.
    @app.post("/change-email")
    async def change_email(
        request: Request, session: Session = Depends(verify_session())
    ) -> dict[str, Any]:
        body = await request.json()
        email = body.get("email") if isinstance(body, dict) else None
        # Validate the input email
        if not isinstance(email, str) or not is_valid_email(email):
            return {"status": "INVALID_EMAIL_ERROR"}
        # Update the email
        response = await dk.passwordless.update_user(session.get_recipe_user_id(), email=email)
        if response.status == "OK":
            return {"status": "OK"}
        if response.status == "EMAIL_ALREADY_EXISTS_ERROR":
            return {"status": "EMAIL_ALREADY_EXISTS_ERROR"}
        raise RuntimeError("Should never come here")

    # Flow 2: update the email once the new one is verified.
    @app.post("/change-email-verified")
    async def change_email_verified(
        request: Request, session: Session = Depends(verify_session())
    ) -> dict[str, Any]:
        body = await request.json()
        email = body.get("email") if isinstance(body, dict) else None
        if not isinstance(email, str) or not is_valid_email(email):
            return {"status": "INVALID_EMAIL_ERROR"}
        user_id = session.get_user_id()
        # Verification is stored per user ID AND email, not per email.
        if not await dk.emailverification.is_email_verified(user_id, email):
            # Before sending a link, check that no other user of any of this user's tenants
            # holds the email (the user may belong to several tenants).
            user = await dk.get_user(user_id)
            for tenant_id in user.tenant_ids if user else ():
                holder = await dk.passwordless.get_user_by_email(email, tenant_id)
                if holder is not None and holder.id != user_id:
                    return {"status": "EMAIL_ALREADY_EXISTS_ERROR"}
            # Create and send the email verification link for the new email.
            await dk.emailverification.send_verification_email(
                user_id, email, session.get_tenant_id(), recipe_user_id=session.recipe_user_id
            )
            return {"status": "VERIFICATION_EMAIL_SENT"}
        # Since the email is verified, try an update.
        response = await dk.passwordless.update_user(session.get_recipe_user_id(), email=email)
        if response.status == "OK":
            return {"status": "OK"}
        if response.status == "EMAIL_ALREADY_EXISTS_ERROR":
            return {"status": "EMAIL_ALREADY_EXISTS_ERROR"}
        raise RuntimeError("Should never come here")

    return app


def is_valid_email(value: str) -> bool:
    return (
        fullmatch(
            r'^(([^<>()\[\]\\.,;:\s@"]+(\.[^<>()\[\]\\.,;:\s@"]+)*)|(".+"))@((\[[0-9]{1,3}\.[0-9]{1,3}'
            r"\.[0-9]{1,3}\.[0-9]{1,3}\])|(([a-zA-Z\-0-9]+\.)+[a-zA-Z]{2,}))$",
            value,
        )
        is not None
    )


app = create_app(create_doorkeep(Settings.from_env()))
