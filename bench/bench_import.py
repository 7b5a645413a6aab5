"""Import of users with bcrypt hashes (`doorkeep users import`): users/second and peak
memory, on SQLite and PostgreSQL, against the one-user-at-a-time path measured in the
same run.

Hashing is not what is measured (an import stores hashes, it never computes one):
one real bcrypt hash (cost 4) is made once and reused with distinct emails. Every
line carries an external (legacy) user ID; one in ten is marked verified and one in
ten has metadata, so all seven tables an import writes are exercised. Each run is a
fresh subprocess on a fresh database, so its peak RSS (ru_maxrss) is the import's
own; runs at a tenth of the users and at all of them show whether memory grows
with the file. The baseline is the path the CLI used before batches (four public
service calls per user), on a small file, in the same run: speed-ups are ratios.

Run: .venv/bin/python bench/bench_import.py [--users 100000]
     (add --postgres postgresql://postgres@127.0.0.1:5432/test to include PostgreSQL)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bcrypt

BASELINE_USERS = 2_000
PASSWORD = b"legacy password"


def write_file(path: Path, users: int, password_hash: str) -> None:
    """JSON Lines, written as a stream (the file is never held in memory either)."""
    with path.open("w", encoding="utf-8") as out:
        for i in range(users):
            record: dict[str, object] = {
                "email": f"user{i}@example.com",
                "passwordHash": password_hash,
                "externalUserId": f"legacy-{i}",
            }
            if i % 10 == 0:
                record["emailVerified"] = True
            if i % 10 == 5:
                record["metadata"] = {"plan": "pro", "legacySignup": 1_600_000_000_000 + i}
            out.write(json.dumps(record) + "\n")


async def run_import(database_url: str, path: Path, one_by_one: bool) -> tuple[int, float]:
    from doorkeep import Doorkeep, Settings
    from doorkeep.core.emailpassword import SignInOk
    from doorkeep.flows.importer import import_one, import_users, parse_line

    async with Doorkeep(Settings(database_url=database_url)) as dk:
        start = time.perf_counter()
        with path.open(encoding="utf-8") as lines:
            if one_by_one:
                imported = 0
                for raw in lines:
                    imported += await import_one(dk.core.public, parse_line(raw)) == "imported"
            else:
                report = await import_users(dk.core.public, lines)
                assert not report.failed, report.failed[:3]
                imported = report.imported
        seconds = time.perf_counter() - start
        # Not timed: the hashes really sign in (and are upgraded to Argon2id).
        signed_in = await dk.emailpassword.sign_in("user1@example.com", PASSWORD.decode())
        assert isinstance(signed_in, SignInOk) and signed_in.user.id == "legacy-1"
        return imported, seconds


def child(database_url: str, path: str, one_by_one: bool) -> None:
    imported, seconds = asyncio.run(run_import(database_url, Path(path), one_by_one))
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"imported": imported, "seconds": seconds, "peak_mib": peak_mib}))


def measure(database_url: str, path: Path, one_by_one: bool = False) -> dict[str, float]:
    args = [sys.executable, __file__, "--child", database_url, str(path)]
    if one_by_one:
        args.append("--one-by-one")
    done = subprocess.run(args, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def fresh_database(kind: str, workdir: Path, postgres: str | None, name: str) -> str:
    if kind == "SQLite":
        return f"sqlite:///{workdir / (name + '.sqlite3')}"
    from doorkeep.testing import create_scratch_database

    assert postgres is not None
    return asyncio.run(create_scratch_database(postgres))


def drop(kind: str, url: str, postgres: str | None) -> None:
    if kind == "PostgreSQL":
        from doorkeep.testing import drop_scratch_database

        assert postgres is not None
        asyncio.run(drop_scratch_database(postgres, url))


def postgres_autovacuum(url: str) -> str:
    import asyncpg
    from sqlalchemy.engine import make_url

    async def show() -> str:
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        conn = await asyncpg.connect(dsn)
        try:
            return str(await conn.fetchval("SHOW autovacuum"))
        finally:
            await conn.close()

    return asyncio.run(show())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--postgres")
    args = parser.parse_args()
    backends = ["SQLite"] + (["PostgreSQL"] if args.postgres else [])
    password_hash = bcrypt.hashpw(PASSWORD, bcrypt.gensalt(rounds=4)).decode()
    print(
        "Users imported from JSON Lines with bcrypt hashes. Hashing is not measured: one "
        "real bcrypt hash\n(cost 4) is reused with distinct emails. Every line has an "
        "externalUserId; 1 in 10 emailVerified,\n1 in 10 metadata. Batches of 1,000, one "
        "transaction each. Peak RSS: ru_maxrss of a fresh process per run.\n"
    )
    if args.postgres:
        print(f"PostgreSQL autovacuum: {postgres_autovacuum(args.postgres)}\n")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        files = {}
        for users in (BASELINE_USERS, args.users // 10, args.users):
            files[users] = workdir / f"users-{users}.jsonl"
            write_file(files[users], users, password_hash)
        print("| backend | path | users | seconds | users/s | vs one by one | peak RSS (MiB) |")
        print("|---|---|---:|---:|---:|---:|---:|", flush=True)
        for kind in backends:
            url = fresh_database(kind, workdir, args.postgres, "baseline")
            base = measure(url, files[BASELINE_USERS], one_by_one=True)
            drop(kind, url, args.postgres)
            assert base["imported"] == BASELINE_USERS, base
            base_rate = base["imported"] / base["seconds"]
            print(
                f"| {kind} | one by one (before) | {int(base['imported']):,} | "
                f"{base['seconds']:.1f} | {base_rate:,.0f} | 1.0x | {base['peak_mib']:.0f} |",
                flush=True,
            )
            for users in (args.users // 10, args.users):
                url = fresh_database(kind, workdir, args.postgres, f"batched-{users}")
                run = measure(url, files[users])
                drop(kind, url, args.postgres)
                assert run["imported"] == users, run
                rate = users / run["seconds"]
                print(
                    f"| {kind} | batches of 1,000 | {users:,} | {run['seconds']:.1f} | "
                    f"{rate:,.0f} | {rate / base_rate:.1f}x | {run['peak_mib']:.0f} |",
                    flush=True,
                )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], "--one-by-one" in sys.argv)
    else:
        main()
