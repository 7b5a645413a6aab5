"""Requests/s of a Flask route protected by doorkeep's `@verify_session()`, against the
same route unprotected, and against the official SDK's Flask `verify_session` with
doorkeep as its core, under gunicorn, loaded by wrk on loopback.

Each app is its own gunicorn process: one worker, the gthread worker class with
2 x cores + 1 threads (gunicorn's documented starting point for workers, applied to
threads: the routes wait on nothing, and one worker keeps every row to one process
and one GIL). Rows are measured in the same run, alternating, median of `--rounds`;
ratios are against the unprotected route of the doorkeep app in the same run.

Run: .venv/bin/python bench/bench_flask.py [--seconds 5] [--rounds 3]
Needs wrk (Debian: apt-get install wrk).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
PASSWORD = "correct horse battery 9"  # the SDK wants a digit
THREADS = 2 * (os.cpu_count() or 1) + 1
CONNECTIONS = 16
CORE_API_KEY = "bench-core-api-key-0123456789"  # the CDI on the FDI's port wants one


def sign_up_form(email: str) -> dict[str, Any]:
    return {"formFields": [{"id": "email", "value": email}, {"id": "password", "value": PASSWORD}]}


# -- the apps (gunicorn imports this module and calls one of these) ------------------------


def bare_app() -> Any:
    """Flask alone: the ceiling."""
    from flask import Flask, jsonify

    app = Flask(__name__)

    @app.get("/unprotected")
    def unprotected() -> Any:
        return jsonify({"ok": True})

    return app


def doorkeep_app() -> Any:
    """The doorkeep extension installed; one route unprotected, the same route protected."""
    from flask import Flask, g, jsonify

    from doorkeep.integrations.flask import Doorkeep, verify_session

    app = Flask(__name__)
    Doorkeep(app)

    @app.get("/unprotected")
    def unprotected() -> Any:
        return jsonify({"ok": True})

    @app.get("/protected")
    @verify_session()
    def protected() -> Any:
        g.supertokens.get_user_id()
        return jsonify({"ok": True})

    return app


def sdk_app() -> Any:
    """supertokens-python 0.31.4 with framework="flask", its core doorkeep (CORE_URL)."""
    from flask import Flask, g, jsonify
    from supertokens_python import InputAppInfo, SupertokensConfig, get_all_cors_headers, init
    from supertokens_python.framework.flask import Middleware
    from supertokens_python.recipe import emailpassword, session
    from supertokens_python.recipe.session.framework.flask import verify_session

    api = os.environ["API_URL"]
    init(
        app_info=InputAppInfo(app_name="bench", api_domain=api, website_domain=api),
        supertokens_config=SupertokensConfig(
            connection_uri=os.environ["CORE_URL"], api_key=CORE_API_KEY
        ),
        framework="flask",
        recipe_list=[session.init(), emailpassword.init()],
        mode="wsgi",
    )
    assert get_all_cors_headers()
    app = Flask(__name__)
    Middleware(app)

    @app.get("/unprotected")
    def unprotected() -> Any:
        return jsonify({"ok": True})

    @app.get("/protected")
    @verify_session()
    def protected() -> Any:
        g.supertokens.get_user_id()
        return jsonify({"ok": True})

    return app


# -- the run ---------------------------------------------------------------------------------


def start_gunicorn(factory: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    from doorkeep.testing import free_port, wait_until_answering

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "gunicorn", "--worker-class", "gthread", "--workers", "1"]
    command += ["--threads", str(THREADS), "--bind", f"127.0.0.1:{port}", "--log-level", "warning"]
    environment = {**os.environ, **env, "API_URL": url, "PYTHONPATH": str(HERE)}
    process = subprocess.Popen([*command, f"bench_flask:{factory}()"], env=environment)
    try:
        wait_until_answering(url + "/unprotected", factory)
    except RuntimeError:
        process.kill()
        raise
    return process, url


def worker_pid(master: int) -> int:
    """The one worker gunicorn forked from `master`."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == master:
                return int(entry.name)
    raise RuntimeError(f"gunicorn {master} has no worker")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(url: str, seconds: float, token: str) -> tuple[float, int]:
    """Requests/s, and the number of requests served."""
    command = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{int(seconds)}s", url]
    # Every row gets the same request, token included (parsing the header is not the check).
    command[1:1] = ["-H", f"Authorization: Bearer {token}"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in output or "Socket errors" in output:
        raise RuntimeError(f"errors from {url}:\n{output}")
    found = re.search(r"Requests/sec:\s+([\d.]+)", output)
    served = re.search(r"(\d+) requests in", output)
    assert found is not None and served is not None, output
    return float(found.group(1)), int(served.group(1))


def signed_up_token(url: str, email: str) -> str:
    import httpx

    answer = httpx.post(f"{url}/auth/signup", json=sign_up_form(email), timeout=30)
    assert answer.json()["status"] == "OK", answer.text
    return answer.headers["st-access-token"]


Rates = dict[str, list[float]]


def measure(seconds: int, rounds: int, tmp: str) -> tuple[Rates, Rates]:
    """Requests/s of each row per round, and the app worker's CPU microseconds per request
    (the steadier figure on a shared machine: another process's load lowers the first,
    not the second)."""
    from doorkeep.testing import serve_in_subprocess

    processes: list[subprocess.Popen[bytes]] = []
    common = {"DOORKEEP_RATE_LIMITS_ENABLED": "false"}
    try:
        core_db = f"sqlite:///{tmp}/core.sqlite3"
        with serve_in_subprocess(core_db, DOORKEEP_CORE_API_KEYS=CORE_API_KEY) as (_, core_url):
            bare, bare_url = start_gunicorn("bare_app", common)
            processes.append(bare)
            dk, dk_url = start_gunicorn(
                "doorkeep_app", {**common, "DOORKEEP_DATABASE_URL": f"sqlite:///{tmp}/app.sqlite3"}
            )
            processes.append(dk)
            sdk, sdk_url = start_gunicorn("sdk_app", {**common, "CORE_URL": core_url})
            processes.append(sdk)
            dk_token = signed_up_token(dk_url, "bench@example.com")
            sdk_token = signed_up_token(sdk_url, "bench@example.com")
            workers = {p.pid: worker_pid(p.pid) for p in processes}
            rows = {
                "bare Flask, no doorkeep (ceiling)": (bare, f"{bare_url}/unprotected", dk_token),
                "unprotected, doorkeep extension installed": (
                    dk,
                    f"{dk_url}/unprotected",
                    dk_token,
                ),
                "protected by doorkeep @verify_session()": (dk, f"{dk_url}/protected", dk_token),
                "unprotected, SDK middleware installed": (
                    sdk,
                    f"{sdk_url}/unprotected",
                    sdk_token,
                ),
                "protected by the SDK's verify_session (doorkeep core)": (
                    sdk,
                    f"{sdk_url}/protected",
                    sdk_token,
                ),
            }
            rates: Rates = {name: [] for name in rows}
            cpu_us: Rates = {name: [] for name in rows}
            for _ in range(rounds):  # alternate, so drift on a shared machine hits all rows
                for name, (server, url, token) in rows.items():
                    before = cpu_seconds(workers[server.pid])
                    rate, served = wrk(url, seconds, token)
                    used = cpu_seconds(workers[server.pid]) - before
                    rates[name].append(rate)
                    cpu_us[name].append(used / served * 1e6)
            return rates, cpu_us
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
            process.wait(20)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    with tempfile.TemporaryDirectory() as tmp:
        rates, cpu_us = measure(args.seconds, args.rounds, tmp)

    median = {name: statistics.median(values) for name, values in rates.items()}
    cost = {name: statistics.median(values) for name, values in cpu_us.items()}
    base = "unprotected, doorkeep extension installed"
    print(
        f"gunicorn: 1 worker, gthread, {THREADS} threads; wrk -t1 -c{CONNECTIONS} "
        f"-d{args.seconds}s; median of {args.rounds} alternating rounds\n"
    )
    print(
        "| route | requests/s | vs unprotected | worker CPU µs/request "
        "| capacity vs unprotected (CPU) | requests/s per round |"
    )
    print("|---|---:|---:|---:|---:|---|")
    for name, rate in median.items():
        spread = ", ".join(f"{r:,.0f}" for r in rates[name])
        print(
            f"| {name} | {rate:,.0f} | {rate / median[base]:.0%} | {cost[name]:,.0f} "
            f"| {cost[base] / cost[name]:.0%} | {spread} |"
        )


if __name__ == "__main__":
    main()
