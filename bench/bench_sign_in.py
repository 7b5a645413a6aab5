"""Sign-in throughput against the hashing limit, measured in one run.

A sign-in costs one Argon2id verification (~20 ms here), which releases the GIL,
so a machine with C cores can do at most C / t_verify sign-ins a second. This
measures t_verify on one thread, then runs N concurrent in-process sign-ins for
a few seconds, and prints the rate as a fraction of that limit.

Run: .venv/bin/python bench/bench_sign_in.py [--seconds 5] [--concurrency 8]
     (add --postgres postgresql://postgres@127.0.0.1:5432/test to include PostgreSQL)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time

from doorkeep import Doorkeep, Settings
from doorkeep.core.emailpassword import SignInOk
from doorkeep.core.passwords import PasswordHasher
from doorkeep.testing import scratch_postgres_database

PASSWORD = "correct horse battery staple"
USERS = 32


def argon2_verify_seconds(samples: int = 30) -> float:
    hasher = PasswordHasher()
    stored = hasher.hash_sync(PASSWORD)
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        assert hasher.verify_sync(stored, PASSWORD).ok
        times.append(time.perf_counter() - start)
    hasher.close()
    return statistics.median(times)


async def sign_ins_per_second(
    database_url: str, concurrency: int, seconds: float, operations: bool = True
) -> float:
    """`operations`: metrics and the audit trail on (the default) or off (issue 20)."""
    settings = Settings(
        database_url=database_url, metrics_enabled=operations, audit_enabled=operations
    )
    async with Doorkeep(settings) as dk:
        emails = [f"bench{i}@example.com" for i in range(USERS)]
        await asyncio.gather(*(dk.emailpassword.sign_up(e, PASSWORD) for e in emails))
        done = 0
        deadline = time.perf_counter() + seconds

        async def worker(index: int) -> None:
            nonlocal done
            i = index
            while time.perf_counter() < deadline:
                result = await dk.emailpassword.sign_in(emails[i % USERS], PASSWORD)
                assert isinstance(result, SignInOk)
                done += 1
                i += concurrency

        start = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        return done / (time.perf_counter() - start)


async def measure(url: str, concurrency: int, seconds: float, operations: bool = True) -> float:
    if not url.startswith("postgres"):
        return await sign_ins_per_second(url, concurrency, seconds, operations)
    async with scratch_postgres_database(url) as scratch:
        return await sign_ins_per_second(scratch, concurrency, seconds, operations)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--postgres", default=os.environ.get("DOORKEEP_TEST_POSTGRES_URL"))
    args = parser.parse_args()

    cores = os.cpu_count() or 1
    t_verify = argon2_verify_seconds()
    limit = cores / t_verify
    with tempfile.TemporaryDirectory() as tmp:
        targets = [("SQLite", f"sqlite:///{tmp}/bench.sqlite3")]
        if args.postgres:
            targets.append(("PostgreSQL", args.postgres))
        rows = [
            (name, asyncio.run(measure(url, args.concurrency, args.seconds)))
            for name, url in targets
        ]
        # Metrics and audit off, then on, on SQLite (issue 20), each in a fresh database.
        operations = [
            (
                on,
                asyncio.run(
                    measure(f"sqlite:///{tmp}/ops-{on}.sqlite3", args.concurrency, args.seconds, on)
                ),
            )
            for on in (False, True)
        ]

    print(
        f"Argon2id verify (m=19456, t=2, p=1): {t_verify * 1000:.1f} ms on one thread; "
        f"{cores} cores -> limit {limit:.1f} sign-ins/s"
    )
    print()
    print("| database | concurrent callers | sign-ins/s | limit (cores / verify) | ratio |")
    print("|---|---|---|---|---|")
    for name, rate in rows:
        print(f"| {name} | {args.concurrency} | {rate:.1f} | {limit:.1f} | {rate / limit:.0%} |")
    for on, rate in operations:
        name = f"SQLite, metrics and audit {'on' if on else 'off'}"
        print(f"| {name} | {args.concurrency} | {rate:.1f} | {limit:.1f} | {rate / limit:.0%} |")


if __name__ == "__main__":
    main()
