"""The passwordless recipe's overridable functions (SuperTokens' RecipeInterface).

Every function takes the tenant and a `user_context` last, as the seeds' overrides
expect; each calls the core (core/passwordless.py) and returns its status values.
"""

from __future__ import annotations

from doorkeep.core.context import UserContext
from doorkeep.core.passwordless_results import (
    UNCHANGED,
    CheckResult,
    ConsumeResult,
    CreateResult,
    Device,
    ResendResult,
    Unchanged,
    UpdateResult,
)
from doorkeep.core.services import AppCore
from doorkeep.core.users import User


class PasswordlessFunctions:
    """Business operations of passwordless sign-in. Replace any method to change it."""

    def __init__(self, core: AppCore) -> None:
        self.core = core

    async def create_code(
        self,
        email: str | None,
        phone_number: str | None,
        user_input_code: str | None,
        tenant_id: str,
        user_context: UserContext,
    ) -> CreateResult:
        """A new device and its first code for an email or a phone number (one of them)."""
        return await self.core.passwordless.create_code(
            tenant_id, email=email, phone_number=phone_number, user_input_code=user_input_code
        )

    async def create_new_code_for_device(
        self,
        device_id: str,
        user_input_code: str | None,
        tenant_id: str,
        user_context: UserContext,
    ) -> ResendResult:
        """Another code for a device (resend): RESTART_FLOW_ERROR once it is gone."""
        return await self.core.passwordless.create_new_code_for_device(
            tenant_id, device_id, user_input_code=user_input_code
        )

    async def consume_code(
        self,
        pre_auth_session_id: str,
        user_input_code: str | None,
        device_id: str | None,
        link_code: str | None,
        tenant_id: str,
        user_context: UserContext,
    ) -> ConsumeResult:
        """Spend a code and sign its contact in, or up (`created_new_recipe_user`)."""
        return await self.core.passwordless.consume_code(
            tenant_id,
            pre_auth_session_id,
            device_id=device_id,
            user_input_code=user_input_code,
            link_code=link_code,
        )

    async def check_code(
        self,
        pre_auth_session_id: str,
        user_input_code: str | None,
        device_id: str | None,
        link_code: str | None,
        tenant_id: str,
        user_context: UserContext,
    ) -> CheckResult:
        """Whether a code is right, without spending it (wrong codes still count)."""
        return await self.core.passwordless.check_code(
            tenant_id,
            pre_auth_session_id,
            device_id=device_id,
            user_input_code=user_input_code,
            link_code=link_code,
        )

    async def update_user(
        self,
        recipe_user_id: str,
        email: str | Unchanged | None,
        phone_number: str | Unchanged | None,
        user_context: UserContext,
    ) -> UpdateResult:
        """Change the email and/or phone number (None deletes one, UNCHANGED keeps it)."""
        return await self.core.passwordless.update_user(
            recipe_user_id, email=email, phone_number=phone_number
        )

    async def revoke_code(self, code_id: str, tenant_id: str, user_context: UserContext) -> None:
        await self.core.passwordless.revoke_code(tenant_id, code_id)

    async def revoke_all_codes(
        self,
        email: str | None,
        phone_number: str | None,
        tenant_id: str,
        user_context: UserContext,
    ) -> None:
        await self.core.passwordless.revoke_all_codes(
            tenant_id, email=email, phone_number=phone_number
        )

    async def list_codes_by_email(
        self, email: str, tenant_id: str, user_context: UserContext
    ) -> list[Device]:
        return await self.core.passwordless.list_codes_by_email(tenant_id, email)

    async def list_codes_by_phone_number(
        self, phone_number: str, tenant_id: str, user_context: UserContext
    ) -> list[Device]:
        return await self.core.passwordless.list_codes_by_phone_number(tenant_id, phone_number)

    async def list_codes_by_device_id(
        self, device_id: str, tenant_id: str, user_context: UserContext
    ) -> Device | None:
        return await self.core.passwordless.list_codes_by_device_id(tenant_id, device_id)

    async def list_codes_by_pre_auth_session_id(
        self, pre_auth_session_id: str, tenant_id: str, user_context: UserContext
    ) -> Device | None:
        return await self.core.passwordless.list_codes_by_pre_auth_session_id(
            tenant_id, pre_auth_session_id
        )

    async def get_user_by_email(
        self, email: str, tenant_id: str, user_context: UserContext
    ) -> User | None:
        return await self.core.passwordless.get_user_by_email(tenant_id, email)

    async def get_user_by_phone_number(
        self, phone_number: str, tenant_id: str, user_context: UserContext
    ) -> User | None:
        return await self.core.passwordless.get_user_by_phone_number(tenant_id, phone_number)


__all__ = ["UNCHANGED", "PasswordlessFunctions"]
