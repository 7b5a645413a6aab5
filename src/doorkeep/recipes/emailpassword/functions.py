"""The emailpassword recipe's overridable functions (SuperTokens' RecipeInterface)."""

from __future__ import annotations

from doorkeep.core.common import FieldError, UnknownUserIdError
from doorkeep.core.context import UserContext
from doorkeep.core.emailpassword import (
    EmailAlreadyExistsError,
    SignInOk,
    SignUpResult,
    UpdateOk,
    WrongCredentialsError,
)
from doorkeep.core.passwordreset import (
    InvalidResetTokenError,
    ResetTokenConsumed,
    ResetTokenCreated,
)
from doorkeep.core.services import AppCore
from doorkeep.core.users import User

SignInResult = SignInOk | WrongCredentialsError
UpdateResult = UpdateOk | UnknownUserIdError | EmailAlreadyExistsError | FieldError


class EmailPasswordFunctions:
    """Business operations of email/password accounts. Replace any method to change it."""

    def __init__(self, core: AppCore) -> None:
        self.core = core

    async def sign_up(
        self, email: str, password: str, tenant_id: str, user_context: UserContext
    ) -> SignUpResult:
        return await self.core.emailpassword.sign_up(tenant_id, email, password)

    async def sign_up_with_username(
        self,
        username: str,
        email: str | None,
        password: str,
        tenant_id: str,
        user_context: UserContext,
    ) -> SignUpResult:
        return await self.core.emailpassword.sign_up(tenant_id, email, password, username=username)

    async def sign_in(
        self, email: str, password: str, tenant_id: str, user_context: UserContext
    ) -> SignInResult:
        return await self.core.emailpassword.sign_in(tenant_id, email, password)

    async def get_user_by_id(self, user_id: str, user_context: UserContext) -> User | None:
        return await self.core.users.get_user(user_id)

    async def get_user_by_identifier(
        self, identifier: str, tenant_id: str, user_context: UserContext
    ) -> User | None:
        """A user by email or, with username login, by username."""
        return await self.core.users.get_user_by_identifier(tenant_id, identifier)

    async def get_user_by_email(
        self, email: str, tenant_id: str, user_context: UserContext
    ) -> User | None:
        users = await self.core.users.get_users_by_email(tenant_id, email)
        return users[0] if users else None

    async def update_email_or_password(
        self,
        recipe_user_id: str,
        email: str | None,
        password: str | None,
        apply_password_policy: bool,
        tenant_id: str,
        user_context: UserContext,
    ) -> UpdateResult:
        return await self.core.emailpassword.update_email_or_password(
            recipe_user_id,
            email=email,
            password=password,
            apply_password_policy=apply_password_policy,
        )

    async def create_reset_password_token(
        self, user_id: str, email: str, tenant_id: str, user_context: UserContext
    ) -> ResetTokenCreated | UnknownUserIdError:
        return await self.core.passwordreset.create_token(user_id, email, tenant_id)

    async def consume_password_reset_token(
        self, token: str, tenant_id: str, user_context: UserContext
    ) -> ResetTokenConsumed | InvalidResetTokenError:
        return await self.core.passwordreset.consume_token(token, tenant_id)

    async def reset_password_using_token(
        self, token: str, new_password: str, tenant_id: str, user_context: UserContext
    ) -> ResetTokenConsumed | InvalidResetTokenError | FieldError:
        """Spend the token and set the password in one transaction."""
        return await self.core.passwordreset.reset_password(token, new_password, tenant_id)
