"""The emailpassword recipe: sign up, sign in and account updates with an email and a password."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from doorkeep.background import BackgroundTasks
from doorkeep.core.common import PUBLIC, email_error
from doorkeep.core.context import UserContext
from doorkeep.core.emailpassword import SignUpResult
from doorkeep.core.passwordreset import ResetTokenCreated
from doorkeep.core.services import AppCore
from doorkeep.core.users import User
from doorkeep.delivery import EmailDelivery, EmailUser, PasswordResetEmail
from doorkeep.recipes.base import Override, apply_override
from doorkeep.recipes.base import context as _ctx
from doorkeep.recipes.emailpassword.apis import EmailPasswordApis
from doorkeep.recipes.emailpassword.forms import (
    InputFormField,
    Validator,
    default_email_validator,
    password_validator,
    username_or_email_validator,
    username_validator,
)
from doorkeep.recipes.emailpassword.functions import (
    EmailPasswordFunctions,
    SignInResult,
    UpdateResult,
)
from doorkeep.recipes.session import SessionRecipe

__all__ = [
    "EmailPasswordApis",
    "EmailPasswordConfig",
    "EmailPasswordFunctions",
    "EmailPasswordRecipe",
    "InputFormField",
]


@dataclass
class EmailPasswordConfig:
    """`sign_up_form_fields` adds fields or replaces the validators of `email` and `password`."""

    sign_up_form_fields: list[InputFormField] = field(default_factory=list)
    revoke_sessions_on_password_reset: bool = True  # a reset ends every session of the user
    override_functions: Override[EmailPasswordFunctions] | None = None
    override_apis: Override[EmailPasswordApis] | None = None


class EmailPasswordRecipe:
    """Call these from application code; they go through the (possibly overridden) functions."""

    def __init__(
        self,
        core: AppCore,
        delivery: EmailDelivery,
        session: SessionRecipe,
        background: BackgroundTasks,
        config: EmailPasswordConfig | None = None,
        *,
        extend_functions: Override[EmailPasswordFunctions] | None = None,
        extend_apis: Override[EmailPasswordApis] | None = None,
    ) -> None:
        """`extend_functions` / `extend_apis`: built-in features that change steps of the
        recipe (legacy migration). They receive the recipe's own implementation, before
        the config's overrides, which then wrap them as they would the original."""
        self.core = core
        self.delivery = delivery
        self.config = config or EmailPasswordConfig()
        self.functions = apply_override(
            apply_override(EmailPasswordFunctions(core), extend_functions),
            self.config.override_functions,
        )
        self.username_login = core.ctx.settings.login_identifier == "username"
        self.sign_up_fields = _sign_up_fields(self.config.sign_up_form_fields, core)
        # Sign-in and reset take what identifies an account: an email, or a username too.
        email_field = self.sign_up_fields[0]
        self.identifier_field = (
            InputFormField("email", username_or_email_validator)
            if self.username_login
            else email_field
        )
        apis = EmailPasswordApis(self, session, background)
        self.apis = apply_override(apply_override(apis, extend_apis), self.config.override_apis)

    async def sign_up(
        self,
        email: str,
        password: str,
        tenant_id: str = PUBLIC,
        user_context: UserContext | None = None,
    ) -> SignUpResult:
        return await self.functions.sign_up(email, password, tenant_id, _ctx(user_context))

    async def sign_in(
        self,
        email: str,
        password: str,
        tenant_id: str = PUBLIC,
        user_context: UserContext | None = None,
    ) -> SignInResult:
        return await self.functions.sign_in(email, password, tenant_id, _ctx(user_context))

    async def get_user_by_id(
        self, user_id: str, user_context: UserContext | None = None
    ) -> User | None:
        return await self.functions.get_user_by_id(user_id, _ctx(user_context))

    async def get_user_by_email(
        self, email: str, tenant_id: str = PUBLIC, user_context: UserContext | None = None
    ) -> User | None:
        return await self.functions.get_user_by_email(email, tenant_id, _ctx(user_context))

    async def update_email_or_password(
        self,
        recipe_user_id: str,
        *,
        email: str | None = None,
        password: str | None = None,
        apply_password_policy: bool = True,
        tenant_id: str = PUBLIC,
        user_context: UserContext | None = None,
    ) -> UpdateResult:
        return await self.functions.update_email_or_password(
            recipe_user_id, email, password, apply_password_policy, tenant_id, _ctx(user_context)
        )

    async def send_reset_password_email(
        self, user: User, tenant_id: str = PUBLIC, user_context: UserContext | None = None
    ) -> bool:
        """Create a reset token for the user's email login and email its link."""
        ctx = _ctx(user_context)
        method = next((m for m in user.login_methods if m.recipe_id == "emailpassword"), None)
        if method is None or method.email is None:
            return False
        created = await self.functions.create_reset_password_token(
            user.id, method.email, tenant_id, ctx
        )
        if not isinstance(created, ResetTokenCreated):
            return False
        settings = self.core.ctx.settings
        base = settings.website_domain.rstrip("/") + settings.website_base_path.rstrip("/")
        link = f"{base}/reset-password?{urlencode({'token': created.token, 'tenantId': tenant_id})}"
        email_user = EmailUser(user.id, method.recipe_user_id, method.email)
        await self.delivery.send_email(PasswordResetEmail(email_user, link, tenant_id), ctx)
        return True


def _sign_up_fields(custom: list[InputFormField], core: AppCore) -> list[InputFormField]:
    """email and password first (with default validators unless replaced), then the rest.

    With username login (seed 004) the `email` field carries the username and an
    optional `actualEmail` field the address.
    """
    username_login = core.ctx.settings.login_identifier == "username"
    by_id = {f.id: f for f in custom}
    defaults = {
        "email": username_validator if username_login else default_email_validator,
        "password": password_validator(core.ctx.password_policy),
    }
    fields = []
    for field_id, validator in defaults.items():
        given = by_id.pop(field_id, None)
        fields.append(
            InputFormField(field_id, given.validate if given and given.validate else validator)
        )
    if username_login and "actualEmail" not in by_id:
        fields.append(InputFormField("actualEmail", _free_email_validator(core), optional=True))
    return fields + list(by_id.values())


def _free_email_validator(core: AppCore) -> Validator:
    async def validate(value: Any, tenant_id: str) -> str | None:
        if (message := email_error(value)) is not None:
            return message
        if await core.users.get_users_by_email(tenant_id, value):
            return "Email already in use. Please sign in, or use another email"
        return None

    return validate
