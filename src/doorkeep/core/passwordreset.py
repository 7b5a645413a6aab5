"""Password-reset tokens (the CDI's create/consume), and resetting with one atomically.

Earlier unexpired tokens stay valid when a new one is made (SuperTokens does the
same) unless `password_reset_single_token` is set. A reset consumes the token and
writes the password in one transaction, then retires the user's other reset tokens:
a crash in between leaves both done or neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from sqlalchemy import delete, select, update

from doorkeep.core import single_use
from doorkeep.core.common import PUBLIC, FieldError, Status, UnknownUserIdError, normalise_email
from doorkeep.core.context import AppContext
from doorkeep.core.events import (
    Event,
    PasswordChanged,
    PasswordResetCompleted,
    PasswordResetRequested,
)
from doorkeep.core.users import resolve_user_id
from doorkeep.storage import tables as t


@dataclass(frozen=True)
class ResetTokenCreated(Status):
    token: str


@dataclass(frozen=True)
class ResetTokenConsumed(Status):
    user_id: str  # as the caller knows the user (external ID if mapped)
    email: str


@dataclass(frozen=True)
class InvalidResetTokenError(Status):
    status: ClassVar[str] = "RESET_PASSWORD_INVALID_TOKEN_ERROR"


class PasswordResetService:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    async def create_token(
        self, user_id: str, email: str, tenant_id: str = PUBLIC
    ) -> ResetTokenCreated | UnknownUserIdError:
        ep, tokens = t.emailpassword_users, t.password_reset_tokens
        async with self.ctx.db.transaction() as conn:
            ref = await resolve_user_id(conn, self.ctx.app_id, user_id)
            known = (
                await conn.execute(
                    select(ep.c.user_id).where(
                        ep.c.app_id == self.ctx.app_id, ep.c.user_id == ref.internal_id
                    )
                )
            ).first()
            if known is None:
                return UnknownUserIdError()
            if self.ctx.settings.password_reset_single_token:
                await conn.execute(
                    delete(tokens).where(
                        tokens.c.app_id == self.ctx.app_id, tokens.c.user_id == ref.internal_id
                    )
                )
            token = await single_use.issue(
                conn,
                tokens,
                self.ctx.settings.password_reset_token_lifetime,
                app_id=self.ctx.app_id,
                tenant_id=tenant_id,
                user_id=ref.internal_id,
                email=normalise_email(email),
            )
            events = await self.ctx.events.record_async(
                conn, [self._event(PasswordResetRequested, ref.public_id, tenant_id)]
            )
        self.ctx.events.publish_all(events)
        return ResetTokenCreated(token)

    async def consume_token(
        self, token: object, tenant_id: str = PUBLIC
    ) -> ResetTokenConsumed | InvalidResetTokenError:
        """Spend a token without changing the password (the CDI's consume)."""
        async with self.ctx.db.transaction() as conn:
            row = await single_use.consume(
                conn, t.password_reset_tokens, token, app_id=self.ctx.app_id, tenant_id=tenant_id
            )
            if row is None:
                return InvalidResetTokenError()
            ref = await resolve_user_id(conn, self.ctx.app_id, row.user_id)
            events = await self.ctx.events.record_async(
                conn, [self._event(PasswordResetCompleted, ref.public_id, tenant_id)]
            )
        self.ctx.events.publish_all(events)
        return ResetTokenConsumed(ref.public_id, row.email)

    async def reset_password(
        self, token: object, new_password: object, tenant_id: str = PUBLIC
    ) -> ResetTokenConsumed | InvalidResetTokenError | FieldError:
        """Consume the token and set the password, all or nothing."""
        if (message := self.ctx.password_policy.validate(new_password)) is not None:
            return FieldError.one("password", message)
        assert isinstance(new_password, str)
        tokens, ep = t.password_reset_tokens, t.emailpassword_users
        # A token that cannot reset costs a digest lookup, never an Argon2 hash (an
        # unauthenticated caller must not buy CPU with made-up tokens; issue 16 row 2).
        async with self.ctx.db.read() as conn:
            live = await single_use.is_live(
                conn, tokens, token, app_id=self.ctx.app_id, tenant_id=tenant_id
            )
        if not live:
            return InvalidResetTokenError()
        # Hash outside the transaction, so no transaction waits on Argon2; the token is
        # consumed below together with the password write (a race may still lose it).
        new_hash = await self.ctx.hasher.hash(new_password)
        async with self.ctx.db.transaction() as conn:
            row = await single_use.consume(
                conn, tokens, token, app_id=self.ctx.app_id, tenant_id=tenant_id
            )
            if row is None:
                return InvalidResetTokenError()
            written = await conn.execute(
                update(ep)
                .where(ep.c.app_id == self.ctx.app_id, ep.c.user_id == row.user_id)
                .values(password_hash=new_hash)
            )
            if written.rowcount != 1:  # the user was deleted meanwhile
                return InvalidResetTokenError()
            await conn.execute(
                delete(tokens).where(
                    tokens.c.app_id == self.ctx.app_id, tokens.c.user_id == row.user_id
                )
            )
            ref = await resolve_user_id(conn, self.ctx.app_id, row.user_id)
            events = await self.ctx.events.record_async(
                conn,
                [
                    self._event(PasswordResetCompleted, ref.public_id, tenant_id),
                    PasswordChanged(app_id=self.ctx.app_id, user_id=ref.public_id, via="reset"),
                ],
            )
        self.ctx.events.publish_all(events)
        return ResetTokenConsumed(ref.public_id, row.email)

    def _event(
        self, kind: type[PasswordResetRequested | PasswordResetCompleted], user_id: str, tenant: str
    ) -> Event:
        return kind(app_id=self.ctx.app_id, tenant_id=tenant, user_id=user_id)

    async def revoke_tokens(self, user_id: str) -> None:
        """Retire every reset link of the user (e.g. after their email changed)."""
        tokens = t.password_reset_tokens
        async with self.ctx.db.transaction() as conn:
            ref = await resolve_user_id(conn, self.ctx.app_id, user_id)
            await conn.execute(
                delete(tokens).where(
                    tokens.c.app_id == self.ctx.app_id, tokens.c.user_id == ref.internal_id
                )
            )
