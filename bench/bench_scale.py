"""Scale: does doorkeep stay flat with a million users, and do two instances sharing one
PostgreSQL serve more than one?

1. Latency of a sign-in, of the account lookup inside it, and of a session refresh,
   with 1,000 and with 1,000,000 users in PostgreSQL (p50 and p99 of sequential
   calls, in process; both databases measured in alternating rounds). The users are
   written with one INSERT … SELECT per table (the rows a sign-up writes, all with one
   Argon2id hash), then ANALYZEd and CHECKPOINTed.
2. Requests/s of a database-reading route (`GET /auth/emailpassword/email/exists`)
   from one `doorkeep serve` process, then from two sharing the same database, each
   loaded by its own wrk on loopback for the same time.

Run: .venv/bin/python bench/bench_scale.py --postgres postgresql://postgres@127.0.0.1:5432/test
     [--users 1000000] [--seconds 8]     Needs wrk (Debian: apt-get install wrk).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import statistics
import subprocess
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack, ExitStack

import httpx
from sqlalchemy import text

from doorkeep import Doorkeep, Settings
from doorkeep.core.emailpassword import SignInOk
from doorkeep.core.passwords import PasswordHasher
from doorkeep.core.session_models import NewSession
from doorkeep.testing import create_scratch_database, drop_scratch_database, serve_in_subprocess

PASSWORD = "correct horse battery staple"
SAMPLES = 200

FILL = [
    "INSERT INTO users (app_id, user_id, primary_user_id, recipe_id, time_joined) "
    "SELECT 'public', 'u' || i, 'u' || i, 'emailpassword', i FROM generate_series(1, :n) i",
    "INSERT INTO user_tenants (app_id, tenant_id, user_id) "
    "SELECT 'public', 'public', 'u' || i FROM generate_series(1, :n) i",
    "INSERT INTO emailpassword_users (app_id, user_id, email, password_hash, time_joined) "
    "SELECT 'public', 'u' || i, 'user' || i || '@example.com', :hash, i "
    "FROM generate_series(1, :n) i",
    "INSERT INTO emailpassword_user_tenants (app_id, tenant_id, user_id, email) "
    "SELECT 'public', 'public', 'u' || i, 'user' || i || '@example.com' "
    "FROM generate_series(1, :n) i",
]


async def fill(dk: Doorkeep, users: int) -> None:
    hasher = PasswordHasher()
    password_hash = hasher.hash_sync(PASSWORD)
    hasher.close()
    async with dk.core.db.transaction() as conn:
        for statement in FILL:
            await conn.execute(text(statement), {"n": users, "hash": password_hash})
    async with dk.core.db.engine.connect() as conn:
        autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text("ANALYZE"))
        # Write the fill's dirty pages out now: otherwise a background checkpoint of a
        # million rows runs during the measurement and slows every commit's fsync.
        await autocommit.execute(text("CHECKPOINT"))


Operation = tuple[Callable[[int], Awaitable[object]], list[int]]


async def operations(dk: Doorkeep, users: int) -> dict[str, Operation]:
    """Each measured call and the arguments it will be timed with."""
    picks = [random.randint(1, users) for _ in range(SAMPLES)]

    async def sign_in(i: int) -> None:
        result = await dk.emailpassword.sign_in(f"user{i}@example.com", PASSWORD)
        assert isinstance(result, SignInOk)

    async def lookup(i: int) -> None:
        users_found = await dk.core.public.users.get_users_by_email(
            "public", f"user{i}@example.com"
        )
        assert users_found

    sessions = [await dk.core.public.sessions.create(f"u{i}") for i in picks]
    tokens = [s.refresh_token.token for s in sessions]

    async def refresh(index: int) -> None:
        result = await dk.core.public.sessions.refresh(tokens[index])
        assert isinstance(result, NewSession)

    return {
        "account lookup by email": (lookup, picks),
        "sign-in (Argon2id verify included)": (sign_in, picks[:60]),
        "session refresh": (refresh, list(range(SAMPLES))),
    }


async def latencies(urls: dict[int, str], rounds: int) -> dict[int, dict[str, tuple[float, float]]]:
    """p50 and p99 (ms) per database size and operation. Both databases are open at
    once and measured in alternating rounds, each round taking its share of every
    operation's arguments: drift on this shared machine then hits both sizes alike."""
    samples: dict[int, dict[str, list[float]]] = {}
    async with AsyncExitStack() as stack:
        measured: dict[int, dict[str, Operation]] = {}
        for users, url in urls.items():
            settings = Settings(database_url=url, rate_limits_enabled=False)
            dk = await stack.enter_async_context(Doorkeep(settings))
            await fill(dk, users)
            measured[users] = await operations(dk, users)
            samples[users] = {name: [] for name in measured[users]}
        for round_index in range(rounds):
            for users, ops in measured.items():
                for name, (call, arguments) in ops.items():
                    for argument in arguments[round_index::rounds]:
                        start = time.perf_counter()
                        await call(argument)
                        samples[users][name].append(time.perf_counter() - start)
    return {
        users: {name: _p50_p99(times) for name, times in by_name.items()}
        for users, by_name in samples.items()
    }


