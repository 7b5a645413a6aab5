"""doorkeep beside the Python peers, in one run on this machine: session verification,
sign-in and refresh (issue 8's performance table).

- Session verification: the same JSON route `GET /me`, protected by doorkeep (as a
  `verify_session()` dependency and as `await session_of(request)` in the route), by
  fastapi-users (JWT strategy, `current_active_user`, SQLite) and by piccolo_api's
  session auth (its middleware, SQLite); unprotected as the ceiling, and behind a
  dependency that checks nothing (what FastAPI's `Depends` costs by itself). One
  uvicorn worker each (uvloop, httptools), `wrk -c32` on loopback, alternating rounds.
- Sign-in at 32 concurrent connections, each library with its default hashing, also
  against that hash's own limit (cores / verify time, measured beside each round; the
  round with the median ratio is shown) and against pure hashing (one thread per core
  verifying and nothing else, which shared caches keep below that limit).
  doorkeep's rate limits are switched off for this scenario (the others have none).
- Refresh: doorkeep only (fastapi-users' JWT strategy and piccolo's sessions have no
  refresh token); chains of real refreshes over HTTP, each with its own token.

The peers live in their own virtualenv (`bench/.peers-venv`, versions pinned in
`bench/peers/requirements.txt`), made on first run; they never enter doorkeep's
dependencies.

Run: python3 bench/bench_peers.py [--seconds 8] [--rounds 3] [--postgres postgresql://…/test]
Needs wrk (Debian: apt-get install wrk).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from uvicorn_process import start_uvicorn

HERE = Path(__file__).resolve().parent
VENV = HERE / ".peers-venv"
PYTHON = VENV / "bin" / "python"
PASSWORD = "correct horse battery staple"
EMAIL = "bench@example.com"
APPS = {
    "unprotected FastAPI route (ceiling)": "unprotected_app:app",
    "FastAPI dependency that checks nothing (floor of any `Depends`)": "empty_dependency_app:app",
    "doorkeep `Depends(verify_session())`": "doorkeep_app:app",
    "doorkeep `await session_of(request)`": "doorkeep_direct_app:app",
    "fastapi-users `current_active_user` (JWT strategy, SQLite)": "fastapi_users_app:app",
    "piccolo_api `SessionsAuthBackend` (SQLite)": "piccolo_app:app",
}
SIGN_IN_APPS = ("doorkeep_app", "fastapi_users_app", "piccolo_app")


def ensure_peers_venv() -> None:
    """Re-run this script inside the peers' virtualenv, creating it the first time."""
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    if not PYTHON.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        requirements = HERE / "peers" / "requirements.txt"
        install = [str(PYTHON), "-m", "pip", "install", "-q", "-r", str(requirements)]
        subprocess.run([*install, "-e", str(HERE.parent)], check=True)
    os.execv(str(PYTHON), [str(PYTHON), __file__, *sys.argv[1:]])


# -- servers ---------------------------------------------------------------------------------


