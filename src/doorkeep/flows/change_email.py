"""Change email (seed 002), built in: with or without verifying the new address.

With verification (the default), the new address gets a verification link and
the account switches to it only when that link is used; the old address keeps
working until then. Without, the change is immediate and the new address starts
unverified. Either way the change needs a session signed in within
`change_email_fresh_seconds` or the current password (checklist item 21), the new
address must be free in every tenant of the user, and outstanding links for the
old address are retired.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from doorkeep.core.common import FieldError, Status, email_error, normalise_email, now_ms
from doorkeep.core.context import UserContext
from doorkeep.core.emailpassword import EmailAlreadyExistsError, WrongCredentialsError
from doorkeep.core.emailverification import EmailVerified, InvalidVerificationTokenError
from doorkeep.core.errors import TooManyAttemptsError
from doorkeep.core.users import User
from doorkeep.delivery import EmailUser, NoticeEmail
from doorkeep.recipes.apis import APIOptions, GeneralError

if TYPE_CHECKING:
    from doorkeep.app import Doorkeep
    from doorkeep.recipes.session.request import Session


@dataclass(frozen=True)
class EmailChanged(Status):
    email: str


@dataclass(frozen=True)
class VerificationSent(Status):
    status: ClassVar[str] = "EMAIL_VERIFICATION_SENT"


@dataclass(frozen=True)
class EmailChangeNotAllowedError(Status):
    status: ClassVar[str] = "EMAIL_CHANGE_NOT_ALLOWED_ERROR"
    reason: str


ReauthenticationError = FieldError | WrongCredentialsError | TooManyAttemptsError

ChangeEmailResult = (
    EmailChanged
    | VerificationSent
    | EmailAlreadyExistsError
    | FieldError
    | EmailChangeNotAllowedError
    | WrongCredentialsError
    | TooManyAttemptsError
)


class ChangeEmail:
    def __init__(self, dk: Doorkeep) -> None:
        self.dk = dk

    async def change_email(
        self,
        user_id: str,
        new_email: object,
        *,
        tenant_id: str,
        session_handle: str | None,
        password: object = None,
        user_context: UserContext | None = None,
    ) -> ChangeEmailResult:
        """`session_handle` is the caller's session (None: no session, so the password
        is needed); `password` the current one, needed when that session is not fresh."""
        ctx = {} if user_context is None else user_context
        if (message := email_error(new_email)) is not None:
            return FieldError.one("email", message)
        assert isinstance(new_email, str)
        email = normalise_email(new_email)
        user = await self.dk.emailpassword.functions.get_user_by_id(user_id, ctx)
        current = None if user is None else user.password_login_email
        if user is None or current is None:
            return EmailChangeNotAllowedError("This account does not sign in with an email.")
        if email == current:
            return EmailChanged(email)
        refused = await self.reauthenticate(user, session_handle, password, tenant_id, ctx)
        if refused is not None:
            return refused
        if (
            not self.dk.settings.change_email_verify
            or await self.dk.emailverification.functions.is_email_verified(user_id, email, ctx)
        ):
            return await self.apply(user, current, email, tenant_id, ctx)
        if await self.is_taken(user, email):
            return EmailAlreadyExistsError()
        await self.dk.emailverification.send_verification_email(user_id, email, tenant_id, ctx)
        return VerificationSent()

    async def reauthenticate(
        self,
        user: User,
        session_handle: str | None,
        password: object,
        tenant_id: str,
        user_context: UserContext,
    ) -> ReauthenticationError | None:
        """None when the session signed in recently or `password` is the current one
        (guesses share change password's budget, so two forms do not guess faster)."""
        window_ms = self.dk.settings.change_email_fresh_seconds * 1000
        if session_handle is not None and window_ms > 0:
            functions = self.dk.session.functions
            record = await functions.get_session_information(session_handle, user_context)
            if record is not None and now_ms() - record.time_created <= window_ms:
                return None
        if not isinstance(password, str) or not password:
            message = "Please enter your current password to change your email."
            return FieldError.one("password", message)
        return await self.dk.change_password.confirm_current_password(
            user.id, user.password_login_identifier, password, tenant_id, user_context
        )

    async def is_taken(self, user: User, email: str) -> bool:
        """Held by another user in any tenant this user belongs to."""
        for tenant_id in user.tenant_ids:
            holders = await self.dk.core.public.users.get_users_by_email(tenant_id, email)
            if any(holder.id != user.id for holder in holders):
                return True
        return False

    async def apply(
        self, user: User, old_email: str, new_email: str, tenant_id: str, user_context: UserContext
    ) -> EmailChanged | EmailAlreadyExistsError | FieldError:
        updated = await self.dk.emailpassword.functions.update_email_or_password(
            user.id, new_email, None, True, tenant_id, user_context
        )
        if isinstance(updated, EmailAlreadyExistsError | FieldError):
            return updated
        # Links mailed to the old address must not act on the account any more.
        core = self.dk.core.public
        await core.emailverification.revoke_tokens(user.id, old_email, tenant_id)
        await core.passwordreset.revoke_tokens(user.id)
        if self.dk.settings.notify_email_change:
            notice = NoticeEmail(
                EmailUser(user.id, user.id, old_email),
                subject=f"Your {self.dk.settings.app_name} email was changed",
                message=f"The email of your account was changed to {new_email}.",
                tenant_id=tenant_id,
            )
            await self.dk.email_delivery.send_email(notice, user_context)
        return EmailChanged(new_email)

    def install(self) -> None:
        """Make a verified link for a new address switch the account to it (seed 002's override
        of verify_email_post), wrapping the API handler so other overrides still apply."""
        apis = self.dk.emailverification.apis
        original = apis.verify_email_post

        async def verify_email_post(
            token: str,
            session: Session | None,
            tenant_id: str,
            api_options: APIOptions,
            user_context: UserContext,
        ) -> EmailVerified | InvalidVerificationTokenError | GeneralError:
            result = await original(token, session, tenant_id, api_options, user_context)
            if not isinstance(result, EmailVerified):
                return result
            user = await self.dk.emailpassword.functions.get_user_by_id(
                result.user_id, user_context
            )
            current = None if user is None else user.password_login_email
            if user is None or current is None or current == result.email:
                return result
            changed = await self.apply(user, current, result.email, tenant_id, user_context)
            if not isinstance(changed, EmailChanged):
                return GeneralError("This email is now used by another account.")
            if session is not None and session.user_id == result.user_id:
                await self.dk.emailverification.update_session_claim(session, True)
            return result

        apis.verify_email_post = verify_email_post  # type: ignore[method-assign]
