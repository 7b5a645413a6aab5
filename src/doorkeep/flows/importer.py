"""Import users with their password hashes (the method the migration seed recommends
first): JSON Lines in, one user at a time, each all-or-nothing.

A line: {"email", "passwordHash", "hashingAlgorithm"?, "externalUserId"?,
"emailVerified"?, "metadata"?, "tenantId"?}. Users already there are skipped
(re-running an import is safe); a bad line is reported with its number and
reason and the others go on. bcrypt, Argon2 and Firebase scrypt hashes sign in
as they are and become Argon2id on the first sign-in.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from doorkeep.core.common import PUBLIC
from doorkeep.core.emailpassword import ImportOk
from doorkeep.core.idmapping import CreateMappingOk

if TYPE_CHECKING:
    from doorkeep.app import Doorkeep


@dataclass(frozen=True)
class ImportRecord:
    email: str
    password_hash: str
    hashing_algorithm: str | None
    external_user_id: str | None
    email_verified: bool
    metadata: dict[str, Any] | None
    tenant_id: str


@dataclass
class ImportReport:
    imported: int = 0
    skipped: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)


def parse_line(raw: str) -> ImportRecord:
    """One JSON line as a record, or ValueError saying what is wrong with it."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    email, password_hash = data.get("email"), data.get("passwordHash")
    if not isinstance(email, str) or not email:
        raise ValueError("email is missing or not a string")
    if not isinstance(password_hash, str) or not password_hash:
        raise ValueError("passwordHash is missing or not a string")
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
    )


async def import_one(dk: Doorkeep, record: ImportRecord) -> str | None:
    """'imported', 'skipped', or None with the reason raised as ValueError."""
    core = dk.core.public
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
        await dk.delete_user(internal_id)  # never a half-imported user
        raise
    return "imported"


async def import_users(
    dk: Doorkeep,
    lines: Iterable[str],
    *,
    progress: Callable[[int, ImportReport], None] | None = None,
    every: int = 1000,
) -> ImportReport:
    """Import line by line (the file is streamed, never loaded whole)."""
    report = ImportReport()
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            outcome = await import_one(dk, parse_line(raw))
        except ValueError as exc:
            report.failed.append((number, str(exc)))
        else:
            if outcome == "imported":
                report.imported += 1
            else:
                report.skipped += 1
        if progress is not None and number % every == 0:
            progress(number, report)
    return report