def start(app: str, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    name = app.split(":")[0]
    env = {
        **os.environ,
        "PEER_DB": str(workdir / f"{name}.sqlite3"),
        "PEER_DB_URL": f"sqlite:///{workdir / f'{name}.sqlite3'}",
        "DOORKEEP_RATE_LIMITS_ENABLED": "false",
        "PYTHONPATH": str(HERE / "peers"),
    }
    if name == "piccolo_app":
        subprocess.run([str(PYTHON), str(HERE / "peers" / "piccolo_setup.py")], env=env, check=True)
    return start_uvicorn(app, env, "/me", python=str(PYTHON))


def credentials(app: str, url: str) -> tuple[list[str], str, str]:
    """(headers that authenticate GET /me, sign-in body, its content type)."""
    import httpx

    name = app.split(":")[0]
    if name in ("unprotected_app", "empty_dependency_app"):
        return [], "", ""
    if name.startswith("doorkeep"):
        form = {
            "formFields": [{"id": "email", "value": EMAIL}, {"id": "password", "value": PASSWORD}]
        }
        token = httpx.post(f"{url}/auth/signup", json=form).headers["st-access-token"]
        import json

        return [f"Authorization: Bearer {token}"], json.dumps(form), "application/json"
    if name == "fastapi_users_app":
        created = httpx.post(f"{url}/auth/register", json={"email": EMAIL, "password": PASSWORD})
        assert created.status_code == 201, created.text
        body = f"username={EMAIL}&password={PASSWORD.replace(' ', '+')}"
        login = httpx.post(
            f"{url}/auth/jwt/login",
            content=body,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        token = login.json()["access_token"]
        return [f"Authorization: Bearer {token}"], body, "application/x-www-form-urlencoded"
    body = f"username=bench&password={PASSWORD.replace(' ', '+')}"
    login = httpx.post(
        f"{url}/login", content=body, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    cookie = login.cookies.get("id")
    assert cookie, login.text
    return [f"Cookie: id={cookie}"], body, "application/x-www-form-urlencoded"


# -- load --------------------------------------------------------------------------------------


def wrk(
    url: str, headers: list[str], seconds: int, body: str = "", content_type: str = ""
) -> tuple[float, float]:
    """(requests/s, p99 ms); fails on any non-2xx answer."""
    args = ["wrk", "-t1", "-c32", f"-d{seconds}s", "--latency", "--timeout", "30s"]
    for header in headers:
        args += ["-H", header]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        if body:
            escaped = body.replace("\\", "\\\\").replace('"', '\\"')
            script.write(
                f'wrk.method = "POST"\nwrk.body = "{escaped}"\n'
                f'wrk.headers["Content-Type"] = "{content_type}"\n'
            )
    out = subprocess.run([*args, "-s", script.name, url], capture_output=True, text=True).stdout
    os.unlink(script.name)
    assert "Non-2xx" not in out, out
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    p99 = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return rate, p99


def password_check(library: str) -> Callable[[], object]:
    """One verification of the right password with the library's default hash."""
    if library.startswith("doorkeep"):
        from doorkeep.core.passwords import PasswordHasher

        hasher = PasswordHasher()
        stored = hasher.hash_sync(PASSWORD)
        return lambda: hasher.verify_sync(stored, PASSWORD)
    if library.startswith("fastapi-users"):
        from fastapi_users.password import PasswordHelper

        helper = PasswordHelper()
        stored = helper.hash(PASSWORD)
        return lambda: helper.verify_and_update(PASSWORD, stored)
    from piccolo.apps.user.tables import BaseUser

    stored = BaseUser.hash_password(PASSWORD)
    _, iterations, salt, _ = BaseUser.split_stored_password(stored)
    return lambda: BaseUser.hash_password(PASSWORD, salt, int(iterations))


def verify_seconds(check: Callable[[], object], samples: int = 10) -> float:
    """The median time of one verification on one thread."""
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        check()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def hashing_rate(check: Callable[[], object], threads: int, seconds: float = 3.0) -> float:
    """Verifications/s of `threads` threads doing nothing else: what the hash alone
    allows on this machine, below `threads / verify time` when the cores share caches
    and memory bandwidth (all three hashes release the GIL)."""
    done = [0] * threads
    deadline = time.perf_counter() + seconds

    def work(slot: int) -> None:
        while time.perf_counter() < deadline:
            check()
            done[slot] += 1

    workers = [threading.Thread(target=work, args=(slot,)) for slot in range(threads)]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(done) / (time.perf_counter() - start)


@dataclass(frozen=True)
class SignInRound:
    rate: float
    p99: float
    verify: float  # seconds, one thread
    hashing: float  # verifications/s, one thread per core, nothing else running


def sign_in_rounds(
    label: str, login: str, body: str, content_type: str, args: argparse.Namespace
) -> SignInRound:
    """The round with the median ratio to the hash limit. Each round times one
    verification right before and right after its load and keeps the faster: a busy
    moment on this shared machine then skews one round's pair together instead of
    the rate alone. Pure hashing is measured after each load."""
    check = password_check(label)
    cores = os.cpu_count() or 1
    results = []
    for _ in range(args.rounds):
        before = verify_seconds(check)
        rate, p99 = wrk(login, [], args.seconds, body, content_type)
        verify = min(before, verify_seconds(check))
        results.append(SignInRound(rate, p99, verify, hashing_rate(check, cores)))
    return sorted(results, key=lambda r: r.rate * r.verify)[len(results) // 2]


async def refreshes_per_second(database_url: str, seconds: float, chains: int = 16) -> float:
    import httpx

    from doorkeep.testing import serve_in_subprocess

    form = {"formFields": [{"id": "email", "value": EMAIL}, {"id": "password", "value": PASSWORD}]}
    with serve_in_subprocess(database_url) as (_, url):
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            await http.post("/auth/signup", json=form)
            tokens = [
                (await http.post("/auth/signin", json=form)).headers["st-refresh-token"]
                for _ in range(chains)
            ]
            done = 0
            deadline = time.perf_counter() + seconds

            async def chain(token: str) -> None:
                nonlocal done
                while time.perf_counter() < deadline:
                    answer = await http.post(
                        "/auth/session/refresh", headers={"authorization": f"Bearer {token}"}
                    )
                    assert answer.status_code == 200, answer.text
                    token = answer.headers["st-refresh-token"]
                    done += 1

            start = time.perf_counter()
            await asyncio.gather(*(chain(token) for token in tokens))
            return done / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each scenario")
    parser.add_argument("--postgres")
    args = parser.parse_args()
    ensure_peers_venv()
    cores = os.cpu_count() or 1
    verify_rows: list[str] = []
    sign_in_rows: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        servers = {label: start(app, Path(tmp)) for label, app in APPS.items()}
        try:
            auth = {label: credentials(app, servers[label][1]) for label, app in APPS.items()}
            # The unprotected routes get doorkeep's token header too (and ignore it), so
            # every row parses a request of about the same size.
            doorkeep_headers = auth["doorkeep `Depends(verify_session())`"][0]
            for label, (headers, body, content_type) in auth.items():
                if not headers:
                    auth[label] = (doorkeep_headers, body, content_type)
            # Every server is up at once but loaded one at a time, in alternating
            # rounds: a noisy moment on this shared machine then hits one round only.
            best: dict[str, tuple[float, float]] = {}
            for _ in range(args.rounds):
                for label in APPS:
                    url = servers[label][1]
                    wrk(f"{url}/me", auth[label][0], 1)  # warm up
                    rate, p99 = wrk(f"{url}/me", auth[label][0], args.seconds)
                    if rate > best.get(label, (0.0, 0.0))[0]:
                        best[label] = (rate, p99)
            ceiling = next(iter(best.values()))[0]
            for label, (rate, p99) in best.items():
                verify_rows.append(f"| {label} | {rate:,.0f} | {p99:.1f} | {rate / ceiling:.0%} |")
            for label, app in APPS.items():
                if app.split(":")[0] not in SIGN_IN_APPS:
                    continue
                url = servers[label][1]
                _, body, content_type = auth[label]
                path = {"doorkeep_app": "/auth/signin", "fastapi_users_app": "/auth/jwt/login"}
                login = url + path.get(app.split(":")[0], "/login")
                got = sign_in_rounds(label, login, body, content_type, args)
                limit = cores / got.verify
                sign_in_rows.append(
                    f"| {label.split(' ')[0]} | {got.rate:,.1f} | {got.p99:,.0f} "
                    f"| {got.verify * 1000:.1f} | {limit:,.1f} | {got.rate / limit:.0%} "
                    f"| {got.hashing:,.1f} | {got.rate / got.hashing:.0%} |"
                )
        finally:
            for process, _ in servers.values():
                process.terminate()
                process.wait(timeout=10)
    print(f"Session verification (GET /me, one worker, wrk -c32, best of {args.rounds})\n")
    print("| route | requests/s | p99 (ms) | vs unprotected |")
    print("|---|---:|---:|---:|")
    print("\n".join(verify_rows))
    print(f"\nSign-in (POST, 32 connections; limit = {cores} cores / verify time)\n")
    print(
        "| library | sign-ins/s | p99 (ms) | verify (ms) | hash limit/s | vs limit "
        f"| pure hashing/s ({cores} threads) | vs pure hashing |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(sign_in_rows))
    print("\nRefresh (doorkeep, 16 chains of real refreshes over HTTP)\n")
    print("| database | refreshes/s |")
    print("|---|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_rate = asyncio.run(
            refreshes_per_second(f"sqlite:///{tmp}/refresh.sqlite3", args.seconds)
        )
        print(f"| SQLite | {sqlite_rate:,.0f} |")
    if args.postgres:
        from doorkeep.testing import create_scratch_database, drop_scratch_database

        url = asyncio.run(create_scratch_database(args.postgres))
        try:
            print(f"| PostgreSQL | {asyncio.run(refreshes_per_second(url, args.seconds)):,.0f} |")
        finally:
            asyncio.run(drop_scratch_database(args.postgres, url))


if __name__ == "__main__":
    main()
