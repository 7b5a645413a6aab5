"""SIGKILL in the middle of a load (issue 8, item 4; checklist C5): after a restart every
user either fully exists or not at all, every password reset happened whole or not at
all (a spent reset token always means a changed password, and vice versa), and the
database passes its integrity checks."""

from __future__ import annotations

import asyncio
import signal
import threading
import time

import httpx
from sqlalchemy import text

from doorkeep import Doorkeep, Settings
from doorkeep.core.bulk_import import ImportedUser, insert_users
from doorkeep.core.common import sha256_hex
from doorkeep.storage import Database
from doorkeep.testing import serve_in_subprocess

PASSWORD = "correct horse battery"
LOAD_SECONDS = 2.0
RESET_USERS = 300  # more than the load can reset before the kill
RESET_WORKERS = 4


def new_password(email: str) -> str:
    return f"reset to {email}"


async def prepare_resets(database_url: str) -> list[tuple[str, str]]:
    """RESET_USERS accounts (imported with one precomputed hash), each with a reset token."""
    async with Doorkeep(Settings(database_url=database_url)) as dk:
        core = dk.core.public
        stored = await core.ctx.hasher.hash(PASSWORD)
        emails = [f"reset-{i}@example.com" for i in range(RESET_USERS)]
        ids = await insert_users(core.ctx, [ImportedUser("public", e, stored) for e in emails])
        tokens = []
        for email, user_id in zip(emails, ids, strict=True):
            created = await core.passwordreset.create_token(user_id, email)
            tokens.append((email, created.token))  # type: ignore[union-attr]
    return tokens


def reset_load(
    url: str, todo: list[tuple[str, str]], stop: threading.Event, answered: list[str]
) -> None:
    """Complete password resets, one token after another, until stopped or killed."""
    with httpx.Client(base_url=url, timeout=10) as client:
        while not stop.is_set() and todo:
            try:
                email, token = todo.pop()
            except IndexError:
                return
            reset = {
                "method": "token",
                "token": token,
                "formFields": [{"id": "password", "value": new_password(email)}],
            }
            try:
                response = client.post("/auth/user/password/reset", json=reset)
                if response.json() == {"status": "OK"}:
                    answered.append(email)
            except (httpx.TransportError, ValueError):
                return  # the server is gone


async def unspent_tokens(database_url: str, tokens: list[tuple[str, str]]) -> set[str]:
    """The emails whose reset token is still in the database."""
    db = Database(database_url)
    async with db.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT token_hash FROM password_reset_tokens"))).all()
    await db.dispose()
    stored = {row.token_hash for row in rows}
    return {email for email, token in tokens if sha256_hex(token) in stored}


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


def test_sigkill_mid_load_leaves_no_half_written_user_or_reset(database_url: str) -> None:
    """Fails if a reset spends its token and writes the password in two steps (mutant:
    `PasswordResetService.reset_password` consumes the token in one transaction, then
    hashes and writes the password in another): a kill between them leaves a spent
    token and the old password."""
    tokens = asyncio.run(prepare_resets(database_url))
    created: list[str] = []
    answered: list[str] = []
    todo = list(tokens)
    with serve_in_subprocess(database_url) as (process, url):
        stop = threading.Event()
        workers = [threading.Thread(target=load, args=(url, w, stop, created)) for w in range(2)]
        workers += [
            threading.Thread(target=reset_load, args=(url, todo, stop, answered))
            for _ in range(RESET_WORKERS)
        ]
        for worker in workers:
            worker.start()
        time.sleep(LOAD_SECONDS)
        process.send_signal(signal.SIGKILL)  # no shutdown, no flush: mid-transaction
        process.wait(10)
        stop.set()
        for worker in workers:
            worker.join(10)
    assert created, "the load created nobody before the kill"
    assert answered, "the load completed no reset before the kill"
    assert todo, "every reset finished before the kill: it cut no reset short"
    assert asyncio.run(consistency_problems(database_url)) == []
    unspent = asyncio.run(unspent_tokens(database_url, tokens))
    with serve_in_subprocess(database_url) as (_, url), httpx.Client(base_url=url) as client:

        def signs_in(email: str, password: str) -> bool:
            form = {
                "formFields": [
                    {"id": "email", "value": email},
                    {"id": "password", "value": password},
                ]
            }
            return bool(client.post("/auth/signin", json=form).json()["status"] == "OK")

        # Every sign-up the client saw succeed survived the crash, whole.
        for email in created[:: max(1, len(created) // 10)]:
            assert signs_in(email, PASSWORD), email
        # Every reset the client saw succeed is durable.
        assert not unspent & set(answered)
        # Spent token <=> changed password, for every account whose reset may have run
        # (all that were handed to a worker) and a sample of the untouched ones.
        # Workers pop from the end: what is left in `todo` was never handed out.
        started = [email for email, _ in tokens[len(todo) :]]
        sample = started + [email for email, _ in todo[:: max(1, len(todo) // 10)]]
        mismatched = [
            email
            for email in sample
            if (email not in unspent) != signs_in(email, new_password(email))
        ]
        assert mismatched == []
        for email in sample:
            if email in unspent:  # not reset: the old password still works
                assert signs_in(email, PASSWORD), email
