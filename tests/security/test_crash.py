"""SIGKILL in the middle of a load (issue 8, item 4): after a restart every user
either fully exists or not at all, and the database passes its integrity checks."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from pathlib import Path

import httpx
from sqlalchemy import text

from doorkeep.storage import Database
from doorkeep.testing import serve_in_subprocess

PASSWORD = "correct horse battery"
LOAD_SECONDS = 2.0


def load(url: str, worker: int, stop: threading.Event, created: list[str]) -> None:
    """Sign-ups, sign-ins, refreshes and reset requests until stopped (or the server dies)."""
    with httpx.Client(base_url=url, timeout=5) as client:
        i = 0
        while not stop.is_set():
            email = f"w{worker}-{i}@example.com"
            i += 1
            form = {
                "formFields": [
                    {"id": "email", "value": email},
                    {"id": "password", "value": PASSWORD},
                ]
            }
            try:
                signed_up = client.post("/auth/signup", json=form)
                if signed_up.json().get("status") == "OK":
                    created.append(email)
                    refresh = signed_up.headers["st-refresh-token"]
                    client.post(
                        "/auth/session/refresh", headers={"authorization": f"Bearer {refresh}"}
                    )
                client.post(
                    "/auth/user/password/reset/token", json={"formFields": form["formFields"][:1]}
                )
            except (httpx.TransportError, ValueError):
                return  # the server is gone


async def consistency_problems(database_url: str) -> list[str]:
    db = Database(database_url)
    checks = {
        "users without their email/password row": (
            "SELECT count(*) FROM users u LEFT JOIN emailpassword_users e "
            "ON e.app_id = u.app_id AND e.user_id = u.user_id WHERE e.user_id IS NULL"
        ),
        "users without a tenant": (
            "SELECT count(*) FROM users u LEFT JOIN user_tenants t "
            "ON t.app_id = u.app_id AND t.user_id = u.user_id WHERE t.user_id IS NULL"
        ),
        "logins without their tenant row": (
            "SELECT count(*) FROM emailpassword_users e LEFT JOIN emailpassword_user_tenants t "
            "ON t.app_id = e.app_id AND t.user_id = e.user_id WHERE t.user_id IS NULL"
        ),
        "sessions without their current refresh token": (
            "SELECT count(*) FROM sessions s LEFT JOIN refresh_tokens r "
            "ON r.token_hash2 = s.refresh_token_hash2 WHERE r.token_hash2 IS NULL"
        ),
    }
    problems = []
    async with db.engine.connect() as conn:
        for name, query in checks.items():
            if count := (await conn.execute(text(query))).scalar_one():
                problems.append(f"{count} {name}")
        if db.dialect == "sqlite":
            if (
                status := (await conn.execute(text("PRAGMA integrity_check"))).scalar_one()
            ) != "ok":
                problems.append(f"integrity_check: {status}")
            if (await conn.execute(text("PRAGMA foreign_key_check"))).first() is not None:
                problems.append("foreign_key_check found orphans")
    await db.dispose()
    return problems


def test_sigkill_mid_load_leaves_no_half_written_user(database_url: str, tmp_path: Path) -> None:
    created: list[str] = []
    with serve_in_subprocess(database_url) as (process, url):
        stop = threading.Event()
        workers = [threading.Thread(target=load, args=(url, w, stop, created)) for w in range(4)]
        for worker in workers:
            worker.start()
        time.sleep(LOAD_SECONDS)
        process.send_signal(signal.SIGKILL)  # no shutdown, no flush: mid-transaction
        process.wait(10)
        stop.set()
        for worker in workers:
            worker.join(10)
    assert created, "the load created nobody before the kill"
    assert asyncio.run(consistency_problems(database_url)) == []
    with serve_in_subprocess(database_url) as (_, url), httpx.Client(base_url=url) as client:
        # Every sign-up the client saw succeed survived the crash, whole.
        for email in created[:: max(1, len(created) // 10)]:
            form = {
                "formFields": [
                    {"id": "email", "value": email},
                    {"id": "password", "value": PASSWORD},
                ]
            }
            assert client.post("/auth/signin", json=form).json()["status"] == "OK", email
