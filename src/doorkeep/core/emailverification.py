"""Email verification: tokens bound to a user AND an address, and the verified set.

Verifying a@x says nothing about b@x: a user who changes their email starts
unverified for the new address unless it was verified for them before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from doorkeep.core import single_use
from doorkeep.core.common import PUBLIC, Status, normalise_email
from doorkeep.core.context import AppContext
from doorkeep.core.events import EmailVerificationSent, Event
from doorkeep.core.events import EmailVerified as EmailVerifiedEvent
from doorkeep.core.users import resolve_user_id
from doorkeep.storage import tables as t


@dataclass(frozen=True)
class TokenCreated(Status):
    token: str


@dataclass(frozen=True)
class EmailAlreadyVerifiedError(Status):
    status: ClassVar[str] = "EMAIL_ALREADY_VERIFIED_ERROR"


@dataclass(frozen=True)
class EmailVerified(Status):
    user_id: str  # as the caller knows the user (external ID if mapped)
    email: str


@dataclass(frozen=True)
class InvalidVerificationTokenError(Status):
    status: ClassVar[str] = "EMAIL_VERIFICATION_INVALID_TOKEN_ERROR"


class EmailVerificationService:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    async def create_token(
        self, user_id: str, email: str, tenant_id: str = PUBLIC
    ) -> TokenCreated | EmailAlreadyVerifiedError:
        email = normalise_email(email)
        async with self.ctx.db.transaction() as conn:
            ref = await resolve_user_id(conn, self.ctx.app_id, user_id)
            if await self._is_verified(conn, ref.internal_id, email):
                return EmailAlreadyVerifiedError()
            token = await single_use.issue(
                conn,
                t.email_verification_tokens,
                self.ctx.settings.email_verification_token_lifetime,
                app_id=self.ctx.app_id,
                tenant_id=tenant_id,
                user_id=ref.internal_id,
                email=email,
            )
            events = await self.ctx.events.record_async(
                conn, [self._event(EmailVerificationSent, ref.public_id, tenant_id)]
            )
        self.ctx.events.publish_all(events)
        return TokenCreated(token)

    async def verify_token(
        self, token: object, tenant_id: str = PUBLIC
    ) -> EmailVerified | InvalidVerificationTokenError:
        """Consume the token and mark its (user, email) verified, in one transaction."""
        tokens = t.email_verification_tokens
        async with self.ctx.db.transaction() as conn:
            row = await single_use.consume(
                conn, tokens, token, app_id=self.ctx.app_id, tenant_id=tenant_id
            )
            if row is None:
                return InvalidVerificationTokenError()
            await self._mark_verified(conn, row.user_id, row.email)
            # Other links sent for this address are moot now.
            await conn.execute(
                delete(tokens).where(
                    tokens.c.app_id == self.ctx.app_id,
                    tokens.c.user_id == row.user_id,
                    tokens.c.email == row.email,
                )
            )
            ref = await resolve_user_id(conn, self.ctx.app_id, row.user_id)
            events = await self.ctx.events.record_async(
                conn, [self._event(EmailVerifiedEvent, ref.public_id, tenant_id)]
            )
        self.ctx.events.publish_all(events)
        return EmailVerified(ref.public_id, row.email)

    def _event(
        self, kind: type[EmailVerificationSent | EmailVerifiedEvent], user_id: str, tenant: str
    ) -> Event:
        return kind(app_id=self.ctx.app_id, tenant_id=tenant, user_id=user_id)

    async def is_verified(self, user_id: str, email: str) -> bool:
        async with self.ctx.db.read() as conn:
            ref = await resolve_user_id(conn, self.ctx.app_id, user_id)
            return await self._is_verified(conn, ref.internal_id, normalise_email(email))

    async def mark_verified(self, user_id: str, email: str) -> None:
        async with self.ctx.db.transaction() as conn:
            ref = await resolve_user_id(conn, self.ctx.app_id, user_id)
            await self._mark_verified(conn, ref.internal_id, normalise_email(email))

    async def unverify(self, user_id: str, email: str) -> None:
        ve = t.verified_emails
        async with self.ctx.db.transaction() as conn:
            ref = await resolve_user_id(conn, self.ctx.app_id, user_id)
            await conn.execute(
                delete(ve).where(
                    ve.c.app_id == self.ctx.app_id,
                    ve.c.user_id == ref.internal_id,
                    ve.c.email == normalise_email(email),
                )
            )

    async def revoke_tokens(self, user_id: str, email: str, tenant_id: str = PUBLIC) -> None:
        tokens = t.email_verification_tokens
        async with self.ctx.db.transaction() as conn:
            ref = await resolve_user_id(conn, self.ctx.app_id, user_id)
            await conn.execute(
                delete(tokens).where(
                    tokens.c.app_id == self.ctx.app_id,
                    tokens.c.tenant_id == tenant_id,
                    tokens.c.user_id == ref.internal_id,
                    tokens.c.email == normalise_email(email),
                )
            )

    async def _is_verified(self, conn: AsyncConnection, internal_id: str, email: str) -> bool:
        ve = t.verified_emails
        row = (
            await conn.execute(
                select(ve.c.email).where(
                    ve.c.app_id == self.ctx.app_id, ve.c.user_id == internal_id, ve.c.email == email
                )
            )
        ).first()
        return row is not None

    async def _mark_verified(self, conn: AsyncConnection, internal_id: str, email: str) -> None:
        insert_ = pg_insert if self.ctx.db.dialect == "postgresql" else sqlite_insert
        await conn.execute(
            insert_(t.verified_emails)
            .values(app_id=self.ctx.app_id, user_id=internal_id, email=email)
            .on_conflict_do_nothing()
        )
