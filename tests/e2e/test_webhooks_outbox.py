"""Webhooks across real processes: an endpoint added with `doorkeep webhooks add`, ten
sign-ups on a `doorkeep serve` that is SIGKILLed right after while the receiver is down,
then a restart with the receiver up: every event arrives (each ID once at least, none
missing), `doorkeep webhooks deliveries` shows them delivered, and `doorkeep webhooks
replay` sends one again with the same ID."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from doorkeep.testing import free_port, serve_in_subprocess
from tests.core.webhook_receiver import Receiver

BOUND_S = 30.0


def doorkeep(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "DOORKEEP_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "doorkeep.cli", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def wait_for(condition: object, what: str) -> None:
    start = time.monotonic()
    while not condition():  # type: ignore[operator]
        if time.monotonic() - start > BOUND_S:
            raise AssertionError(f"{what}: not within {BOUND_S} s")
        time.sleep(0.1)


def test_a_sigkill_between_commit_and_delivery_loses_nothing(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path}/hooks.sqlite3"
    receiver = Receiver(free_port())
    added = doorkeep(database, "webhooks", "add", receiver.url, "--events", "user.created")
    assert added.returncode == 0, added.stderr
    fields = dict(line.split("\t") for line in added.stdout.strip().splitlines())
    receiver.secret = fields["secret"]

    retries = {"DOORKEEP_WEBHOOK_RETRY_DELAYS": ",".join(["0.2"] * 50)}
    with serve_in_subprocess(database, **retries) as (process, url):
        with httpx.Client(base_url=url) as client:
            for i in range(10):
                body = {
                    "formFields": [
                        {"id": "email", "value": f"user{i}@example.com"},
                        {"id": "password", "value": "correct horse battery"},
                    ]
                }
                assert client.post("/auth/signup", json=body).json()["status"] == "OK"
        process.send_signal(signal.SIGKILL)  # no shutdown: the receiver has nothing yet
        process.wait(10)
    assert receiver.ids() == []

    receiver.start()
    try:
        with serve_in_subprocess(database, **retries):
            wait_for(lambda: len(set(receiver.ids())) == 10, "every sign-up delivered")
        assert receiver.bad_signatures == 0
        assert {body["type"] for _, body in receiver.received} == {"user.created"}
        users = {body["data"]["userId"] for _, body in receiver.received}
        assert len(users) == 10  # ten users, none missing

        listed = doorkeep(database, "webhooks", "deliveries")
        lines = listed.stdout.strip().splitlines()
        assert listed.returncode == 0 and len(lines) == 10
        assert all("\tdelivered\tuser.created\t" in line for line in lines)
        first_id, event_id = lines[-1].split("\t")[0], lines[-1].split("\t")[3]
        replayed = doorkeep(database, "webhooks", "replay", first_id)
        assert replayed.returncode == 0 and "1 deliveries queued again" in replayed.stdout
        with serve_in_subprocess(database, **retries):
            wait_for(lambda: receiver.ids().count(event_id) >= 2, "the replay")
    finally:
        receiver.stop()
