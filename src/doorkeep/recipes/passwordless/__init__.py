"""The passwordless recipe: sign in (or up) with a one-time code or a magic link sent by
email or SMS.

`PasswordlessRecipe` is what application code and the FDI flow call: each call goes
through the (possibly overridden) `PasswordlessFunctions`, and messages go out through
the (overridable) `EmailDelivery.send_email` and `SmsDelivery.send_sms`. Which contact
users give and what is sent come from the settings (`DOORKEEP_PASSWORDLESS`,
`DOORKEEP_PASSWORDLESS_FLOW`) unless `PasswordlessConfig` says otherwise.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from doorkeep.core.common import PUBLIC
from doorkeep.core.context import UserContext
from doorkeep.core.passwordless_results import (
    UNCHANGED,
    CheckResult,
    CodeCreated,
    ConsumeResult,
    CreateResult,
    Device,
    ResendResult,
    Unchanged,
    UpdateResult,
)
from doorkeep.core.passwordless_secrets import (
    CONTACT_SETTINGS,
    FLOW_SETTINGS,
    ContactMethod,
    FlowType,
)
from doorkeep.core.services import AppCore
from doorkeep.core.users import User
from doorkeep.delivery import EmailDelivery, PasswordlessLoginEmail
from doorkeep.delivery.sms import PasswordlessLoginSms, SmsDelivery
from doorkeep.recipes.base import Override, apply_override
from doorkeep.recipes.base import context as _ctx
from doorkeep.recipes.passwordless.apis import PasswordlessApis
from doorkeep.recipes.passwordless.functions import PasswordlessFunctions
from doorkeep.recipes.session import SessionRecipe

__all__ = [
    "UNCHANGED",
    "ContactMethod",
    "FlowType",
    "PasswordlessApis",
    "PasswordlessConfig",
    "PasswordlessFunctions",
    "PasswordlessRecipe",
]

# Given the tenant and the user context, the user-input code to send (SuperTokens'
# get_custom_user_input_code); None: six random digits.
CustomCode = Callable[[str, UserContext], Awaitable[str]]


@dataclass
class PasswordlessConfig:
    contact_method: ContactMethod | None = None  # None: from settings.passwordless
    flow_type: FlowType | None = None  # None: from settings.passwordless_flow
    get_custom_user_input_code: CustomCode | None = None
    override_functions: Override[PasswordlessFunctions] | None = None
    override_apis: Override[PasswordlessApis] | None = None


class PasswordlessRecipe:
    """Call these from application code; they go through the (possibly overridden) functions."""

    def __init__(
        self,
        core: AppCore,
        email_delivery: EmailDelivery,
        sms_delivery: SmsDelivery,
        session: SessionRecipe,
        config: PasswordlessConfig | None = None,
    ) -> None:
        self.core = core
        self.email_delivery = email_delivery
        self.sms_delivery = sms_delivery
        self.config = config or PasswordlessConfig()
        settings = core.ctx.settings
        self.enabled = self.config.contact_method is not None or settings.passwordless != "off"
        self.contact_method = self.config.contact_method or CONTACT_SETTINGS.get(
            settings.passwordless, ContactMethod.EMAIL_OR_PHONE
        )
        self.flow_type = self.config.flow_type or FLOW_SETTINGS[settings.passwordless_flow]
        self.functions = apply_override(PasswordlessFunctions(core), self.config.override_functions)
        self.apis = apply_override(PasswordlessApis(self, session), self.config.override_apis)

    # -- codes, sent -----------------------------------------------------------------------

    async def create_and_send_code(
        self,
        *,
        email: str | None = None,
        phone_number: str | None = None,
        tenant_id: str = PUBLIC,
        user_context: UserContext | None = None,
    ) -> CreateResult:
        """A new code for the contact, sent by email or SMS as the flow type says."""
        ctx = _ctx(user_context)
        custom = await self._custom_code(tenant_id, ctx)
        created = await self.functions.create_code(email, phone_number, custom, tenant_id, ctx)
        if isinstance(created, CodeCreated):
            await self.send_code(created, tenant_id, ctx)
        return created

    async def resend_code(
        self, device_id: str, tenant_id: str = PUBLIC, user_context: UserContext | None = None
    ) -> ResendResult:
        """Another code for the device, sent to its contact (RESTART_FLOW_ERROR: gone)."""
        ctx = _ctx(user_context)
        custom = await self._custom_code(tenant_id, ctx)
        created = await self.functions.create_new_code_for_device(device_id, custom, tenant_id, ctx)
        if isinstance(created, CodeCreated):
            await self.send_code(created, tenant_id, ctx)
        return created

    def magic_link(self, created: CodeCreated, tenant_id: str = PUBLIC) -> str:
        """website_domain + website_base_path + /verify?preAuthSessionId=…&tenantId=…#linkCode,
        where SuperTokens' frontends expect it (the link code stays in the fragment, which
        browsers never send to a server)."""
        settings = self.core.ctx.settings
        base = settings.website_domain.rstrip("/") + settings.website_base_path.rstrip("/")
        query = urlencode({"preAuthSessionId": created.pre_auth_session_id, "tenantId": tenant_id})
        return f"{base}/verify?{query}#{created.link_code}"

    async def send_code(
        self, created: CodeCreated, tenant_id: str, user_context: UserContext
    ) -> None:
        """Send what the flow type says (code, link or both) to the device's contact."""
        code = created.user_input_code if self.flow_type.sends_code else None
        link = self.magic_link(created, tenant_id) if self.flow_type.sends_link else None
        if created.email is not None:
            email = PasswordlessLoginEmail(
                created.email,
                code,
                link,
                created.code_lifetime,
                created.pre_auth_session_id,
                tenant_id,
            )
            await self.email_delivery.send_email(email, user_context)
        elif created.phone_number is not None:
            sms = PasswordlessLoginSms(
                created.phone_number,
                code,
                link,
                created.code_lifetime,
                created.pre_auth_session_id,
                tenant_id,
            )
            await self.sms_delivery.send_sms(sms, user_context)

    async def _custom_code(self, tenant_id: str, user_context: UserContext) -> str | None:
        make = self.config.get_custom_user_input_code
        return None if make is None else await make(tenant_id, user_context)

    # -- the functions, with defaults ------------------------------------------------------

    async def consume_code(
        self,
        pre_auth_session_id: str,
        *,
        user_input_code: str | None = None,
        device_id: str | None = None,
        link_code: str | None = None,
        tenant_id: str = PUBLIC,
        user_context: UserContext | None = None,
    ) -> ConsumeResult:
        return await self.functions.consume_code(
            pre_auth_session_id,
            user_input_code,
            device_id,
            link_code,
            tenant_id,
            _ctx(user_context),
        )

    async def check_code(
        self,
        pre_auth_session_id: str,
        *,
        user_input_code: str | None = None,
        device_id: str | None = None,
        link_code: str | None = None,
        tenant_id: str = PUBLIC,
        user_context: UserContext | None = None,
    ) -> CheckResult:
        return await self.functions.check_code(
            pre_auth_session_id,
            user_input_code,
            device_id,
            link_code,
            tenant_id,
            _ctx(user_context),
        )

    async def update_user(
        self,
        recipe_user_id: str,
        *,
        email: str | Unchanged | None = UNCHANGED,
        phone_number: str | Unchanged | None = UNCHANGED,
        user_context: UserContext | None = None,
    ) -> UpdateResult:
        """The seed's `passwordless.update_user`: change (or with None delete) the email
        and/or phone number; EMAIL_/PHONE_NUMBER_ALREADY_EXISTS_ERROR when taken."""
        return await self.functions.update_user(
            recipe_user_id, email, phone_number, _ctx(user_context)
        )

    async def revoke_code(
        self, code_id: str, tenant_id: str = PUBLIC, user_context: UserContext | None = None
    ) -> None:
        await self.functions.revoke_code(code_id, tenant_id, _ctx(user_context))

    async def revoke_all_codes(
        self,
        *,
        email: str | None = None,
        phone_number: str | None = None,
        tenant_id: str = PUBLIC,
        user_context: UserContext | None = None,
    ) -> None:
        await self.functions.revoke_all_codes(email, phone_number, tenant_id, _ctx(user_context))

    async def list_codes_by_email(
        self, email: str, tenant_id: str = PUBLIC, user_context: UserContext | None = None
    ) -> list[Device]:
        return await self.functions.list_codes_by_email(email, tenant_id, _ctx(user_context))

    async def list_codes_by_phone_number(
        self, phone_number: str, tenant_id: str = PUBLIC, user_context: UserContext | None = None
    ) -> list[Device]:
        return await self.functions.list_codes_by_phone_number(
            phone_number, tenant_id, _ctx(user_context)
        )

    async def list_codes_by_device_id(
        self, device_id: str, tenant_id: str = PUBLIC, user_context: UserContext | None = None
    ) -> Device | None:
        return await self.functions.list_codes_by_device_id(
            device_id, tenant_id, _ctx(user_context)
        )

    async def list_codes_by_pre_auth_session_id(
        self,
        pre_auth_session_id: str,
        tenant_id: str = PUBLIC,
        user_context: UserContext | None = None,
    ) -> Device | None:
        return await self.functions.list_codes_by_pre_auth_session_id(
            pre_auth_session_id, tenant_id, _ctx(user_context)
        )

    async def get_user_by_email(
        self, email: str, tenant_id: str = PUBLIC, user_context: UserContext | None = None
    ) -> User | None:
        return await self.functions.get_user_by_email(email, tenant_id, _ctx(user_context))

    async def get_user_by_phone_number(
        self, phone_number: str, tenant_id: str = PUBLIC, user_context: UserContext | None = None
    ) -> User | None:
        return await self.functions.get_user_by_phone_number(
            phone_number, tenant_id, _ctx(user_context)
        )
