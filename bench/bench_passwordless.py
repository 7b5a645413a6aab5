"""Passwordless sign-ins per second next to email/password sign-ins, measured in one run.

One uvicorn worker (uvloop, httptools) serves doorkeep with passwordless on (email,
console sender; passwordless_app.py); an asyncio httpx client on loopback keeps
`--concurrency` requests in flight. Per round, alternating so drift on this shared
machine hits every row alike:

- code creation: POST /auth/signinup/code for known users (each sent by the console
  sender, i.e. logged);
- code consumption: POST /auth/signinup/code/consume with those codes: a sign-in and its
  new session, no Argon2 in the way;
- email/password sign-in: POST /auth/signin (one Argon2id verification each): the
  baseline.

Each row does `--ops` requests a round (bounded: a round also stops after 60 s); the
table shows the median of `--rounds` and the ratio to the email/password sign-in.

Run: .venv/bin/python bench/bench_passwordless.py [--rounds 3] [--ops 300] [--concurrency 8]
     (add --postgres postgresql://postgres@127.0.0.1:5432/test for PostgreSQL)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from passwordless_app import BENCH_CODE

HERE = Path(__file__).parent
PASSWORD = "correct horse battery staple"
ROUND_CAP_S = 60.0
Op = Callable[[httpx.AsyncClient, int], Awaitable[None]]


async def run_ops(client: httpx.AsyncClient, op: Op, count: int, concurrency: int) -> float:
    """Requests/s of `count` calls of `op`, `concurrency` at a time."""
    next_index = 0
    deadline = time.perf_counter() + ROUND_CAP_S

    async def worker() -> None:
        nonlocal next_index
        while next_index < count and time.perf_counter() < deadline:
            index = next_index
            next_index += 1
            await op(client, index)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return next_index / (time.perf_counter() - start)


def ok(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    if response.status_code != 200 or body.get("status") != "OK":
        raise RuntimeError(f"{response.request.url}: {response.status_code} {body}")
    return body


async def bench(url: str, rounds: int, ops: int, concurrency: int) -> dict[str, list[float]]:
    users = [f"bench{i}@example.com" for i in range(64)]
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        for email in users:  # both kinds of account, made before anything is timed
            fields = [{"id": "email", "value": email}, {"id": "password", "value": PASSWORD}]
            ok(await client.post("/auth/signup", json={"formFields": fields}))
            created = ok(await client.post("/auth/signinup/code", json={"email": email}))
            ok(await client.post("/auth/signinup/code/consume", json=_consume(created)))
        devices: list[dict[str, Any]] = []

        async def create(c: httpx.AsyncClient, i: int) -> None:
            devices.append(ok(await c.post("/auth/signinup/code", json={"email": users[i % 64]})))

        async def consume(c: httpx.AsyncClient, i: int) -> None:
            ok(await c.post("/auth/signinup/code/consume", json=_consume(devices[i])))

        async def sign_in(c: httpx.AsyncClient, i: int) -> None:
            fields = [
                {"id": "email", "value": users[i % 64]},
                {"id": "password", "value": PASSWORD},
            ]
            ok(await c.post("/auth/signin", json={"formFields": fields}))

        rates: dict[str, list[float]] = {"create": [], "consume": [], "signin": []}
        for _ in range(rounds):
            devices.clear()
            rates["create"].append(await run_ops(client, create, ops, concurrency))
            rates["consume"].append(await run_ops(client, consume, len(devices), concurrency))
            rates["signin"].append(await run_ops(client, sign_in, ops, concurrency))
        return rates


def _consume(created: dict[str, Any]) -> dict[str, str]:
    return {
        "preAuthSessionId": created["preAuthSessionId"],
        "deviceId": created["deviceId"],
        "userInputCode": BENCH_CODE,
    }


def measure(database_url: str, rounds: int, ops: int, concurrency: int) -> dict[str, list[float]]:
    env = {
        **os.environ,
        "DOORKEEP_DATABASE_URL": database_url,
        "DOORKEEP_PASSWORDLESS": "email",
        "DOORKEEP_PASSWORDLESS_FLOW": "code",
        "DOORKEEP_RATE_LIMITS_ENABLED": "false",  # the bench is one IP and a few addresses
        "DOORKEEP_LOG_LEVEL": "warning",
        "PYTHONPATH": str(HERE),
    }
    process, url = start_quiet_uvicorn("passwordless_app:app", env)
    try:
        return asyncio.run(bench(url, rounds, ops, concurrency))
    finally:
        process.terminate()
        process.wait(10)


def start_quiet_uvicorn(app: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """One uvicorn worker as uvicorn_process.start_uvicorn starts it, its output (the
    console sender's messages: the work being measured) sent to /dev/null."""
    from doorkeep.testing import free_port, wait_until_answering

    port = free_port()
    command = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)]
    command += ["--loop", "uvloop", "--http", "httptools", "--log-level", "warning"]
    process = subprocess.Popen(
        [*command, "--no-access-log"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(url + "/health", app)
    except RuntimeError:
        process.kill()
        raise
    return process, url


def scratch_postgres(admin_url: str) -> Any:
    from doorkeep.testing import create_scratch_database, drop_scratch_database

    url = asyncio.run(create_scratch_database(admin_url))
    return url, lambda: asyncio.run(drop_scratch_database(admin_url, url))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ops", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--postgres", default=None)
    args = parser.parse_args()

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        targets = [("SQLite", f"sqlite:///{tmp}/bench.sqlite3", None)]
        if args.postgres:
            url, drop = scratch_postgres(args.postgres)
            targets.append(("PostgreSQL", url, drop))
        for name, url, drop in targets:
            try:
                results.append((name, measure(url, args.rounds, args.ops, args.concurrency)))
            finally:
                if drop is not None:
                    drop()

    print(
        f"one uvicorn worker, {args.concurrency} requests in flight on loopback, "
        f"{args.ops} requests a row a round; median of {args.rounds} alternating rounds\n"
    )
    print("| database | operation | requests/s | ratio vs email/password sign-in |")
    print("|---|---|---:|---:|")
    labels = {
        "consume": "passwordless sign-in (consume a code)",
        "create": "passwordless code creation (console sender)",
        "signin": "email/password sign-in (Argon2id)",
    }
    for name, rates in results:
        baseline = statistics.median(rates["signin"])
        for key in ("consume", "create", "signin"):
            rate = statistics.median(rates[key])
            print(f"| {name} | {labels[key]} | {rate:,.0f} | {rate / baseline:.1f}x |")


if __name__ == "__main__":
    main()
