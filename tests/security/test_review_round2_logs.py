"""Issue 16: no password or token in any log record.

- The suite-wide check (tests/conftest.py `no_secret_in_logs`, autouse) recognises
  what it must: a JWT, a known test password, a secret URL parameter; and lets pass
  what it must (a digest, a redacted value).
- `doorkeep serve --log-level info`: uvicorn's access log wrote every request line
  whole, so a visit to an emailed reset or verification link put its token in the log.
  The query's secret-bearing values are now redacted in that log.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import httpx

from doorkeep.testing import free_port, wait_until_answering
from tests.conftest import record_text, secret_in

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJl"
TOKEN = "Zm9vYmFyLXNlY3JldC10b2tlbi1vZi00My1jaGFycw"


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("doorkeep.test", logging.INFO, __file__, 1, message, args, None)
    made.__dict__.update(extra)
    return made


def test_the_suite_wide_check_finds_secrets_and_only_secrets() -> None:
    """Mutant tried: the conftest check reading `record.msg` only — the JWT in `args`
    and the password in an extra field pass unseen, and this test fails."""
    found = [
        secret_in(record_text(record("session %s", JWT))),
        secret_in(record_text(record("signed in", field_password="correct horse battery"))),
        secret_in(record_text(record("GET /auth/reset-password?token=%s", TOKEN))),
        secret_in(record_text(record("link %s", f"https://x/verify#linkCode={TOKEN}"))),
    ]
    assert all(found), found
    digest = hashlib.sha256(TOKEN.encode()).hexdigest()
    clean = [
        record("token digest %s", digest),
        record("GET /auth/reset-password?token=[redacted]&tenantId=public"),
        record("sign_in_failed", user_id="u-1", token="[redacted]"),
    ]
    assert [secret_in(record_text(r)) for r in clean] == [None, None, None]


def test_the_access_log_of_serve_carries_no_token(tmp_path: Path) -> None:
    """Fails before the fix: the JSON access line was `"GET
    /auth/reset-password?token=<TOKEN>&tenantId=public HTTP/1.1" 200` (uvicorn logs the
    whole path)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOORKEEP_")}
    env["DOORKEEP_DATABASE_URL"] = f"sqlite:///{tmp_path}/access.sqlite3"
    log_path = tmp_path / "serve.log"
    command = [sys.executable, "-m", "doorkeep.cli", "serve", "--port", str(port)]
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            [*command, "--log-format", "json", "--log-level", "info"],
            env=env,
            stderr=log_file,
            stdout=subprocess.DEVNULL,
            cwd=tmp_path,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(f"{url}/health", "doorkeep serve")
        for path in ("/auth/reset-password", "/auth/verify-email"):
            page = httpx.get(f"{url}{path}", params={"token": TOKEN, "tenantId": "public"})
            assert page.status_code == 200
    finally:
        process.terminate()
        process.wait(30)
    lines = [json.loads(line) for line in log_path.read_text().splitlines()]
    access = [line for line in lines if line["logger"] == "uvicorn.access"]
    assert len(access) >= 2, lines  # the visits were logged...
    assert all(TOKEN not in json.dumps(line) for line in lines)  # ...without the token
    assert any("/auth/reset-password?token=[redacted]" in line["message"] for line in access)
    assert any("tenantId=public" in line["message"] for line in access)  # the rest stays
