"""Import users with their password hashes (the method the migration seed recommends
first): JSON Lines in, streamed, in batches of a thousand users, each batch one
transaction (see core/bulk_import.py).

A line: {"email", "passwordHash", "hashingAlgorithm"?, "externalUserId"?,
"emailVerified"?, "metadata"?, "tenantId"?}; a passwordless user (no hash: they sign in
with codes) is {"recipeId": "passwordless", "email"? and/or "phoneNumber"?, …}, its
phone number stored in E.164. A user whose email the tenant already
has is skipped and counted (re-running an import is safe, and says how many were
there); an external ID that another account holds fails its line. A bad line is
reported with its number and reason and the others go on. Hashes are only checked
for their format here: bcrypt, Argon2 and Firebase scrypt hashes sign in as they are
and become Argon2id on the first sign-in.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Column, String

from doorkeep.core import bulk_import as bulk
from doorkeep.core.bulk_import import ImportedUser
from doorkeep.core.common import PUBLIC, email_error, normalise_email
from doorkeep.core.context import AppContext
from doorkeep.core.emailpassword import ImportOk
from doorkeep.core.idmapping import CreateMappingOk
from doorkeep.core.metadata import InvalidMetadata, check_metadata_size
from doorkeep.core.passwordless_secrets import normalise_phone_number
from doorkeep.core.passwordless_users import RECIPE_ID as PASSWORDLESS
from doorkeep.core.passwords import InvalidPasswordHash, validate_imported_hash
from doorkeep.core.services import AppCore
from doorkeep.core.tenants import tenant_exists
from doorkeep.storage import tables as t


def _declared_length(column: Column[Any]) -> int:
    """The length the schema gives a string column (tables.py is the one place it is set)."""
    length = column.type.length if isinstance(column.type, String) else None
    if length is None:
        raise TypeError(f"{column} is not a string of declared length")
    return length


MAX_HASH_LENGTH = _declared_length(t.emailpassword_users.c.password_hash)
MAX_ID_LENGTH = _declared_length(t.userid_mappings.c.external_user_id)
# Refresh PostgreSQL's statistics after this many users, then each time the count
# has grown fourfold (see bulk.refresh_statistics): a handful of ANALYZEs per import.
ANALYZE_FIRST = 1000


@dataclass(frozen=True)
class ImportRecord:
    email: str | None  # None only for a passwordless user with a phone number
    password_hash: str | None  # None for a passwordless user
    hashing_algorithm: str | None
    external_user_id: str | None
    email_verified: bool
    metadata: dict[str, Any] | None
    tenant_id: str
    phone_number: str | None = None
    recipe_id: str = "emailpassword"


@dataclass
class ImportReport:
    imported: int = 0
    skipped: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)


def parse_line(raw: str | bytes) -> ImportRecord:
    """One JSON line (text, or UTF-8 bytes) as a record, or ValueError saying what is
    wrong with it."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"not UTF-8: byte {exc.start + 1} of the line") from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    email, password_hash = data.get("email"), data.get("passwordHash")
    passwordless = data.get("recipeId") == PASSWORDLESS
    phone = data.get("phoneNumber")
    if passwordless:
        if password_hash is not None:
            raise ValueError("a passwordless user has no passwordHash")
        if email is None and phone is None:
            raise ValueError("a passwordless user needs an email or a phoneNumber")
        if phone is not None and not isinstance(phone, str):
            raise ValueError("phoneNumber has the wrong type")
        if email is not None and (not isinstance(email, str) or not email):
            raise ValueError("email is not a string")
    else:
        if data.get("recipeId") not in (None, "emailpassword"):
            raise ValueError("recipeId must be emailpassword or passwordless")
        if not isinstance(email, str) or not email:
            raise ValueError("email is missing or not a string")
        if not isinstance(password_hash, str) or not password_hash:
            raise ValueError(
                "passwordHash is missing or not a string (a passwordless user needs "
                '"recipeId": "passwordless")'
            )
    optional: dict[str, type | tuple[type, ...]] = {
        "hashingAlgorithm": str,
        "externalUserId": str,
        "emailVerified": bool,
        "metadata": dict,
        "tenantId": str,
    }
    for name, kind in optional.items():
        if data.get(name) is not None and not isinstance(data[name], kind):
            raise ValueError(f"{name} has the wrong type")
    return ImportRecord(
        email=email,
        password_hash=password_hash,
        hashing_algorithm=data.get("hashingAlgorithm"),
        external_user_id=data.get("externalUserId"),
        email_verified=bool(data.get("emailVerified", False)),
        metadata=data.get("metadata"),
        tenant_id=data.get("tenantId") or PUBLIC,
        phone_number=phone,
        recipe_id=PASSWORDLESS if passwordless else "emailpassword",
    )


async def import_one(core: AppCore, record: ImportRecord) -> str | None:
    """'imported' or 'skipped', or the reason raised as ValueError: the one-user-at-a-
    time import through the public services, as it was before batches (the baseline
    bench/bench_import.py measures against; it is not atomic across its steps)."""
    if record.recipe_id == PASSWORDLESS or record.email is None or record.password_hash is None:
        raise ValueError("the one-at-a-time import takes email/password users only")
    if await core.users.get_users_by_email(record.tenant_id, record.email):
        return "skipped"
    result = await core.emailpassword.import_user(
        record.tenant_id, record.email, record.password_hash, record.hashing_algorithm
    )
    if not isinstance(result, ImportOk):
        detail = "; ".join(m for _, m in getattr(result, "fields", ())) or result.status
        raise ValueError(detail)
    if result.did_user_already_exist:  # created meanwhile by someone else: leave it be
        return "skipped"
    internal_id = result.user.id
    try:
        if record.external_user_id is not None:
            mapped = await core.idmapping.create(internal_id, record.external_user_id)
            if not isinstance(mapped, CreateMappingOk):
                raise ValueError(f"externalUserId {record.external_user_id!r} is taken")
        if record.email_verified:
            await core.emailverification.mark_verified(internal_id, record.email)
        if record.metadata:
            await core.metadata.update(internal_id, record.metadata)
    except Exception:
        await core.delete_user(internal_id)  # never a half-imported user
        raise
    return "imported"


