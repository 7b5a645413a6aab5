"""Passwordless sign-in: one-time codes and magic links (the CDI's passwordless semantics).

A sign-in attempt is a device (deviceId kept by the browser, preAuthSessionId its
public name); each code sent to it has a user-input code and a link code, stored
only as digests (see passwordless_secrets). A code expires after
`passwordless_code_lifetime` seconds; a device takes `passwordless_max_code_input_
attempts` wrong user-input codes, the last of which deletes it (RESTART_FLOW_ERROR).

Every attempt on a device is one transaction that locks the device row first (FOR
UPDATE on PostgreSQL; SQLite has one writer), counts a wrong code with
`failed_attempts = failed_attempts + 1 … RETURNING`, and consumes a right one by
deleting the device: of ten concurrent consumptions of one code exactly one signs
in, and parallel guesses never get more than the allowed number evaluated.
Consuming signs the user in, or up: passwordless users are `users` rows of recipe
"passwordless", unique per tenant by email and by phone number (constraints).
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import delete, exists, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from doorkeep.core import passwordless_secrets as sec
from doorkeep.core import passwordless_users as users
from doorkeep.core.common import (
    FieldError,
    UnknownTenantError,
    new_id,
    now_ms,
)
from doorkeep.core.context import AppContext
from doorkeep.core.emailpassword import EmailAlreadyExistsError, UpdateOk
from doorkeep.core.events import (
    EmailChanged,
    Event,
    PasswordlessCodeSent,
    SignedIn,
    UserCreated,
)
from doorkeep.core.passwordless_results import (
    UNCHANGED,
    CheckOk,
    CheckResult,
    CodeCreated,
    CodeError,
    ConsumedDevice,
    ConsumeOk,
    ConsumeResult,
    CreateResult,
    Device,
    DeviceCode,
    ExpiredUserInputCodeError,
    IncorrectUserInputCodeError,
    PhoneNumberAlreadyExistsError,
    ResendResult,
    RestartFlowError,
    SignInUpOk,
    Unchanged,
    UpdateResult,
    UserInputCodeAlreadyUsedError,
)
from doorkeep.core.passwordless_secrets import ContactMethod, FlowType
from doorkeep.core.tenants import tenant_exists
from doorkeep.core.users import User, load_users, read_users, resolve_user_id
from doorkeep.storage import tables as t

__all__ = [
    "RECIPE_ID",
    "CheckOk",
    "CodeCreated",
    "ConsumeOk",
    "ConsumedDevice",
    "ContactMethod",
    "Device",
    "DeviceCode",
    "EmailAlreadyExistsError",
    "ExpiredUserInputCodeError",
    "FlowType",
    "IncorrectUserInputCodeError",
    "PasswordlessService",
    "PhoneNumberAlreadyExistsError",
    "RestartFlowError",
    "SignInUpOk",
    "UpdateOk",
    "UserInputCodeAlreadyUsedError",
]

RECIPE_ID = users.RECIPE_ID
_CODE_TRIES = 3  # a random user-input code may repeat one of the device's: draw again


@dataclass(frozen=True)
class _Attempt:
    """What a consume or check presents, digested: either a link code's hash, or the
    hash of the device ID with the user-input code's HMAC."""

    pre_auth_session_id: str
    device_id_hash: str | None = None
    code_hash: str | None = None
    link_hash: str | None = None


@dataclass(frozen=True)
class _NewCode:
    code_id: str
    device_id: str
    user_input_code: str
    link_code: str

    @classmethod
    def draw(cls, device_id: str, user_input_code: str | None) -> _NewCode:
        return cls(
            new_id(), device_id, user_input_code or sec.new_user_input_code(), sec.new_link_code()
        )


