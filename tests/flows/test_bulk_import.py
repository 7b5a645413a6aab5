"""Batched import with password hashes (issue 5, part 5), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json

import bcrypt
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from doorkeep import Doorkeep
from doorkeep.core import bulk_import as bulk
from doorkeep.core.bulk_import import Failed, ImportedUser
from doorkeep.core.emailpassword import SignInOk
from doorkeep.flows.importer import ImportReport, import_users
from doorkeep.storage import tables as t

BCRYPT = bcrypt.hashpw(b"legacy password 1", bcrypt.gensalt(rounds=4)).decode()


def line(email: str, **extra: object) -> str:
    return json.dumps({"email": email, "passwordHash": BCRYPT, **extra})


def user(
    email: str,
    *,
    external_user_id: str | None = None,
    email_verified: bool = False,
    metadata: dict[str, object] | None = None,
) -> ImportedUser:
    """A checked user, as the importer hands them to core/bulk_import.py."""
    return ImportedUser(
        tenant_id="public",
        email=email,
        password_hash=BCRYPT,
        external_user_id=external_user_id,
        email_verified=email_verified,
        metadata=metadata,
    )


async def counts(dk: Doorkeep) -> dict[str, int]:
    async with dk.core.db.engine.connect() as conn:
        return {
            table.name: (await conn.execute(select(func.count()).select_from(table))).scalar_one()
            for table in bulk.TABLES
        }


async def user_ids(dk: Doorkeep) -> set[str]:
    async with dk.core.db.engine.connect() as conn:
        return set(await conn.scalars(select(t.users.c.user_id)))


async def test_batches_skip_existing_report_bad_lines_and_rerun_safely(dk: Doorkeep) -> None:
    await dk.emailpassword.sign_up("already@example.com", "correct horse battery")
    lines = [line(f"user{i}@example.com") for i in range(25)]
    lines.insert(3, "{not json")
    lines.insert(7, line("not-an-email"))
    lines.insert(9, line("already@example.com"))
    lines.insert(12, json.dumps({"email": "x@example.com", "passwordHash": "plaintext"}))
    lines.insert(15, line("user0@example.com"))  # twice in one file

    report = await import_users(dk.core.public, lines, batch_size=10)
    assert report.imported == 25 and report.skipped == 2
    assert [number for number, _ in report.failed] == [4, 8, 13]
    assert report.failed[0][1].startswith("not JSON")
    assert report.failed[1][1].startswith("email:")
    assert report.failed[2][1].startswith("passwordHash:")

    again = await import_users(dk.core.public, lines, batch_size=10)
    assert again.imported == 0 and again.skipped == 27 and len(again.failed) == 3
    rows = await counts(dk)
    assert rows["users"] == rows["emailpassword_users"] == rows["emailpassword_user_tenants"] == 26
    assert rows["user_tenants"] == 26


async def test_an_imported_bcrypt_user_signs_in_and_is_upgraded(dk: Doorkeep) -> None:
    report = await import_users(
        dk.core.public,
        [
            line(
                "ada@example.com",
                externalUserId="legacy-7",
                emailVerified=True,
                metadata={"plan": "pro"},
            )
        ],
    )
    assert report.imported == 1
    signed_in = await dk.emailpassword.sign_in("ada@example.com", "legacy password 1")
    assert isinstance(signed_in, SignInOk)
    assert signed_in.user.id == "legacy-7"  # the external ID is the one the app sees
    async with dk.core.db.engine.connect() as conn:
        stored = (await conn.execute(select(t.emailpassword_users.c.password_hash))).scalar_one()
    assert stored.startswith("$argon2id$")
    assert await dk.core.public.emailverification.is_verified("legacy-7", "ada@example.com")
    assert await dk.core.public.metadata.get("legacy-7") == {"plan": "pro"}


async def test_external_id_clashes_fail_only_their_line(dk: Doorkeep) -> None:
    first = await import_users(dk.core.public, [line("a@example.com", externalUserId="ext-1")])
    assert first.imported == 1
    report = await import_users(
        dk.core.public,
        [
            line("b@example.com", externalUserId="ext-2"),
            line("c@example.com", externalUserId="ext-2"),  # same ID again in the batch
            line("d@example.com", externalUserId="ext-1"),  # taken in the database
            line("e@example.com"),
        ],
    )
    assert report.imported == 2
    assert [number for number, _ in report.failed] == [2, 3]
    assert all("is taken" in reason for _, reason in report.failed)
    rows = await counts(dk)
    assert rows["users"] == rows["emailpassword_users"] == 3 and rows["userid_mappings"] == 2


async def test_two_concurrent_imports_of_one_file_make_each_user_once(dk: Doorkeep) -> None:
    lines = [line(f"racer{i}@example.com", emailVerified=True) for i in range(60)]
    reports = await asyncio.gather(
        import_users(dk.core.public, lines, batch_size=20),
        import_users(dk.core.public, lines, batch_size=20),
    )
    assert sum(r.imported for r in reports) == 60
    assert sum(r.skipped for r in reports) == 60
    assert not any(r.failed for r in reports)
    rows = await counts(dk)
    assert rows["users"] == rows["emailpassword_users"] == rows["verified_emails"] == 60


async def test_a_rerun_changes_nothing_and_says_everyone_was_there(dk: Doorkeep) -> None:
    lines = [
        line(f"user{i}@example.com", externalUserId=f"legacy-{i}", emailVerified=i % 2 == 0)
        for i in range(30)
    ]
    first = await import_users(dk.core.public, lines, batch_size=7)
    assert (first.imported, first.skipped, first.failed) == (30, 0, [])
    before, ids_before = await counts(dk), await user_ids(dk)
    again = await import_users(dk.core.public, lines, batch_size=7)
    assert (again.imported, again.skipped, again.failed) == (0, 30, [])
    assert await counts(dk) == before
    assert await user_ids(dk) == ids_before
    assert before["userid_mappings"] == 30 and before["verified_emails"] == 15


async def test_a_batch_the_database_refuses_part_way_writes_nothing(dk: Doorkeep) -> None:
    await dk.emailpassword.sign_up("kept@example.com", "correct horse battery")
    before = await counts(dk)
    batch = [
        user("one@example.com", metadata={"a": 1}, email_verified=True),
        user("two@example.com", external_user_id="dup"),
        user("three@example.com", metadata={"b": 2}),
        # The unique external ID is the sixth table written: every user, tenant and
        # credential row of the batch is in by then, and must all go.
        user("four@example.com", external_user_id="dup"),
    ]
    with pytest.raises(IntegrityError):
        await bulk.insert_users(dk.core.public.ctx, batch)
    assert await counts(dk) == before


async def test_a_refused_batch_goes_one_by_one_and_loses_only_the_bad_user(
    dk: Doorkeep,
) -> None:
    batch = [
        user("one@example.com", email_verified=True),
        # A tenant that does not exist: the foreign key refuses this user's tenant row,
        # after its users row went in. (The importer checks tenants first; a tenant
        # deleted meanwhile is the real-life version.)
        ImportedUser(
            tenant_id="gone", email="two@example.com", password_hash=BCRYPT, metadata={"x": 1}
        ),
        user("three@example.com", external_user_id="legacy-3"),
    ]
    outcomes = await bulk.insert_batch(dk.core.public.ctx, batch)
    assert outcomes[0] == "imported" and outcomes[2] == "imported"
    assert isinstance(outcomes[1], Failed)
    assert outcomes[1].reason.startswith("the database refused this user")
    rows = await counts(dk)
    assert rows["users"] == rows["user_tenants"] == rows["emailpassword_users"] == 2
    assert rows["emailpassword_user_tenants"] == 2 and rows["user_metadata"] == 0
    assert rows["verified_emails"] == 1 and rows["userid_mappings"] == 1
    assert await dk.core.public.users.get_users_by_email("public", "two@example.com") == []


async def test_a_user_created_between_the_look_and_the_insert_is_skipped(dk: Doorkeep) -> None:
    ctx = dk.core.public.ctx
    batch = [user(f"user{i}@example.com", metadata={"i": i}) for i in range(5)]
    existing = await bulk.find_existing(ctx, batch)
    assert existing.emails == set()
    # A concurrent writer: the same address signs up after the look.
    await dk.emailpassword.sign_up("user3@example.com", "correct horse battery")
    outcomes = await bulk.insert_batch(ctx, batch)
    assert outcomes == ["imported", "imported", "imported", "skipped", "imported"]
    rows = await counts(dk)
    assert rows["users"] == rows["emailpassword_user_tenants"] == 5
    assert rows["user_metadata"] == 4  # the signed-up user got none of the import's
    signed_in = await dk.emailpassword.sign_in("user3@example.com", "correct horse battery")
    assert isinstance(signed_in, SignInOk)


async def test_lines_that_are_not_utf8_or_have_bad_fields_fail_alone(dk: Doorkeep) -> None:
    lines: list[str | bytes] = [
        line("a@example.com").encode(),
        b'{"email": "\xff@example.com", "passwordHash": "x"}',
        line("b@example.com", externalUserId="x" * 129),
        line("c@example.com", metadata={"big": "x" * (1 << 20)}),
        line("d@example.com", tenantId="nope"),
        line("e@example.com", passwordHash=BCRYPT + "x" * 500),
        line("f@example.com", metadata={"dropped": None, "kept": 1}),
    ]
    report = await import_users(dk.core.public, lines)
    assert report.imported == 2
    assert [number for number, _ in report.failed] == [2, 3, 4, 5, 6]
    reasons = [reason for _, reason in report.failed]
    assert reasons[0].startswith("not UTF-8")
    assert reasons[1].startswith("externalUserId")
    assert reasons[2] == "metadata is larger than 1 MiB"
    assert reasons[3] == "unknown tenant 'nope'"
    assert reasons[4].startswith("passwordHash")
    [f] = await dk.core.public.users.get_users_by_email("public", "f@example.com")
    assert await dk.core.public.metadata.get(f.id) == {"kept": 1}


async def test_progress_is_reported_per_batch_with_the_last_line_read(dk: Doorkeep) -> None:
    seen: list[tuple[int, int]] = []

    def progress(number: int, report: ImportReport) -> None:
        seen.append((number, report.imported))

    lines = [line(f"user{i}@example.com") for i in range(25)]
    await import_users(dk.core.public, lines, progress=progress, batch_size=10)
    assert seen == [(10, 10), (20, 20), (25, 25)]


async def test_postgres_statistics_are_refreshed_during_a_large_import(dk: Doorkeep) -> None:
    lines = [line(f"user{i}@example.com") for i in range(1_200)]
    report = await import_users(dk.core.public, lines, batch_size=300)
    assert report.imported == 1_200
    if dk.core.db.dialect != "postgresql":
        return  # SQLite plans by its unique indexes: nothing to refresh
    async with dk.core.db.engine.connect() as conn:
        analysed = await conn.scalar(
            text("SELECT reltuples FROM pg_class WHERE relname = 'emailpassword_user_tenants'")
        )
    # Only ANALYZE sets this: -1 (never analysed) on a fresh table otherwise.
    assert analysed == 1_200