async def import_users(
    core: AppCore,
    lines: Iterable[str | bytes],
    *,
    progress: Callable[[int, ImportReport], None] | None = None,
    every: int = 1000,
    batch_size: int = 1000,
) -> ImportReport:
    """Import into `core` (an app's services: `dk.core.public` for the public app) in
    batches of `batch_size` users, one transaction each.

    `lines` is consumed as a stream (a file object is fine): memory holds one batch,
    plus the list of failed lines, whatever the number of users. `progress` is called
    with the last line number read after each batch and at least every `every` lines.
    """
    run = _Run(core.ctx, ImportReport())
    batch: list[tuple[int, ImportedUser]] = []
    number = reported = 0
    for number, raw in enumerate(lines, start=1):
        if raw.strip():
            try:
                batch.append((number, await run.checked(parse_line(raw))))
            except ValueError as exc:
                run.report.failed.append((number, str(exc)))
        flushed = len(batch) >= batch_size
        if flushed:
            await run.import_batch(batch)
            batch = []
        if progress is not None and (flushed or number - reported >= every):
            progress(number, run.report)
            reported = number
    await run.import_batch(batch)
    if progress is not None:
        progress(number, run.report)
    return run.report


class _Run:
    """The state of one import: what it reports, the tenants it has looked up, and
    when next to refresh the planner's statistics."""

    def __init__(self, ctx: AppContext, report: ImportReport) -> None:
        self.ctx = ctx
        self.report = report
        self.tenants: set[str] = set()  # known to exist (a bad ID is looked up each time)
        self.analyze_at = ANALYZE_FIRST

    async def checked(self, record: ImportRecord) -> ImportedUser:
        """The record as a user to insert, or ValueError saying what is wrong with it.
        Only format checks: an imported hash is stored as it is, never computed."""
        if record.email is not None and (message := email_error(record.email)) is not None:
            raise ValueError(f"email: {message}")
        phone = None
        if record.phone_number is not None:
            phone = normalise_phone_number(record.phone_number)
            if phone is None:
                raise ValueError("phoneNumber: not a valid international number")
        stored = None
        if record.password_hash is not None:
            try:
                stored = validate_imported_hash(record.password_hash, record.hashing_algorithm)
            except InvalidPasswordHash as exc:
                raise ValueError(f"passwordHash: {exc}") from None
            if len(stored) > MAX_HASH_LENGTH:
                raise ValueError(f"passwordHash: longer than {MAX_HASH_LENGTH} characters")
        ext = record.external_user_id
        if ext is not None and not (0 < len(ext) <= MAX_ID_LENGTH and "\x00" not in ext):
            raise ValueError(f"externalUserId: 1 to {MAX_ID_LENGTH} characters, no NUL")
        metadata = None
        if record.metadata:
            # As a metadata update would store it: a key set to null is no key.
            metadata = {k: v for k, v in record.metadata.items() if v is not None}
            try:
                check_metadata_size(metadata)
            except InvalidMetadata as exc:
                raise ValueError(str(exc)) from None
        tenant = record.tenant_id
        if tenant not in self.tenants:
            if not await tenant_exists(self.ctx, tenant):
                raise ValueError(f"unknown tenant {tenant!r}")
            self.tenants.add(tenant)
        return ImportedUser(
            tenant_id=tenant,
            email=None if record.email is None else normalise_email(record.email),
            password_hash=stored,
            phone_number=phone,
            recipe_id=record.recipe_id,
            external_user_id=ext,
            email_verified=record.email_verified,
            metadata=metadata,
        )

    async def import_batch(self, batch: list[tuple[int, ImportedUser]]) -> None:
        """Skip who is there (one look per batch), insert the rest in one transaction."""
        if not batch:
            return
        report = self.report
        existing = await bulk.find_existing(self.ctx, [user for _, user in batch])
        emails, ids = existing.emails, existing.external_ids | existing.user_ids
        fresh: list[tuple[int, ImportedUser]] = []
        for number, user in batch:
            keys = bulk.login_keys(user)
            ext = user.external_user_id
            if any(key in emails for key in keys):  # there, or earlier in this batch: first wins
                report.skipped += 1
            elif ext is not None and ext in ids:  # another account has this external ID
                report.failed.append((number, bulk.external_id_taken(ext).reason))
            else:
                emails.update(keys)
                if ext is not None:
                    ids.add(ext)
                fresh.append((number, user))
        outcomes = await bulk.insert_batch(self.ctx, [user for _, user in fresh])
        for (number, _), outcome in zip(fresh, outcomes, strict=True):
            if isinstance(outcome, bulk.Failed):
                report.failed.append((number, outcome.reason))
            elif outcome == "imported":
                report.imported += 1
            else:  # its email appeared meanwhile (a concurrent writer)
                report.skipped += 1
        if report.imported >= self.analyze_at:
            await bulk.refresh_statistics(self.ctx)
            self.analyze_at = report.imported * 4
