"""Requests/s of a FastAPI route that requires a role (`verify_session(claims=[
UserRoleClaim.includes("admin")])`) next to `verify_session()` without one, in the same
run: the requirement is checked from the access token (its `st-role` claim), with no
database read, so the two should be within a few points. One uvicorn worker per row
(role_app.py), loaded by wrk on loopback, alternating, best of `--rounds`.

A second table times the check itself in-process (no HTTP, no framework): `get_session`
on one request with and without the requirement, alternating blocks, best of each;
HTTP rates on a busy shared machine move by more than the check costs.

Run: .venv/bin/python bench/bench_role_route.py [--seconds 6] [--rounds 3]
Needs wrk (Debian: apt-get install wrk).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import tempfile
import time
from typing import Any

import httpx

from bench_protected_route import SIGN_UP, start_server, wrk
from doorkeep import Doorkeep, Settings

ROWS = {
    "doorkeep verify_session(), no requirement": "verify_session_app",
    'verify_session(claims=[UserRoleClaim.includes("admin")])': "role_app",
    'session_of(request, claims=[UserRoleClaim.includes("admin")])': "role_session_of_app",
}


async def make_admin(database_url: str, user_id: str) -> None:
    async with Doorkeep(Settings(database_url=database_url)) as dk:
        await dk.userroles.create_new_role_or_add_permissions("admin", ["everything"])
        await dk.userroles.add_role_to_user("public", user_id, "admin")


async def in_process_costs(database_url: str, token: str, calls: int = 20_000) -> dict[str, float]:
    """Microseconds per `get_session` on a request carrying `token`, without and with
    the role requirement (best of alternating blocks)."""
    from starlette.requests import Request

    from doorkeep.recipes.session.request import MUTATIONS_KEY, get_session
    from doorkeep.recipes.session.transport import ResponseMutations
    from doorkeep.recipes.userroles import UserRoleClaim, UserRolesConfig

    admin = [UserRoleClaim.includes("admin")]
    headers = [(b"authorization", f"Bearer {token}".encode())]
    async with Doorkeep(Settings(database_url=database_url), userroles=UserRolesConfig()) as dk:

        def request() -> Request:
            scope = {"type": "http", "method": "GET", "path": "/route", "headers": headers}
            return Request({**scope, MUTATIONS_KEY: ResponseMutations()})

        async def block(claims: list[Any]) -> float:
            requests = [request() for _ in range(calls)]
            started = time.perf_counter()
            for one in requests:
                await get_session(dk.session, one, claims=claims)
            return (time.perf_counter() - started) / calls * 1e6

        best = {"plain": float("inf"), "role": float("inf")}
        for _ in range(5):
            best["plain"] = min(best["plain"], await block([]))
            best["role"] = min(best["role"], await block(admin))
        return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")

    with tempfile.TemporaryDirectory() as tmp:
        database_url = f"sqlite:///{tmp}/bench.sqlite3"
        servers: list[subprocess.Popen[bytes]] = []
        try:
            urls = {}
            for name, app in ROWS.items():  # one at a time: the first creates the schema
                server, url = start_server(f"role_app:{app}", database_url)
                servers.append(server)
                urls[name] = f"{url}/route"
            base = next(iter(urls.values())).replace("/route", "")
            user_id = httpx.post(f"{base}/auth/signup", json=SIGN_UP).json()["user"]["id"]
            asyncio.run(make_admin(database_url, user_id))
            signed_in = httpx.post(f"{base}/auth/signin", json=SIGN_UP)
            token = signed_in.headers["st-access-token"]  # carries st-role ["admin"]
            best = {name: 0.0 for name in ROWS}
            for _ in range(args.rounds):  # alternate, so drift on a shared machine hits all
                for name, url in urls.items():
                    best[name] = max(best[name], wrk(url, args.seconds, token))
        finally:
            for process in servers:
                process.terminate()
                process.wait(10)

        costs = asyncio.run(in_process_costs(database_url, token))
    plain = best["doorkeep verify_session(), no requirement"]
    print(f"wrk -t1 -c32 -d{args.seconds}s, one uvicorn worker, best of {args.rounds}\n")
    print("| route | requests/s | vs verify_session() |")
    print("|---|---:|---:|")
    for name, rate in best.items():
        print(f"| {name} | {rate:,.0f} | {rate / plain:.0%} |")
    print("\n| in-process get_session, one request | µs per call |")
    print("|---|---:|")
    print(f"| no requirement | {costs['plain']:.1f} |")
    print(f'| UserRoleClaim.includes("admin") | {costs["role"]:.1f} |')
    print(f"| the requirement's own cost | {costs['role'] - costs['plain']:.1f} |")


if __name__ == "__main__":
    main()
