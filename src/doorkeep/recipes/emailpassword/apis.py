"""The emailpassword recipe's overridable API handlers (the FDI endpoints' logic)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from doorkeep.core.common import FieldError, Status, UnknownTenantError
from doorkeep.core.context import UserContext
from doorkeep.core.emailpassword import (
    EmailAlreadyExistsError,
    SignInOk,
    SignUpOk,
    UsernameAlreadyExistsError,
)
from doorkeep.core.passwordreset import InvalidResetTokenError, ResetTokenConsumed
from doorkeep.core.users import User
from doorkeep.recipes.apis import APIOptions, GeneralError, OkResult
from doorkeep.recipes.emailpassword.forms import FormField
from doorkeep.recipes.session.request import Session, sign_in_session

if TYPE_CHECKING:
    from doorkeep.background import BackgroundTasks
    from doorkeep.core.emailpassword import WrongCredentialsError
    from doorkeep.recipes.emailpassword import EmailPasswordConfig, EmailPasswordRecipe
    from doorkeep.recipes.session import SessionRecipe

EMAIL_EXISTS_MESSAGE = "This email already exists. Please sign in instead."
USERNAME_EXISTS_MESSAGE = "This username already exists. Please sign in instead."
ACTUAL_EMAIL_EXISTS_MESSAGE = "Email already in use. Please sign in, or use another email"
NO_EMAIL_MESSAGE = (
    "This account has no email address to send a reset link to. Please contact support."
)


@dataclass(frozen=True)
class SignUpPostOk(Status):
    user: User
    session: Session


@dataclass(frozen=True)
class SignInPostOk(Status):
    user: User
    session: Session


@dataclass(frozen=True)
class EmailExistsOk(Status):
    exists: bool


@dataclass(frozen=True)
class PasswordResetNotAllowed(Status):
    status: ClassVar[str] = "PASSWORD_RESET_NOT_ALLOWED"
    reason: str


def field_value(form_fields: list[FormField], field_id: str) -> str:
    return next(str(f.value) for f in form_fields if f.id == field_id)


class EmailPasswordApis:
    """Replace any method (see doorkeep.recipes.base) to change what an endpoint does.

    Built with what the handlers use: the recipe (its overridable functions, forms and
    emails), the session recipe (a sign-in's new session) and the background tasks
    (the reset email, sent after the answer)."""

    def __init__(
        self,
        recipe: EmailPasswordRecipe,
        session_recipe: SessionRecipe,
        background: BackgroundTasks,
    ) -> None:
        self.recipe = recipe
        self.session_recipe = session_recipe
        self.background = background

    async def sign_up_post(
        self,
        form_fields: list[FormField],
        tenant_id: str,
        api_options: APIOptions[EmailPasswordConfig],
        user_context: UserContext,
    ) -> SignUpPostOk | FieldError | GeneralError:
        email, password = field_value(form_fields, "email"), field_value(form_fields, "password")
        functions = self.recipe.functions
        if self.recipe.username_login:
            actual_email = next((str(f.value) for f in form_fields if f.id == "actualEmail"), None)
            result = await functions.sign_up_with_username(
                email, actual_email or None, password, tenant_id, user_context
            )
        else:
            result = await functions.sign_up(email, password, tenant_id, user_context)
        if isinstance(result, UsernameAlreadyExistsError):
            return FieldError.one("email", USERNAME_EXISTS_MESSAGE)
        if isinstance(result, EmailAlreadyExistsError):
            if self.recipe.username_login:
                return FieldError.one("actualEmail", ACTUAL_EMAIL_EXISTS_MESSAGE)
            return FieldError.one("email", EMAIL_EXISTS_MESSAGE)
        if isinstance(result, UnknownTenantError):
            return GeneralError("Tenant not found")
        if not isinstance(result, SignUpOk):
            return result
        session = await sign_in_session(
            self.session_recipe,
            api_options.request,
            result.user.id,
            result.recipe_user_id,
            tenant_id,
            user_context,
        )
        return SignUpPostOk(result.user, session)

    async def sign_in_post(
        self,
        form_fields: list[FormField],
        tenant_id: str,
        api_options: APIOptions[EmailPasswordConfig],
        user_context: UserContext,
    ) -> SignInPostOk | WrongCredentialsError | GeneralError:
        email, password = field_value(form_fields, "email"), field_value(form_fields, "password")
        result = await self.recipe.functions.sign_in(email, password, tenant_id, user_context)
        if not isinstance(result, SignInOk):
            return result
        session = await sign_in_session(
            self.session_recipe,
            api_options.request,
            result.user.id,
            result.recipe_user_id,
            tenant_id,
            user_context,
        )
        return SignInPostOk(result.user, session)

    async def generate_password_reset_token_post(
        self,
        form_fields: list[FormField],
        tenant_id: str,
        api_options: APIOptions[EmailPasswordConfig],
        user_context: UserContext,
    ) -> OkResult | PasswordResetNotAllowed | GeneralError:
        """Email a reset link if the account exists; answer OK either way, at once.

        The lookup and the email happen after the answer, so neither the body nor
        the timing of the response tells whether the account exists.
        """
        recipe = self.recipe
        email = field_value(form_fields, "email")
        if recipe.username_login:
            # Seed 004: a username without an email is told to contact support. (A
            # username is a public handle, so saying it exists reveals little.)
            user = await recipe.functions.get_user_by_identifier(email, tenant_id, user_context)
            if user is not None and user.password_login_email is None:
                return GeneralError(NO_EMAIL_MESSAGE)

        self.background.spawn(
            self.send_reset_email_if_known(email, tenant_id, user_context),
            name="password reset email",
        )
        return OkResult()

    async def send_reset_email_if_known(
        self, identifier: str, tenant_id: str, user_context: UserContext
    ) -> None:
        """The work of a reset request, run after the answer: email the link if the
        account exists. Whatever an override adds here (the legacy migration asks its
        provider) cannot change the answer or its timing either."""
        recipe = self.recipe
        user = await recipe.functions.get_user_by_identifier(identifier, tenant_id, user_context)
        if user is not None and user.password_login_email is not None:
            await recipe.send_reset_password_email(user, tenant_id, user_context)

    async def password_reset_post(
        self,
        form_fields: list[FormField],
        token: str,
        tenant_id: str,
        api_options: APIOptions[EmailPasswordConfig],
        user_context: UserContext,
    ) -> ResetTokenConsumed | InvalidResetTokenError | FieldError | GeneralError:
        new_password = field_value(form_fields, "password")
        result = await self.recipe.functions.reset_password_using_token(
            token, new_password, tenant_id, user_context
        )
        if isinstance(result, ResetTokenConsumed):
            # The link proves the mailbox: the address counts as verified from now on.
            await self.recipe.core.emailverification.mark_verified(result.user_id, result.email)
            if self.recipe.config.revoke_sessions_on_password_reset:
                await self.session_recipe.functions.revoke_all_sessions_for_user(
                    result.user_id, None, user_context
                )
        return result

    async def email_exists_get(
        self,
        email: str,
        tenant_id: str,
        api_options: APIOptions[EmailPasswordConfig],
        user_context: UserContext,
    ) -> EmailExistsOk:
        user = await self.recipe.functions.get_user_by_identifier(email, tenant_id, user_context)
        return EmailExistsOk(user is not None)
