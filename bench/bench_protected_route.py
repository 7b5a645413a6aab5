"""Requests/s of a FastAPI route protected by doorkeep's verify_session(), against the
same route unprotected, on one uvicorn worker (uvloop + httptools), loaded by wrk
on loopback. Every row is its own uvicorn process serving one route (see
protected_app.py), measured in the same run, alternating, best of `--rounds`.

Run: .venv/bin/python bench/bench_protected_route.py [--seconds 8] [--rounds 2]
Needs wrk (Debian: apt-get install wrk).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import httpx

from uvicorn_process import start_uvicorn

HERE = Path(__file__).parent
SIGN_UP = {
    "formFields": [
        {"id": "email", "value": "bench@example.com"},
        {"id": "password", "value": "correct horse battery"},
    ]
}


def start_server(app: str, database_url: str) -> tuple[subprocess.Popen[bytes], str]:
    env = {**os.environ, "DOORKEEP_DATABASE_URL": database_url, "PYTHONPATH": str(HERE)}
    return start_uvicorn(app, env, "/route")


def wrk(url: str, seconds: float, token: str | None) -> float:
    command = ["wrk", "-t1", "-c32", f"-d{int(seconds)}s", url]
    if token:
        command[1:1] = ["-H", f"Authorization: Bearer {token}"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in output:
        raise RuntimeError(f"non-2xx answers from {url}:\n{output}")
    found = re.search(r"Requests/sec:\s+([\d.]+)", output)
    assert found is not None, output
    return float(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")

    rows = {
        "bare FastAPI, no doorkeep (ceiling)": "bare_app",
        "unprotected, doorkeep middleware": "unprotected_app",
        "FastAPI route with an empty dependency": "empty_dependency_app",
        "protected by doorkeep verify_session()": "verify_session_app",
        "protected by doorkeep session_of(request)": "session_of_app",
        "protected by a PyJWT decode per request": "pyjwt_app",
    }
    with tempfile.TemporaryDirectory() as tmp:
        database_url = f"sqlite:///{tmp}/bench.sqlite3"
        servers: list[subprocess.Popen[bytes]] = []
        try:
            urls = {}
            for name, app in rows.items():  # one at a time: the first creates the schema
                server, url = start_server(f"protected_app:{app}", database_url)
                servers.append(server)
                urls[name] = f"{url}/route"
            sign_up_url = urls["unprotected, doorkeep middleware"].replace("/route", "/auth/signup")
            token = httpx.post(sign_up_url, json=SIGN_UP).headers["st-access-token"]
            # Every route gets the same request, token included: parsing a ~1 kB header
            # is part of the request, not of the check.
            best = {name: 0.0 for name in rows}
            for _ in range(args.rounds):  # alternate, so drift on a shared machine hits all
                for name, url in urls.items():
                    best[name] = max(best[name], wrk(url, args.seconds, token))
        finally:
            for process in servers:
                process.terminate()
                process.wait(10)

    ceiling = best["bare FastAPI, no doorkeep (ceiling)"]
    unprotected = best["unprotected, doorkeep middleware"]
    print(f"wrk -t1 -c32 -d{args.seconds}s, one uvicorn worker, best of {args.rounds}\n")
    print("| route | requests/s | vs unprotected | vs bare FastAPI |")
    print("|---|---:|---:|---:|")
    for name, rate in best.items():
        print(f"| {name} | {rate:,.0f} | {rate / unprotected:.0%} | {rate / ceiling:.0%} |")


if __name__ == "__main__":
    main()
