"""The passwordless recipe's overridable API handlers (the five FDI endpoints' logic).

The flow (flows/passwordless.py) checks the request's shape and counts the abuse limits
before it calls these; a handler does the recipe's work and answers SuperTokens' status
values. Replace any method (see doorkeep.recipes.base) to change what an endpoint does,
e.g. return `SignInUpNotAllowed` for contacts an application refuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from doorkeep.core.common import FieldError, Status, UnknownTenantError
from doorkeep.core.context import UserContext
from doorkeep.core.passwordless_results import (
    CodeCreated,
    ConsumeOk,
    ExpiredUserInputCodeError,
    IncorrectUserInputCodeError,
    RestartFlowError,
)
from doorkeep.core.passwordless_secrets import FlowType
from doorkeep.core.users import User
from doorkeep.recipes.apis import APIOptions, GeneralError, OkResult
from doorkeep.recipes.session.request import Session, sign_in_session

if TYPE_CHECKING:
    from doorkeep.recipes.passwordless import PasswordlessConfig, PasswordlessRecipe
    from doorkeep.recipes.session import SessionRecipe


@dataclass(frozen=True)
class CreateCodePostOk(Status):
    device_id: str
    pre_auth_session_id: str
    flow_type: FlowType

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "deviceId": self.device_id,
            "preAuthSessionId": self.pre_auth_session_id,
            "flowType": self.flow_type.value,
        }


@dataclass(frozen=True)
class ConsumeCodePostOk(Status):
    user: User
    recipe_user_id: str
    created_new_recipe_user: bool
    session: Session


@dataclass(frozen=True)
class SignInUpNotAllowed(Status):
    """An application's override refuses this sign-in (SuperTokens' SIGN_IN_UP_NOT_ALLOWED);
    doorkeep's own handlers never answer it, having no account linking to protect."""

    status: ClassVar[str] = "SIGN_IN_UP_NOT_ALLOWED"
    reason: str


@dataclass(frozen=True)
class ExistsOk(Status):
    exists: bool


CreateCodePostResult = CreateCodePostOk | SignInUpNotAllowed | GeneralError
ResendCodePostResult = OkResult | RestartFlowError | GeneralError
ConsumeCodePostResult = (
    ConsumeCodePostOk
    | IncorrectUserInputCodeError
    | ExpiredUserInputCodeError
    | RestartFlowError
    | SignInUpNotAllowed
    | GeneralError
)


class PasswordlessApis:
    """Built with what the handlers use: the recipe (its overridable functions and its
    deliveries) and the session recipe (a sign-in's new session)."""

    def __init__(self, recipe: PasswordlessRecipe, session_recipe: SessionRecipe) -> None:
        self.recipe = recipe
        self.session_recipe = session_recipe

    async def create_code_post(
        self,
        email: str | None,
        phone_number: str | None,
        tenant_id: str,
        api_options: APIOptions[PasswordlessConfig],
        user_context: UserContext,
    ) -> CreateCodePostResult:
        """A new device and its first code, sent. No user is looked up: the answer and the
        work are the same whether the contact has an account or not."""
        created = await self.recipe.create_and_send_code(
            email=email, phone_number=phone_number, tenant_id=tenant_id, user_context=user_context
        )
        if isinstance(created, FieldError):
            return GeneralError(created.fields[0][1])  # SuperTokens: a bad contact is a message
        if isinstance(created, UnknownTenantError):
            return GeneralError("Tenant not found")
        return CreateCodePostOk(
            created.device_id, created.pre_auth_session_id, self.recipe.flow_type
        )

    async def resend_code_post(
        self,
        device_id: str,
        pre_auth_session_id: str,
        tenant_id: str,
        api_options: APIOptions[PasswordlessConfig],
        user_context: UserContext,
    ) -> ResendCodePostResult:
        """Another code for the device, sent to its contact; RESTART_FLOW_ERROR once the
        device is gone (used, expired, too many wrong codes) or is not this one."""
        device = await self.recipe.functions.list_codes_by_device_id(
            device_id, tenant_id, user_context
        )
        if device is None or device.pre_auth_session_id != pre_auth_session_id:
            return RestartFlowError()
        sent = await self.recipe.resend_code(device_id, tenant_id, user_context)
        if isinstance(sent, CodeCreated):
            return OkResult()
        if isinstance(sent, RestartFlowError):
            return sent
        return GeneralError("Could not make a new code. Please try again.")  # custom codes clash

    async def consume_code_post(
        self,
        pre_auth_session_id: str,
        user_input_code: str | None,
        device_id: str | None,
        link_code: str | None,
        tenant_id: str,
        api_options: APIOptions[PasswordlessConfig],
        user_context: UserContext,
    ) -> ConsumeCodePostResult:
        """Spend the code (a link code, or a device ID with its user-input code), sign the
        contact in or up, and start a session in the token transport the client asked for."""
        result = await self.recipe.functions.consume_code(
            pre_auth_session_id, user_input_code, device_id, link_code, tenant_id, user_context
        )
        if not isinstance(result, ConsumeOk):
            return result
        session = await sign_in_session(
            self.session_recipe,
            api_options.request,
            result.user.id,
            result.recipe_user_id,
            tenant_id,
            user_context,
        )
        return ConsumeCodePostOk(
            result.user, result.recipe_user_id, result.created_new_recipe_user, session
        )

    async def email_exists_get(
        self,
        email: str,
        tenant_id: str,
        api_options: APIOptions[PasswordlessConfig],
        user_context: UserContext,
    ) -> ExistsOk:
        user = await self.recipe.functions.get_user_by_email(email, tenant_id, user_context)
        return ExistsOk(user is not None)

    async def phone_number_exists_get(
        self,
        phone_number: str,
        tenant_id: str,
        api_options: APIOptions[PasswordlessConfig],
        user_context: UserContext,
    ) -> ExistsOk:
        user = await self.recipe.functions.get_user_by_phone_number(
            phone_number, tenant_id, user_context
        )
        return ExistsOk(user is not None)
