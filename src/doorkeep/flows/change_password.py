"""Change password (seeds 000 and 003), built in.

The seeds' hand-written route: check the current password with the recipe's
sign-in function (so a sign-in override applies; see reauthentication.py), update
the password, revoke sessions. Here it is one implementation used by the JSON API,
the HTML page and the CLI; override any step by subclassing or by replacing a method.
"""

from __future__ import annotations

from dataclasses import dataclass

from doorkeep.config import Settings
from doorkeep.core.common import FieldError, Status
from doorkeep.core.context import UserContext
from doorkeep.core.emailpassword import WrongCredentialsError
from doorkeep.core.errors import TooManyAttemptsError
from doorkeep.core.users import User
from doorkeep.delivery import EmailDelivery, EmailUser, NoticeEmail
from doorkeep.flows.reauthentication import Reauthentication
from doorkeep.recipes.emailpassword import EmailPasswordRecipe
from doorkeep.recipes.session import SessionRecipe


@dataclass(frozen=True)
class PasswordChanged(Status):
    revoked_handles: tuple[str, ...]
    current_session_revoked: bool


ChangePasswordResult = PasswordChanged | WrongCredentialsError | FieldError | TooManyAttemptsError


class ChangePassword:
    def __init__(
        self,
        emailpassword: EmailPasswordRecipe,
        session: SessionRecipe,
        reauthentication: Reauthentication,
        delivery: EmailDelivery,
        settings: Settings,
    ) -> None:
        self.emailpassword = emailpassword
        self.session = session
        self.reauthentication = reauthentication
        self.delivery = delivery
        self.settings = settings

    async def change_password(
        self,
        user_id: str,
        old_password: object,
        new_password: object,
        *,
        tenant_id: str,
        current_session_handle: str | None = None,
        confirm_new_password: object = None,
        user_context: UserContext | None = None,
    ) -> ChangePasswordResult:
        ctx = {} if user_context is None else user_context
        problem = await self.validate(old_password, new_password, confirm_new_password, tenant_id)
        if problem is not None:
            return problem
        assert isinstance(old_password, str) and isinstance(new_password, str)
        user = await self.emailpassword.functions.get_user_by_id(user_id, ctx)
        email = None if user is None else user.password_login_identifier
        refused = await self.reauthentication.confirm_current_password(
            user_id, email, old_password, tenant_id, ctx
        )
        if refused is not None:
            return refused
        assert user is not None and email is not None
        updated = await self.emailpassword.functions.update_email_or_password(
            user_id, None, new_password, True, tenant_id, ctx
        )
        if isinstance(updated, FieldError):
            return FieldError.one("newPassword", updated.fields[0][1])
        if updated.status != "OK":  # the user vanished meanwhile
            return WrongCredentialsError()
        revoked = await self.revoke_sessions(user_id, current_session_handle, ctx)
        if self.settings.notify_password_change:
            await self.notify(user, email, tenant_id, ctx)
        return PasswordChanged(tuple(revoked), current_session_handle in revoked)

    async def validate(
        self, old_password: object, new_password: object, confirm: object, tenant_id: str
    ) -> FieldError | None:
        if not isinstance(old_password, str) or not old_password:
            return FieldError.one("oldPassword", "Please enter your current password.")
        password_field = next(f for f in self.emailpassword.sign_up_fields if f.id == "password")
        assert password_field.validate is not None
        message = await password_field.validate(new_password, tenant_id)
        if message is not None:
            return FieldError.one("newPassword", message)
        if confirm is not None and confirm != new_password:
            return FieldError.one("confirmNewPassword", "Passwords do not match.")
        if new_password == old_password:
            return FieldError.one("newPassword", "The new password must differ from the old one.")
        return None

    async def revoke_sessions(
        self, user_id: str, current_handle: str | None, user_context: UserContext
    ) -> list[str]:
        mode = self.settings.change_password_revoke
        if mode == "none":
            return []
        functions = self.session.functions
        handles = await functions.get_all_session_handles_for_user(user_id, None, user_context)
        if mode == "others":
            handles = [h for h in handles if h != current_handle]
        for handle in handles:
            await functions.revoke_session(handle, user_context)
        return handles

    async def notify(
        self, user: User, email: str, tenant_id: str, user_context: UserContext
    ) -> None:
        notice = NoticeEmail(
            EmailUser(user.id, user.id, email),
            subject=f"Your {self.settings.app_name} password was changed",
            message="The password of your account was just changed.",
            tenant_id=tenant_id,
        )
        await self.delivery.send_email(notice, user_context)