def _p50_p99(times: list[float]) -> tuple[float, float]:
    times = sorted(times)
    return statistics.median(times) * 1000, times[int(len(times) * 0.99) - 1] * 1000


ROUTES = {
    "email exists (a database read)": "/auth/emailpassword/email/exists?email=user7@example.com",
    "/sessioninfo (a session check)": "/sessioninfo",
}


def wrk(urls: list[str], path: str, token: str, seconds: int) -> float:
    """Run one wrk per URL at once; the sum of their requests/s."""
    runs = [
        subprocess.Popen(
            [
                "wrk",
                "-t1",
                "-c16",
                f"-d{seconds}s",
                "-H",
                f"Authorization: Bearer {token}",
                url + path,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for url in urls
    ]
    total = 0.0
    for run in runs:
        out, _ = run.communicate()
        found = re.search(r"Requests/sec:\s+([\d.]+)", out)
        assert found is not None, out
        assert "Non-2xx" not in out, out
        total += float(found.group(1))
    return total


def instances(database_url: str, seconds: int, rounds: int = 2) -> dict[str, dict[int, float]]:
    """Best of `rounds` for one process, then two, on each route."""
    rates: dict[str, dict[int, float]] = {name: {} for name in ROUTES}
    with serve_in_subprocess(database_url) as (_, url):
        token = httpx.post(
            f"{url}/auth/signin",
            json={
                "formFields": [
                    {"id": "email", "value": "user7@example.com"},
                    {"id": "password", "value": PASSWORD},
                ]
            },
        ).headers["st-access-token"]
    for _ in range(rounds):
        for count in (1, 2):
            with ExitStack() as stack:
                urls = [
                    stack.enter_context(serve_in_subprocess(database_url))[1] for _ in range(count)
                ]
                for name, path in ROUTES.items():
                    wrk(urls, path, token, 1)  # warm up
                    rate = wrk(urls, path, token, seconds)
                    rates[name][count] = max(rates[name].get(count, 0.0), rate)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", required=True)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=4, help="alternating latency rounds")
    args = parser.parse_args()
    sizes = (1_000, args.users)
    urls = {users: asyncio.run(create_scratch_database(args.postgres)) for users in sizes}
    try:
        results = asyncio.run(latencies(urls, args.rounds))
        rates = instances(urls[1_000], args.seconds)
    finally:
        for url in urls.values():
            asyncio.run(drop_scratch_database(args.postgres, url))
    print(
        f"| operation | p50 @ 1k users (ms) | p50 @ {args.users:,} (ms) | ratio | "
        f"p99 @ 1k (ms) | p99 @ {args.users:,} (ms) |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name in results[1_000]:
        small, large = results[1_000][name], results[args.users][name]
        print(
            f"| {name} | {small[0]:.2f} | {large[0]:.2f} | {large[0] / small[0]:.2f} | "
            f"{small[1]:.2f} | {large[1]:.2f} |"
        )
    print()
    print("| route | 1 `doorkeep serve` (req/s) | 2 sharing one PostgreSQL (req/s) | ratio |")
    print("|---|---:|---:|---:|")
    for name, by_count in rates.items():
        print(
            f"| {name} | {by_count[1]:,.0f} | {by_count[2]:,.0f} | "
            f"{by_count[2] / by_count[1]:.2f}x |"
        )


if __name__ == "__main__":
    main()
