"""Change email (seed 002), built in: with or without verifying the new address, for
email/password and for passwordless accounts.

With verification (the default), the new address gets a verification link and
the account switches to it only when that link is used; the old address keeps
working until then. Without, the change is immediate and the new address starts
unverified. Either way the change needs a session signed in within
`change_email_fresh_seconds` or the current password (checklist item 21), the new
address must be free among the same recipe's users in every tenant of the user, and
outstanding links and codes for the old address are retired. A verification link for a
new address completes the change when the email-verification flow verifies it
(`complete`).

A passwordless account has no password to confirm: a session older than the window
answers EMAIL_CHANGE_NOT_ALLOWED_ERROR (sign in again with a new code) — the "security
risk" the seed's comments name. A passwordless account with only a phone number adds an
email this way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from doorkeep.config import Settings
from doorkeep.core.common import FieldError, Status, email_error, normalise_email, now_ms
from doorkeep.core.context import UserContext
from doorkeep.core.emailpassword import EmailAlreadyExistsError, WrongCredentialsError
from doorkeep.core.emailverification import EmailVerified
from doorkeep.core.errors import TooManyAttemptsError
from doorkeep.core.passwordless_results import UNCHANGED
from doorkeep.core.services import AppCore
from doorkeep.core.users import LoginMethod, User
from doorkeep.delivery import EmailDelivery, EmailUser, NoticeEmail
from doorkeep.flows.reauthentication import Reauthentication, ReauthenticationError
from doorkeep.recipes.apis import GeneralError
from doorkeep.recipes.emailpassword import EmailPasswordRecipe
from doorkeep.recipes.emailverification import EmailVerificationRecipe
from doorkeep.recipes.passwordless import PasswordlessRecipe
from doorkeep.recipes.session import SessionRecipe
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


ChangeEmailResult = (
    EmailChanged
    | VerificationSent
    | EmailAlreadyExistsError
    | FieldError
    | EmailChangeNotAllowedError
    | WrongCredentialsError
    | TooManyAttemptsError
)
SIGN_IN_AGAIN = "For your security, sign in again (with a new code) and then change your email."


async def signed_in_recently(
    session: SessionRecipe, session_handle: str | None, window_s: int, user_context: UserContext
) -> bool:
    """Whether the session began within `window_s` seconds (0: never counts as recent)."""
    if session_handle is None or window_s <= 0:
        return False
    record = await session.functions.get_session_information(session_handle, user_context)
    return record is not None and now_ms() - record.time_created <= window_s * 1000


def changeable_login(user: User) -> LoginMethod | None:
    """The login whose email a change of email changes: the email/password login with an
    email, else the passwordless login (which may have only a phone number so far)."""
    for method in user.login_methods:
        if method.recipe_id == "emailpassword" and method.email is not None:
            return method
    return next((m for m in user.login_methods if m.recipe_id == "passwordless"), None)


class ChangeEmail:
    def __init__(
        self,
        emailpassword: EmailPasswordRecipe,
        emailverification: EmailVerificationRecipe,
        session: SessionRecipe,
        reauthentication: Reauthentication,
        core: AppCore,
        delivery: EmailDelivery,
        settings: Settings,
        passwordless: PasswordlessRecipe,
    ) -> None:
        self.emailpassword = emailpassword
        self.passwordless = passwordless
        self.emailverification = emailverification
        self.session = session
        self.reauthentication = reauthentication
        self.core = core
        self.delivery = delivery
        self.settings = settings

    async def change_email_in_session(
        self,
        session: Session,
        new_email: object,
        *,
        password: object = None,
        user_context: UserContext | None = None,
    ) -> ChangeEmailResult:
        """`change_email` for the signed-in user of a request; an address changed without
        verification starts unverified, and the session's claim says so at once."""
        result = await self.change_email(
            session.user_id,
            new_email,
            tenant_id=session.tenant_id,
            session_handle=session.handle,
            password=password,
            user_context=user_context,
        )
        if isinstance(result, EmailChanged) and not self.settings.change_email_verify:
            ev = self.emailverification
            await ev.update_session_claim(session, await ev.is_user_verified(session.user_id, {}))
        return result

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
        user = await self.emailpassword.functions.get_user_by_id(user_id, ctx)
        login = None if user is None else changeable_login(user)
        if user is None or login is None:
            return EmailChangeNotAllowedError("This account does not sign in with an email.")
        if email == login.email:
            return EmailChanged(email)
        refused = await self.reauthenticate(user, login, session_handle, password, tenant_id, ctx)
        if refused is not None:
            return refused
        if (
            not self.settings.change_email_verify
            or await self.emailverification.functions.is_email_verified(user_id, email, ctx)
        ):
            return await self.apply(user, login, email, tenant_id, ctx)
        if await self.is_taken(user, login.recipe_id, email):
            return EmailAlreadyExistsError()
        await self.emailverification.send_verification_email(user_id, email, tenant_id, ctx)
        return VerificationSent()

    async def reauthenticate(
        self,
        user: User,
        login: LoginMethod,
        session_handle: str | None,
        password: object,
        tenant_id: str,
        user_context: UserContext,
    ) -> ReauthenticationError | EmailChangeNotAllowedError | None:
        """None when the session signed in recently or `password` is the current one
        (guesses share change password's budget, so two forms do not guess faster). A
        passwordless login has no password: only a recent sign-in will do."""
        window_s = self.settings.change_email_fresh_seconds
        if await signed_in_recently(self.session, session_handle, window_s, user_context):
            return None
        if login.recipe_id == "passwordless":
            return EmailChangeNotAllowedError(SIGN_IN_AGAIN)
        if not isinstance(password, str) or not password:
            message = "Please enter your current password to change your email."
            return FieldError.one("password", message)
        return await self.reauthentication.confirm_current_password(
            user.id, user.password_login_identifier, password, tenant_id, user_context
        )

    async def is_taken(self, user: User, recipe_id: str, email: str) -> bool:
        """Held by another user's login of the same recipe (each recipe's emails are unique
        on their own) in any tenant this user belongs to."""
        for tenant_id in user.tenant_ids:
            holders = await self.core.users.get_users_by_account_info(tenant_id, email=email)
            for holder in holders:
                if holder.id != user.id and any(
                    m.recipe_id == recipe_id and m.email == email for m in holder.login_methods
                ):
                    return True
        return False

    async def apply(
        self,
        user: User,
        login: LoginMethod,
        new_email: str,
        tenant_id: str,
        user_context: UserContext,
    ) -> EmailChanged | EmailAlreadyExistsError | FieldError | EmailChangeNotAllowedError:
        """Write the new address to the login (the recipe's overridable update)."""
        old_email = login.email
        if login.recipe_id == "passwordless":
            updated = await self.passwordless.functions.update_user(
                login.recipe_user_id, new_email, UNCHANGED, user_context
            )
        else:
            updated = await self.emailpassword.functions.update_email_or_password(
                user.id, new_email, None, True, tenant_id, user_context
            )
        if isinstance(updated, EmailAlreadyExistsError | FieldError):
            return updated
        if updated.status != "OK":
            return EmailChangeNotAllowedError("This account cannot change its email.")
        if old_email is None:
            return EmailChanged(new_email)
        # Links and codes mailed to the old address must not act on the account any more.
        await self.core.emailverification.revoke_tokens(user.id, old_email, tenant_id)
        await self.core.passwordreset.revoke_tokens(user.id)
        if login.recipe_id == "passwordless":
            for tenant in user.tenant_ids:
                await self.passwordless.functions.revoke_all_codes(
                    old_email, None, tenant, user_context
                )
        if self.settings.notify_email_change:
            notice = NoticeEmail(
                EmailUser(user.id, user.id, old_email),
                subject=f"Your {self.settings.app_name} email was changed",
                message=f"The email of your account was changed to {new_email}.",
                tenant_id=tenant_id,
            )
            await self.delivery.send_email(notice, user_context)
        return EmailChanged(new_email)

    async def complete(
        self,
        verified: EmailVerified,
        session: Session | None,
        tenant_id: str,
        user_context: UserContext,
    ) -> EmailVerified | GeneralError:
        """A verified link for an address that is not the account's: switch the account to
        it (seed 002's override of verify_email_post, called by the verification flow)."""
        user = await self.emailpassword.functions.get_user_by_id(verified.user_id, user_context)
        login = None if user is None else changeable_login(user)
        if user is None or login is None or login.email == verified.email:
            return verified
        changed = await self.apply(user, login, verified.email, tenant_id, user_context)
        if not isinstance(changed, EmailChanged):
            return GeneralError("This email is now used by another account.")
        if session is not None and session.user_id == verified.user_id:
            await self.emailverification.update_session_claim(session, True)
        return verified
