"""Shared fixtures: a doorkeep instance on SQLite and, when configured, on PostgreSQL.

Every storage test runs on both databases. PostgreSQL runs need
DOORKEEP_TEST_POSTGRES_URL (CI sets it); without it they are skipped with that reason.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import text

from doorkeep import Doorkeep, Settings
from doorkeep.storage import Database
from doorkeep.storage import tables as t
from doorkeep.testing import create_scratch_database, drop_scratch_database

T = TypeVar("T")
POSTGRES_URL = os.environ.get("DOORKEEP_TEST_POSTGRES_URL")
SKIP_PG = (
    "PostgreSQL tests need DOORKEEP_TEST_POSTGRES_URL, "
    "e.g. postgresql://postgres@127.0.0.1:5432/test (CI sets it)"
)


def run_outside_loop(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion on a private loop (session fixtures may be set up
    from inside a test's running loop, where asyncio.run is not allowed)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once is faster)."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    db = Database(f"sqlite:///{path}")

    async def migrate() -> None:
        await db.migrate()
        await db.dispose()

    run_outside_loop(migrate())
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A private, migrated PostgreSQL database for this test run, dropped at the end."""
    if not POSTGRES_URL:
        if os.environ.get("DOORKEEP_REQUIRE_SERVICES"):
            pytest.fail("DOORKEEP_REQUIRE_SERVICES is set but DOORKEEP_TEST_POSTGRES_URL is not")
        pytest.skip(SKIP_PG)
    url = run_outside_loop(create_scratch_database(POSTGRES_URL))
    try:
        yield url
    finally:
        run_outside_loop(drop_scratch_database(POSTGRES_URL, url))


async def reset_postgres(url: str) -> None:
    """Empty every table and put back the public app and tenant."""
    db = Database(url)
    names = ", ".join(table.name for table in t.metadata.sorted_tables)
    async with db.transaction() as conn:
        await conn.execute(text(f"TRUNCATE {names} CASCADE"))
        await conn.execute(
            text("INSERT INTO apps (app_id, core_config, created_at) VALUES ('public', '{}', 0)")
        )
        await conn.execute(
            text(
                "INSERT INTO tenants (app_id, tenant_id, config, created_at) "
                "VALUES ('public', 'public', '{}', 0)"
            )
        )
    await db.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "doorkeep.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_database")
        await reset_postgres(url)
        yield url


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url)


@pytest.fixture
async def dk(settings: Settings) -> AsyncIterator[Doorkeep]:
    instance = Doorkeep(settings)
    await instance.start()
    try:
        yield instance
    finally:
        await instance.close()


# -- no password or token in any log record (issue 16) -------------------------------------

# The suite's own passwords (the distinctive ones: a common word could be a log message).
KNOWN_PASSWORDS = (
    "correct horse battery",
    "analytical-engine-1843",
    "a brand new passphrase",
    "validPass123",
    "legacy passphrase",
    "attacker passphrase",
    "local passphrase",
    "user1password",
    "hopperOldPass1",
    "adaOldPass1",
    "some new passphrase",
    "still remembered",
    "forgotten one",
)
# Secrets by their shape: a JWT (access tokens), and the value of a secret-bearing URL
# parameter (emailed reset/verification links, passwordless link codes). Digests are fine.
SECRET_SHAPES = (
    re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}"),
    re.compile(r"[?&#](?:token|linkCode|code)=(?!\[redacted\])[A-Za-z0-9_%.~-]{8,}"),
)
# The test's own HTTP clients log the URLs they request; that is not doorkeep's log.
CLIENT_LOGGERS = ("httpx", "httpcore")
_PLAIN_RECORD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message"}


class RecordsOfOneTest(logging.Handler):
    """On the root logger at DEBUG: every record any logger emits during the test."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith(CLIENT_LOGGERS):
            self.records.append(record)


class DoorkeepAtDebug(logging.Handler):
    """On the `doorkeep` logger, which is set to DEBUG with propagation off: each of its
    records is checked, and handed on to the handlers above only if they would have
    seen it at the levels the test set, so no test sees more than it used to."""

    def __init__(self, check: RecordsOfOneTest, previous_level: int) -> None:
        super().__init__(logging.DEBUG)
        self.check, self.previous_level = check, previous_level

    def emit(self, record: logging.LogRecord) -> None:
        self.check.emit(record)
        # pytest attaches its capture handlers to non-propagating loggers too: take them
        # off here, they get the record from the root below, at the usual levels.
        ours = logging.getLogger("doorkeep")
        for pytests in [h for h in ours.handlers if type(h).__module__ == "_pytest.logging"]:
            ours.removeHandler(pytests)
        if record.levelno < self.threshold(record.name):
            return
        for handler in logging.getLogger().handlers:
            if handler is not self.check and record.levelno >= handler.level:
                handler.handle(record)

    def threshold(self, name: str) -> int:
        """The level `name` would have had without the fixture."""
        logger: logging.Logger | None = logging.getLogger(name)
        while logger is not None and logger.name != "doorkeep":
            if logger.level:
                return logger.level
            logger = logger.parent
        return self.previous_level or logging.getLogger().getEffectiveLevel()


def record_text(record: logging.LogRecord) -> str:
    """What any formatter could print of a record: message, extra fields, traceback."""
    try:
        parts = [record.getMessage()]
    except Exception:  # a malformed record: check its raw parts
        parts = [str(record.msg), repr(record.args)]
    parts += [f"{k}={v!s}" for k, v in vars(record).items() if k not in _PLAIN_RECORD]
    if record.exc_info and record.exc_info[1] is not None:
        parts.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(parts)


def secret_in(text: str) -> str | None:
    for password in KNOWN_PASSWORDS:
        if password in text:
            return f"the password {password!r}"
    for shape in SECRET_SHAPES:
        if (found := shape.search(text)) is not None:
            return f"a token ({found.group(0)[:24]}...)"
    return None


@pytest.fixture(autouse=True)
def no_secret_in_logs() -> Iterator[None]:
    """Every record logged while a test runs (doorkeep's at DEBUG and up, the libraries'
    at their levels) is checked at teardown: a password or a token in one fails the test,
    naming the record."""
    handler = RecordsOfOneTest()
    root, ours = logging.getLogger(), logging.getLogger("doorkeep")
    previous_level, previous_propagate = ours.level, ours.propagate
    forward = DoorkeepAtDebug(handler, previous_level)
    root.addHandler(handler)
    ours.addHandler(forward)
    ours.setLevel(logging.DEBUG)
    ours.propagate = False
    try:
        yield
    finally:
        root.removeHandler(handler)
        ours.removeHandler(forward)  # (configure_logging may have removed it already)
        ours.setLevel(previous_level)
        ours.propagate = previous_propagate
    for record in handler.records:
        if (found := secret_in(record_text(record))) is not None:
            pytest.fail(
                f"{found} in a log record: {record.name} {record.levelname} "
                f"{record.pathname}:{record.lineno}: {record_text(record)[:500]!r}",
                pytrace=False,
            )
