"""Email/password accounts: sign up, sign in, update, import (the CDI's emailpassword semantics).

Every write is one transaction, and an email's uniqueness per tenant is the
database's job: two concurrent sign-ups of one address race on a unique
constraint and exactly one wins. Password hashing happens outside transactions
so a connection is never held while a worker thread hashes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from time import perf_counter
from typing import Any, ClassVar

from sqlalchemy import Select, Table, bindparam, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from doorkeep.core.common import (
    FieldError,
    Status,
    UnknownTenantError,
    UnknownUserIdError,
    email_error,
    new_id,
    normalise_email,
    normalise_username,
    now_ms,
    username_error,
)
from doorkeep.core.context import AppContext
from doorkeep.core.events import (
    EmailChanged,
    Event,
    PasswordChanged,
    SignedIn,
    SignInFailed,
    UserCreated,
)
from doorkeep.core.passwords import InvalidPasswordHash, validate_imported_hash
from doorkeep.core.tenants import tenant_exists
from doorkeep.core.users import User, load_users, resolve_user_id, user_rows, users_from_rows
from doorkeep.storage import tables as t

RECIPE_ID = "emailpassword"
_METHOD = RECIPE_ID  # how events name this way of signing in
# Sign-in never hashes more than this: a longer input cannot be a stored password
# (the policy caps it lower) and hashing megabytes would be a free DoS.
MAX_SIGN_IN_PASSWORD_LENGTH = 4096


def _account_by(column_name: str) -> Select[Any]:
    """The rows of the user with this email or username in a tenant, with its hash."""
    ep, ept = t.emailpassword_users, t.emailpassword_user_tenants
    account = select(ept.c.user_id).where(
        ept.c.app_id == bindparam("app_id"),
        ept.c.tenant_id == bindparam("tenant_id"),
        ept.c[column_name] == bindparam("identifier"),
    )
    return user_rows(ep.c.password_hash).where(
        t.users.c.app_id == bindparam("app_id"), t.users.c.user_id == account.scalar_subquery()
    )


# Built once: building a statement and its cache key costs more than running it.
_ACCOUNT_BY_EMAIL = _account_by("email")
_ACCOUNT_BY_USERNAME = _account_by("username")


@dataclass(frozen=True)
class SignUpOk(Status):
    user: User
    recipe_user_id: str


@dataclass(frozen=True)
class SignInOk(Status):
    user: User
    recipe_user_id: str


@dataclass(frozen=True)
class EmailAlreadyExistsError(Status):
    status: ClassVar[str] = "EMAIL_ALREADY_EXISTS_ERROR"


@dataclass(frozen=True)
class UsernameAlreadyExistsError(Status):
    status: ClassVar[str] = "USERNAME_ALREADY_EXISTS_ERROR"


@dataclass(frozen=True)
class WrongCredentialsError(Status):
    status: ClassVar[str] = "WRONG_CREDENTIALS_ERROR"


@dataclass(frozen=True)
class UpdateOk(Status):
    pass


@dataclass(frozen=True)
class ImportOk(Status):
    user: User
    did_user_already_exist: bool


SignUpResult = (
    SignUpOk
    | EmailAlreadyExistsError
    | UsernameAlreadyExistsError
    | FieldError
    | UnknownTenantError
)


class EmailPasswordService:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def password_error(self, password: object) -> str | None:
        return self.ctx.password_policy.validate(password)

    async def sign_up(
        self,
        tenant_id: str,
        email: object,
        password: object,
        *,
        username: object = None,
        apply_password_policy: bool = True,
    ) -> SignUpResult:
        """A new user. With `username`, the email is optional (username login).

        The CDI turns the policy off: there the SDK in front has validated the password
        with its own (overridable) validator, and a core must not second-guess it.
        """
        problems = self._sign_up_problems(email, password, username, apply_password_policy)
        if problems:
            return FieldError(tuple(problems))
        assert isinstance(password, str)
        email = normalise_email(email) if isinstance(email, str) else None
        username = normalise_username(username) if isinstance(username, str) else None
        if not await tenant_exists(self.ctx, tenant_id):
            return UnknownTenantError()
        # A cheap look first saves an Argon2 hash for the common duplicate case;
        # the unique constraints below are what actually decide a race.
        taken = await self._taken(tenant_id, email, username)
        if taken is not None:
            return taken
        password_hash = await self.ctx.hasher.hash(password)
        user_id = new_id()
        try:
            async with self.ctx.db.transaction() as conn:
                await _insert_user(
                    conn, self.ctx.app_id, tenant_id, user_id, email, password_hash, username
                )
                users = await load_users(conn, self.ctx.app_id, [user_id])
                event = UserCreated(
                    app_id=self.ctx.app_id,
                    tenant_id=tenant_id,
                    user_id=users[0].id,
                    method="emailpassword",
                )
                events = await self.ctx.events.record_async(conn, [event])
        except IntegrityError as exc:
            if username is not None and "username" in str(exc.orig):
                return UsernameAlreadyExistsError()
            return EmailAlreadyExistsError()
        self.ctx.events.publish_all(events)
        return SignUpOk(users[0], users[0].id)

    def _sign_up_problems(
        self, email: object, password: object, username: object, apply_password_policy: bool
    ) -> list[tuple[str, str]]:
        password_problem = (
            self.password_error(password)
            if apply_password_policy
            else (None if isinstance(password, str) and password else "Password must be a string.")
        )
        checks = [("password", password_problem)]
        if username is None:
            checks.insert(0, ("email", email_error(email)))
        else:
            checks.insert(0, ("username", username_error(username)))
            if email is not None:
                checks.insert(1, ("email", email_error(email)))
        return [(field, message) for field, message in checks if message is not None]

    async def sign_in(
        self, tenant_id: str, email: object, password: object
    ) -> SignInOk | WrongCredentialsError:
        start = perf_counter()
        result, user_id = await self._sign_in(tenant_id, email, password)
        self.ctx.telemetry.sign_in.observe(perf_counter() - start)
        app_id, events = self.ctx.app_id, self.ctx.events
        if isinstance(result, SignInOk):
            events.publish(
                SignedIn(app_id=app_id, tenant_id=tenant_id, user_id=user_id, method=_METHOD)
            )
        else:
            events.publish(
                SignInFailed(app_id=app_id, tenant_id=tenant_id, user_id=user_id, method=_METHOD)
            )
        return result

    async def _sign_in(
        self, tenant_id: str, email: object, password: object
    ) -> tuple[SignInOk | WrongCredentialsError, str | None]:
        """The outcome, and the ID of the account it concerns (None: no such account)."""
        if not isinstance(email, str) or not isinstance(password, str):
            return WrongCredentialsError(), None
        if len(password) > MAX_SIGN_IN_PASSWORD_LENGTH:
            password = password[:MAX_SIGN_IN_PASSWORD_LENGTH]  # only to keep the dummy hash cheap
            await self.ctx.hasher.dummy_verify(password)
            return WrongCredentialsError(), None
        account = await self.ctx.db.run(partial(self._account, tenant_id, email))
        if account is None:
            # Same work as a real check, so timing does not tell who has an account.
            await self.ctx.hasher.dummy_verify(password)
            return WrongCredentialsError(), None
        internal_id, stored_hash, user = account
        check = await self.ctx.hasher.verify(stored_hash, password)
        if not check.ok:
            return WrongCredentialsError(), user.id
        if check.needs_rehash:
            await self._upgrade_hash(internal_id, stored_hash, password)
        return SignInOk(user, user.id), user.id

    async def verify_credentials(self, tenant_id: str, email: object, password: object) -> bool:
        """Whether the password is right (re-authentication: no sign-in; a wrong password is
        reported like a failed sign-in)."""
        result, user_id = await self._sign_in(tenant_id, email, password)
        if isinstance(result, SignInOk):
            return True
        self.ctx.events.publish(
            SignInFailed(
                app_id=self.ctx.app_id,
                tenant_id=tenant_id,
                user_id=user_id,
                method=_METHOD,
                reason="reauthentication",
            )
        )
        return False

    async def update_email_or_password(
        self,
        recipe_user_id: str,
        *,
        email: object = None,
        password: object = None,
        apply_password_policy: bool = True,
    ) -> UpdateOk | UnknownUserIdError | EmailAlreadyExistsError | FieldError:
        problems: list[tuple[str, str]] = []
        if email is not None and (message := email_error(email)) is not None:
            problems.append(("email", message))
        if password is not None:
            message = (
                self.password_error(password)
                if apply_password_policy
                else (
                    None if isinstance(password, str) and password else "Password must be a string."
                )
            )
            if message is not None:
                problems.append(("password", message))
        if problems:
            return FieldError(tuple(problems))
        new_hash = await self.ctx.hasher.hash(password) if isinstance(password, str) else None
        ep, ept = t.emailpassword_users, t.emailpassword_user_tenants
        try:
            async with self.ctx.db.transaction() as conn:
                ref = await resolve_user_id(conn, self.ctx.app_id, recipe_user_id)
                where = (ep.c.app_id == self.ctx.app_id, ep.c.user_id == ref.internal_id)
                exists = (await conn.execute(select(ep.c.user_id).where(*where))).first()
                if exists is None:
                    return UnknownUserIdError()
                values: dict[str, str] = {}
                if isinstance(email, str):
                    values["email"] = normalise_email(email)
                    await conn.execute(
                        update(ept)
                        .where(ept.c.app_id == self.ctx.app_id, ept.c.user_id == ref.internal_id)
                        .values(email=values["email"])
                    )
                if new_hash is not None:
                    values["password_hash"] = new_hash
                if values:
                    await conn.execute(update(ep).where(*where).values(**values))
                events = await self.ctx.events.record_async(
                    conn, self._change_events(ref.public_id, values)
                )
        except IntegrityError:
            return EmailAlreadyExistsError()
        self.ctx.events.publish_all(events)
        return UpdateOk()

    def _import_events(self, tenant_id: str, users: list[User], existed: bool) -> list[Event]:
        if not users:
            return []
        common: dict[str, Any] = {"app_id": self.ctx.app_id, "user_id": users[0].id}
        if existed:
            return [PasswordChanged(**common, via="import")]
        return [UserCreated(**common, tenant_id=tenant_id, method=_METHOD)]

    def _change_events(self, user_id: str, changed: dict[str, str]) -> list[Event]:
        common: dict[str, Any] = {"app_id": self.ctx.app_id, "user_id": user_id}
        events: list[Event] = []
        if "password_hash" in changed:
            events.append(PasswordChanged(**common))
        if "email" in changed:
            events.append(EmailChanged(**common))
        return events

    async def import_user(
        self,
        tenant_id: str,
        email: object,
        password_hash: object,
        hashing_algorithm: str | None = None,
    ) -> ImportOk | FieldError | UnknownTenantError:
        """Create a user with an existing hash, or replace the hash of the user with this email."""
        if (message := email_error(email)) is not None:
            return FieldError.one("email", message)
        if not isinstance(password_hash, str):
            return FieldError.one("passwordHash", "Password hash must be a string.")
        try:
            stored = validate_imported_hash(password_hash, hashing_algorithm)
        except InvalidPasswordHash as exc:
            return FieldError.one("passwordHash", str(exc))
        assert isinstance(email, str)
        email = normalise_email(email)
        if not await tenant_exists(self.ctx, tenant_id):
            return UnknownTenantError()
        ep = t.emailpassword_users
        for _attempt in range(3):  # a concurrent creator may win between our look and our insert
            existing = await self._user_id_for_email(tenant_id, email)
            try:
                async with self.ctx.db.transaction() as conn:
                    if existing is not None:
                        await conn.execute(
                            update(ep)
                            .where(ep.c.app_id == self.ctx.app_id, ep.c.user_id == existing)
                            .values(password_hash=stored)
                        )
                        user_id = existing
                    else:
                        user_id = new_id()
                        await _insert_user(conn, self.ctx.app_id, tenant_id, user_id, email, stored)
                    users = await load_users(conn, self.ctx.app_id, [user_id])
                    events = await self.ctx.events.record_async(
                        conn, self._import_events(tenant_id, users, existing is not None)
                    )
            except IntegrityError:
                continue
            self.ctx.events.publish_all(events)
            if users:
                return ImportOk(users[0], did_user_already_exist=existing is not None)
        raise RuntimeError("could not import user: concurrent changes kept conflicting")

    async def _taken(
        self, tenant_id: str, email: str | None, username: str | None
    ) -> EmailAlreadyExistsError | UsernameAlreadyExistsError | None:
        ept = t.emailpassword_user_tenants
        if email is not None and await self._user_id_by(tenant_id, ept.c.email, email):
            return EmailAlreadyExistsError()
        if username is not None and await self._user_id_by(tenant_id, ept.c.username, username):
            return UsernameAlreadyExistsError()
        return None

    async def _user_id_for_email(self, tenant_id: str, email: str) -> str | None:
        return await self._user_id_by(tenant_id, t.emailpassword_user_tenants.c.email, email)

    async def _user_id_by(self, tenant_id: str, column: Any, value: str) -> str | None:
        """The user whose login `column` (email or username) equals `value` in the tenant."""
        ept = t.emailpassword_user_tenants
        async with self.ctx.db.read() as conn:
            return (
                await conn.execute(
                    select(ept.c.user_id).where(
                        ept.c.app_id == self.ctx.app_id,
                        ept.c.tenant_id == tenant_id,
                        column == value,
                    )
                )
            ).scalar_one_or_none()

    def _account(
        self, tenant_id: str, identifier: str, conn: Connection
    ) -> tuple[str, str, User] | None:
        """(internal ID, password hash, user) of the account signing in, in one statement.

        By email, or by username when the identifier has no @ (usernames never do).
        The user is loaded before the password is checked, which costs nothing extra
        when the password is wrong: it comes in the same rows as the hash.
        """
        by = _ACCOUNT_BY_EMAIL if "@" in identifier else _ACCOUNT_BY_USERNAME
        params = {
            "app_id": self.ctx.app_id,
            "tenant_id": tenant_id,
            "identifier": identifier.strip().lower(),
        }
        rows = conn.execute(by, params).all()
        if not rows:
            return None
        internal_id = rows[0].user_id
        return internal_id, rows[0].password_hash, users_from_rows(rows)[internal_id]

    async def _upgrade_hash(self, user_id: str, old_hash: str, password: str) -> None:
        """Replace a legacy or weaker hash; skipped if the hash changed meanwhile."""
        new_hash = await self.ctx.hasher.hash(password)
        ep = t.emailpassword_users
        async with self.ctx.db.transaction() as conn:
            await conn.execute(
                update(ep)
                .where(
                    ep.c.app_id == self.ctx.app_id,
                    ep.c.user_id == user_id,
                    ep.c.password_hash == old_hash,
                )
                .values(password_hash=new_hash)
            )


async def _insert_user(
    conn: AsyncConnection,
    app_id: str,
    tenant_id: str,
    user_id: str,
    email: str | None,
    password_hash: str,
    username: str | None = None,
) -> None:
    rows = account_rows(app_id, tenant_id, user_id, email, username, password_hash, now_ms())
    for table, row in rows:
        await conn.execute(insert(table), row)


def account_rows(
    app_id: str,
    tenant_id: str,
    user_id: str,
    email: str | None,
    username: str | None,
    password_hash: str,
    joined: int,
) -> list[tuple[Table, dict[str, Any]]]:
    """The rows that make an email/password account, in foreign-key order: what a
    sign-up writes, and what a bulk import writes for each user."""
    return [
        (
            t.users,
            {
                "app_id": app_id,
                "user_id": user_id,
                "primary_user_id": user_id,
                "recipe_id": RECIPE_ID,
                "time_joined": joined,
            },
        ),
        (
            t.user_tenants,
            {"app_id": app_id, "tenant_id": tenant_id, "user_id": user_id, "time_joined": joined},
        ),
        (
            t.emailpassword_users,
            {
                "app_id": app_id,
                "user_id": user_id,
                "email": email,
                "username": username,
                "password_hash": password_hash,
                "time_joined": joined,
            },
        ),
        (
            t.emailpassword_user_tenants,
            {
                "app_id": app_id,
                "tenant_id": tenant_id,
                "user_id": user_id,
                "email": email,
                "username": username,
            },
        ),
    ]