def contact_problem(
    email: object, phone_number: object
) -> FieldError | tuple[str | None, str | None]:
    """(email, phone number) normalised, exactly one of them set; or the FieldError."""
    if (email is None) == (phone_number is None):
        return FieldError.one("email", "Please provide exactly one of email or phoneNumber")
    if email is not None:
        normal = sec.normalise_contact_email(email)
        return FieldError.one("email", "Email is invalid") if normal is None else (normal, None)
    phone = sec.normalise_phone_number(phone_number)
    return (
        FieldError.one("phoneNumber", "Phone number is invalid") if phone is None else (None, phone)
    )


class PasswordlessService:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    @property
    def code_lifetime_ms(self) -> int:
        return self.ctx.settings.passwordless_code_lifetime * 1000

    @property
    def max_attempts(self) -> int:
        return self.ctx.settings.passwordless_max_code_input_attempts

    # -- codes ---------------------------------------------------------------------------------

    async def create_code(
        self,
        tenant_id: str,
        *,
        email: object = None,
        phone_number: object = None,
        user_input_code: object = None,
    ) -> CreateResult:
        """A new device with its first code, for an email or an (E.164) phone number."""
        contact = contact_problem(email, phone_number)
        if isinstance(contact, FieldError):
            return contact
        if user_input_code is not None and not sec.is_secret(user_input_code):
            return FieldError.one("userInputCode", "The user input code is invalid")
        if not await tenant_exists(self.ctx, tenant_id):
            return UnknownTenantError()
        code = _NewCode.draw(sec.new_device_id(), user_input_code)
        unit = partial(self._insert_code_reported, tenant_id, code, contact)
        created, events = await self.ctx.db.run(unit, write=True)
        self.ctx.events.publish_all(events)
        assert isinstance(created, CodeCreated)  # a new device cannot be gone
        return created

    async def create_new_code_for_device(
        self, tenant_id: str, device_id: object, *, user_input_code: object = None
    ) -> ResendResult:
        """Another code for an existing device (resend): RESTART_FLOW_ERROR if it is gone."""
        if sec.device_id_hash(device_id) is None:
            return RestartFlowError()
        if user_input_code is not None and not sec.is_secret(user_input_code):
            return UserInputCodeAlreadyUsedError()
        assert isinstance(device_id, str)
        for _ in range(_CODE_TRIES):
            code = _NewCode.draw(device_id, user_input_code)
            try:
                created, events = await self.ctx.db.run(
                    partial(self._insert_code_reported, tenant_id, code, None), write=True
                )
                self.ctx.events.publish_all(events)
                return created
            except IntegrityError:  # this device already has a code with these digits
                if user_input_code is not None:
                    return UserInputCodeAlreadyUsedError()
        raise RuntimeError("could not draw a fresh user input code")

    def _insert_code_reported(
        self,
        tenant_id: str,
        code: _NewCode,
        contact: tuple[str | None, str | None] | None,
        conn: Connection,
    ) -> tuple[CodeCreated | RestartFlowError, list[Event]]:
        """`_insert_code`, and the code's event recorded in its transaction (to publish
        once it commits)."""
        created = self._insert_code(tenant_id, code, contact, conn)
        if not isinstance(created, CodeCreated):
            return created, []
        channel = "email" if created.email is not None else "sms"
        event = PasswordlessCodeSent(**self._on(tenant_id), channel=channel)
        return created, self.ctx.events.record(conn, [event])

    def _on(self, tenant_id: str, user_id: str | None = None) -> dict[str, Any]:
        return {"app_id": self.ctx.app_id, "tenant_id": tenant_id, "user_id": user_id}

    def _insert_code(
        self,
        tenant_id: str,
        code: _NewCode,
        contact: tuple[str | None, str | None] | None,
        conn: Connection,
    ) -> CodeCreated | RestartFlowError:
        """Store a code; with `contact`, on a new device, else on the device it names."""
        d, c = t.passwordless_devices, t.passwordless_codes
        device_hash = sec.device_id_hash(code.device_id)
        assert device_hash is not None
        now = now_ms()
        expires = now + self.code_lifetime_ms
        if contact is not None:
            email, phone = contact
            conn.execute(
                insert(d).values(
                    app_id=self.ctx.app_id,
                    tenant_id=tenant_id,
                    device_id_hash=device_hash,
                    email=email,
                    phone_number=phone,
                    failed_attempts=0,
                    created_at=now,
                    expires_at=expires,
                )
            )
        else:
            found = conn.execute(
                update(d)
                .where(*self._device(tenant_id, device_hash))
                .values(expires_at=expires)
                .returning(d.c.email, d.c.phone_number)
            ).first()
            if found is None:
                return RestartFlowError()
            email, phone = found.email, found.phone_number
        conn.execute(
            insert(c).values(
                app_id=self.ctx.app_id,
                tenant_id=tenant_id,
                code_id=code.code_id,
                device_id_hash=device_hash,
                user_input_code_hash=sec.user_input_code_hash(code.device_id, code.user_input_code),
                link_code_hash=sec.link_code_hash(code.link_code),
                created_at=now,
                expires_at=expires,
            )
        )
        return CodeCreated(
            device_hash,
            code.code_id,
            code.device_id,
            code.user_input_code,
            code.link_code,
            now,
            self.code_lifetime_ms,
            email,
            phone,
        )

    async def consume_code(
        self,
        tenant_id: str,
        pre_auth_session_id: object,
        *,
        device_id: object = None,
        user_input_code: object = None,
        link_code: object = None,
    ) -> ConsumeResult:
        """Spend a code (a link code, or a device ID with its user-input code) and sign the
        device's contact in, or up. The device is gone afterwards."""
        attempt = _attempt(pre_auth_session_id, device_id, user_input_code, link_code)
        if attempt is None:
            return RestartFlowError()
        for tried in range(2):
            unit = partial(self._consume_reported, tenant_id, attempt)
            try:
                result, events = await self.ctx.db.run(unit, write=True)
            except IntegrityError:  # a concurrent sign-up of this contact won: sign in
                if tried:
                    raise
                continue
            self.ctx.events.publish_all(events)
            return result
        raise AssertionError("unreachable")

    async def check_code(
        self,
        tenant_id: str,
        pre_auth_session_id: object,
        *,
        device_id: object = None,
        user_input_code: object = None,
        link_code: object = None,
    ) -> CheckResult:
        """Whether a code is right, without spending it (wrong codes still count)."""
        attempt = _attempt(pre_auth_session_id, device_id, user_input_code, link_code)
        if attempt is None:
            return RestartFlowError()
        result = await self.ctx.db.run(
            partial(self._attempt_code, tenant_id, attempt, False), write=True
        )
        assert not isinstance(result, ConsumeOk)
        return result

    def _consume_reported(
        self, tenant_id: str, attempt: _Attempt, conn: Connection
    ) -> tuple[ConsumeResult, list[Event]]:
        """Consume, and a sign-in (and sign-up) recorded in its transaction."""
        result = self._attempt_code(tenant_id, attempt, True, conn)
        assert not isinstance(result, CheckOk)
        if not isinstance(result, ConsumeOk):
            return result, []
        return result, self._sign_in_events(
            conn, tenant_id, result.user.id, result.created_new_recipe_user, signed_in=True
        )

    def _sign_in_events(
        self, conn: Connection, tenant_id: str, user_id: str, created: bool, *, signed_in: bool
    ) -> list[Event]:
        on = self._on(tenant_id, user_id)
        events: list[Event] = [UserCreated(**on, method=RECIPE_ID)] if created else []
        if signed_in:
            events.append(SignedIn(**on, method=RECIPE_ID))
        return self.ctx.events.record(conn, events)

    def _attempt_code(
        self, tenant_id: str, attempt: _Attempt, consume: bool, conn: Connection
    ) -> ConsumeResult | CheckOk:
        d, c = t.passwordless_devices, t.passwordless_codes
        device_hash = attempt.device_id_hash
        if attempt.link_hash is not None:
            device_hash = conn.execute(
                select(c.c.device_id_hash).where(
                    *self._scope(c, tenant_id), c.c.link_code_hash == attempt.link_hash
                )
            ).scalar()
        if device_hash is None or not hmac.compare_digest(
            device_hash.encode(), attempt.pre_auth_session_id.encode()
        ):
            return RestartFlowError()
        where = self._device(tenant_id, device_hash)
        device = conn.execute(
            select(d.c.email, d.c.phone_number, d.c.failed_attempts).where(*where).with_for_update()
        ).first()
        if device is None:
            return RestartFlowError()
        by_code = (
            c.c.link_code_hash == attempt.link_hash
            if attempt.link_hash is not None
            else c.c.user_input_code_hash == attempt.code_hash
        )
        expires_at = conn.execute(
            select(c.c.expires_at).where(
                *self._scope(c, tenant_id), c.c.device_id_hash == device_hash, by_code
            )
        ).scalar()
        now = now_ms()
        if expires_at is None or expires_at <= now:
            if attempt.link_hash is not None:  # a used-up or expired link: start again
                return RestartFlowError()
            return self._count_failure(conn, where, expired=expires_at is not None)
        consumed = ConsumedDevice(
            device_hash, device.failed_attempts, device.email, device.phone_number
        )
        if not consume:
            return CheckOk(consumed)
        if conn.execute(delete(d).where(*where).returning(d.c.device_id_hash)).first() is None:
            return RestartFlowError()  # spent by a concurrent consumption
        internal_id, created = users.sign_in_up(
            conn, self.ctx.app_id, tenant_id, device.email, device.phone_number
        )
        user = read_users(conn, self.ctx.app_id, [internal_id])[0]
        return ConsumeOk(user, user.id, created, consumed)

    def _count_failure(self, conn: Connection, where: Sequence[Any], *, expired: bool) -> CodeError:
        d = t.passwordless_devices
        failed = conn.execute(
            update(d)
            .where(*where)
            .values(failed_attempts=d.c.failed_attempts + 1)
            .returning(d.c.failed_attempts)
        ).scalar_one()
        if failed >= self.max_attempts:
            conn.execute(delete(d).where(*where))
            return RestartFlowError()
        error = ExpiredUserInputCodeError if expired else IncorrectUserInputCodeError
        return error(failed, self.max_attempts)

    # -- devices -------------------------------------------------------------------------------

    async def revoke_code(self, tenant_id: str, code_id: str) -> None:
        """Delete a code; its device goes with its last code."""
        d, c = t.passwordless_devices, t.passwordless_codes
        async with self.ctx.db.transaction() as conn:
            device_hash = (
                await conn.execute(
                    delete(c)
                    .where(*self._scope(c, tenant_id), c.c.code_id == code_id)
                    .returning(c.c.device_id_hash)
                )
            ).scalar()
            if device_hash is None:
                return
            remaining = exists().where(
                *self._scope(c, tenant_id), c.c.device_id_hash == device_hash
            )
            await conn.execute(delete(d).where(*self._device(tenant_id, device_hash), ~remaining))

    async def revoke_device(self, tenant_id: str, pre_auth_session_id: str) -> None:
        async with self.ctx.db.transaction() as conn:
            await conn.execute(
                delete(t.passwordless_devices).where(*self._device(tenant_id, pre_auth_session_id))
            )

    async def revoke_all_codes(
        self, tenant_id: str, *, email: str | None = None, phone_number: str | None = None
    ) -> None:
        """Delete every device (with its codes) of this email or phone number."""
        d = t.passwordless_devices
        column, value = self._contact_column(d, email, phone_number)
        if value is None:
            return
        async with self.ctx.db.transaction() as conn:
            await conn.execute(delete(d).where(*self._scope(d, tenant_id), column == value))

    async def list_codes_by_email(self, tenant_id: str, email: str) -> list[Device]:
        d = t.passwordless_devices
        normal = sec.normalise_contact_email(email)
        return [] if normal is None else await self._devices(tenant_id, d.c.email == normal)

    async def list_codes_by_phone_number(self, tenant_id: str, phone_number: str) -> list[Device]:
        d = t.passwordless_devices
        normal = sec.normalise_phone_number(phone_number)
        return [] if normal is None else await self._devices(tenant_id, d.c.phone_number == normal)

    async def list_codes_by_device_id(self, tenant_id: str, device_id: str) -> Device | None:
        device_hash = sec.device_id_hash(device_id)
        if device_hash is None:
            return None
        return await self.list_codes_by_pre_auth_session_id(tenant_id, device_hash)

    async def list_codes_by_pre_auth_session_id(
        self, tenant_id: str, pre_auth_session_id: str
    ) -> Device | None:
        found = await self._devices(
            tenant_id, t.passwordless_devices.c.device_id_hash == pre_auth_session_id
        )
        return found[0] if found else None

    async def _devices(self, tenant_id: str, condition: Any) -> list[Device]:
        d, c = t.passwordless_devices, t.passwordless_codes
        async with self.ctx.db.read() as conn:
            devices = (
                await conn.execute(
                    select(d).where(*self._scope(d, tenant_id), condition).order_by(d.c.created_at)
                )
            ).all()
            if not devices:
                return []
            codes = (
                await conn.execute(
                    select(c.c.device_id_hash, c.c.code_id, c.c.created_at, c.c.expires_at)
                    .where(
                        *self._scope(c, tenant_id),
                        c.c.device_id_hash.in_([row.device_id_hash for row in devices]),
                    )
                    .order_by(c.c.created_at)
                )
            ).all()
        by_device: dict[str, list[DeviceCode]] = {}
        for row in codes:
            code = DeviceCode(row.code_id, row.created_at, row.expires_at - row.created_at)
            by_device.setdefault(row.device_id_hash, []).append(code)
        return [
            Device(
                row.device_id_hash,
                row.failed_attempts,
                row.email,
                row.phone_number,
                tuple(by_device.get(row.device_id_hash, ())),
            )
            for row in devices
        ]

    # -- users ---------------------------------------------------------------------------------

    async def get_user_by_email(self, tenant_id: str, email: str) -> User | None:
        normal = sec.normalise_contact_email(email)
        plt = t.passwordless_user_tenants
        return None if normal is None else await self._user_by(tenant_id, plt.c.email, normal)

    async def get_user_by_phone_number(self, tenant_id: str, phone_number: str) -> User | None:
        normal = sec.normalise_phone_number(phone_number)
        plt = t.passwordless_user_tenants
        if normal is None:
            return None
        return await self._user_by(tenant_id, plt.c.phone_number, normal)

    async def _user_by(self, tenant_id: str, column: Any, value: str) -> User | None:
        plt = t.passwordless_user_tenants
        async with self.ctx.db.read() as conn:
            user_id = (
                await conn.execute(
                    select(plt.c.user_id).where(*self._scope(plt, tenant_id), column == value)
                )
            ).scalar()
            found = [] if user_id is None else await load_users(conn, self.ctx.app_id, [user_id])
        return found[0] if found else None

    async def sign_in_up(
        self, tenant_id: str, *, email: object = None, phone_number: object = None
    ) -> SignInUpOk | FieldError | UnknownTenantError:
        """The user of this contact, created if there is none (no code: for admins, the
        CLI and imports; what a consumed code does after its checks)."""
        contact = contact_problem(email, phone_number)
        if isinstance(contact, FieldError):
            return contact
        if not await tenant_exists(self.ctx, tenant_id):
            return UnknownTenantError()
        for tried in range(2):
            try:
                result, events = await self.ctx.db.run(
                    partial(self._sign_in_up_unit, tenant_id, *contact), write=True
                )
            except IntegrityError:
                if tried:
                    raise
                continue
            self.ctx.events.publish_all(events)
            return result
        raise AssertionError("unreachable")

    def _sign_in_up_unit(
        self, tenant_id: str, email: str | None, phone: str | None, conn: Connection
    ) -> tuple[SignInUpOk, list[Event]]:
        internal_id, created = users.sign_in_up(conn, self.ctx.app_id, tenant_id, email, phone)
        user = read_users(conn, self.ctx.app_id, [internal_id])[0]
        events = self._sign_in_events(conn, tenant_id, user.id, created, signed_in=False)
        return SignInUpOk(user, user.id, created), events

    async def update_user(
        self,
        recipe_user_id: str,
        *,
        email: str | Unchanged | None = UNCHANGED,
        phone_number: str | Unchanged | None = UNCHANGED,
    ) -> UpdateResult:
        """Change (a value) or delete (None) the email and/or phone number of a passwordless
        login; UNCHANGED leaves one as it is. A user keeps at least one of the two."""
        values: dict[str, str | None] = {}
        if email is not UNCHANGED:
            values["email"] = None if email is None else sec.normalise_contact_email(email)
            if email is not None and values["email"] is None:
                return FieldError.one("email", "Email is invalid")
        if phone_number is not UNCHANGED:
            phone = None if phone_number is None else sec.normalise_phone_number(phone_number)
            if phone_number is not None and phone is None:
                return FieldError.one("phoneNumber", "Phone number is invalid")
            values["phone_number"] = phone
        try:
            async with self.ctx.db.transaction() as conn:
                ref = await resolve_user_id(conn, self.ctx.app_id, recipe_user_id)
                unit = partial(users.update_contact, self.ctx.app_id, ref.internal_id, values)
                result = await conn.run_sync(unit)
                changed: list[Event] = []
                if isinstance(result, UpdateOk) and values.get("email") is not None:
                    changed.append(EmailChanged(app_id=self.ctx.app_id, user_id=ref.public_id))
                events = await self.ctx.events.record_async(conn, changed)
            self.ctx.events.publish_all(events)
            return result
        except IntegrityError as exc:
            if "phone_number" in str(exc.orig):
                return PhoneNumberAlreadyExistsError()
            return EmailAlreadyExistsError()

    # -- helpers -------------------------------------------------------------------------------

    def _scope(self, table: Any, tenant_id: str) -> tuple[Any, Any]:
        return (table.c.app_id == self.ctx.app_id, table.c.tenant_id == tenant_id)

    def _device(self, tenant_id: str, device_hash: str) -> tuple[Any, ...]:
        d = t.passwordless_devices
        return (*self._scope(d, tenant_id), d.c.device_id_hash == device_hash)

    @staticmethod
    def _contact_column(table: Any, email: str | None, phone: str | None) -> tuple[Any, str | None]:
        if email is not None:
            return table.c.email, sec.normalise_contact_email(email)
        return table.c.phone_number, (None if phone is None else sec.normalise_phone_number(phone))


def _attempt(
    pre_auth_session_id: object, device_id: object, user_input_code: object, link_code: object
) -> _Attempt | None:
    """The digests of what a consumption presents, or None if it cannot be one of ours."""
    if not sec.is_secret(pre_auth_session_id):
        return None
    assert isinstance(pre_auth_session_id, str)
    if link_code is not None:
        if not sec.is_secret(link_code):
            return None
        assert isinstance(link_code, str)
        return _Attempt(pre_auth_session_id, link_hash=sec.link_code_hash(link_code))
    device_hash = sec.device_id_hash(device_id)
    if device_hash is None or not sec.is_secret(user_input_code):
        return None
    assert isinstance(device_id, str) and isinstance(user_input_code, str)
    code_hash = sec.user_input_code_hash(device_id, user_input_code)
    return _Attempt(pre_auth_session_id, device_id_hash=device_hash, code_hash=code_hash)
