"""Connecting to the database and keeping its schema current.

doorkeep speaks to SQLite (the zero-setup default) and PostgreSQL through
SQLAlchemy's async engine. Callers pass plain URLs (`sqlite:///path`,
`postgresql://…`); the async driver is chosen here.

The hot paths (sign-in, session creation, refresh) run as units of work through
`Database.run`: synchronous SQLAlchemy Core on one connection, which on SQLite is a
plain sqlite3 connection owned by one thread. aiosqlite makes three or four trips to
its thread per statement, each costing the event loop ~0.1 ms; a unit makes one.
"""

from __future__ import annotations

import asyncio
import contextvars
import weakref
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_PG_MIGRATION_LOCK = 0x646F6F72  # "door": one migrator at a time across instances
_READ_ONLY = "doorkeep_read_only"  # execution option set by Database.read()
_WRITER_WAIT_S = 60

T = TypeVar("T")
Unit = Callable[[Connection], T]


def async_url(url: str) -> str:
    """Turn a plain database URL into one naming doorkeep's async driver."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return str(parsed.set(drivername="sqlite+aiosqlite"))
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    raise ValueError(
        f"unsupported database URL {parsed.drivername!r}: use sqlite:// or postgresql://"
    )


class Database:
    """The engine, transactions, and migrations for one database."""

    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False) -> None:
        self.url = async_url(url)
        self.dialect: Literal["sqlite", "postgresql"] = (
            "sqlite" if self.url.startswith("sqlite") else "postgresql"
        )
        if self.dialect == "sqlite":
            # One connection: SQLite has one writer anyway, and queueing in the pool
            # beats "database is locked" errors. Nothing awaits a hash while holding it.
            self.engine: AsyncEngine = create_async_engine(
                self.url, echo=echo, pool_size=1, max_overflow=0, pool_timeout=60
            )
            _configure_sqlite(self.engine.sync_engine)
            # Units of work (`run`) go to a plain sqlite3 connection owned by one thread:
            # one hop per unit instead of aiosqlite's three or four per statement.
            self._unit_engine: Engine | None = create_engine(
                make_url(self.url).set(drivername="sqlite"),
                echo=echo,
                pool_size=1,
                max_overflow=0,
                pool_timeout=60,
            )
            _configure_sqlite(self._unit_engine)
        else:
            self._unit_engine = None
            self.engine = create_async_engine(
                self.url,
                echo=echo,
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_pre_ping=True,
                pool_recycle=1800,
            )
        self._unit_thread: ThreadPoolExecutor | None = None
        # SQLite: one writer at a time in this process. Its two connections would
        # otherwise meet in SQLite's busy handler, which sleeps up to 100 ms a try.
        # One lock per event loop: a lock that once waited is bound to its loop.
        self._writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A connection inside one transaction: committed on success, rolled back on error."""
        async with self._writing(), self.engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[None]:
        if self.dialect != "sqlite":
            yield
            return
        loop = asyncio.get_running_loop()
        writer = self._writers.get(loop)
        if writer is None:
            writer = self._writers[loop] = asyncio.Lock()
        # Bounded like the pool's wait: a writer stuck behind another answers 503.
        async with asyncio.timeout(_WRITER_WAIT_S):
            await writer.acquire()
        try:
            yield
        finally:
            writer.release()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reading only: use `transaction()` to write.

        On SQLite its statements run in autocommit mode instead of inside BEGIN
        IMMEDIATE: a read then neither waits for nor blocks another process's writer,
        and saves a round trip to the driver's thread (about 0.4 ms of event-loop CPU
        here). Each statement sees its own consistent snapshot.
        """
        async with self.engine.connect() as conn:
            if self.dialect == "sqlite":
                await conn.execution_options(**{_READ_ONLY: True})
            yield conn

    async def run(self, unit: Unit[T], *, write: bool = False) -> T:
        """Run `unit` (synchronous SQLAlchemy Core on one connection) as one unit of work:
        in one transaction if `write`, else as `read()` does. Return plain values from it,
        not a Result: its rows cannot be fetched once the unit is over.

        For the hot paths: on SQLite the whole unit is one hop to the thread that owns
        the connection, instead of several driver round trips per statement.
        """
        if self._unit_engine is None:
            opened = self.transaction() if write else self.read()
            async with opened as conn:
                return await conn.run_sync(unit)
        if self._unit_thread is None:
            self._unit_thread = ThreadPoolExecutor(1, thread_name_prefix="doorkeep-sqlite")
        loop = asyncio.get_running_loop()
        # The unit runs in the caller's context, as on PostgreSQL: events it records read
        # the request's origin (IP, request ID) from a context variable.
        context = contextvars.copy_context()
        if not write:
            return await loop.run_in_executor(
                self._unit_thread, context.run, self._run_on_sqlite, unit, False
            )
        async with self._writing():
            return await loop.run_in_executor(
                self._unit_thread, context.run, self._run_on_sqlite, unit, True
            )

    def _run_on_sqlite(self, unit: Unit[T], write: bool) -> T:
        assert self._unit_engine is not None
        if write:
            with self._unit_engine.begin() as conn:
                return unit(conn)
        with self._unit_engine.connect() as conn:
            return unit(conn.execution_options(**{_READ_ONLY: True}))

    def sync_engines(self) -> list[Engine]:
        """The engines under this database (event listeners: counting statements)."""
        engines = [self.engine.sync_engine]
        if self._unit_engine is not None:
            engines.append(self._unit_engine)
        return engines

    def pool_status(self) -> tuple[int, int]:
        """(connections in use, connections the pools may hold) over every engine."""
        in_use = capacity = 0
        for engine in self.sync_engines():
            pool: Any = engine.pool
            in_use += int(pool.checkedout())
            capacity += int(pool.size()) + max(0, int(getattr(pool, "_max_overflow", 0)))
        return in_use, capacity

    async def migrate(self, revision: str = "head") -> None:
        """Bring the schema to `revision`, the newest by default (safe to call from
        several instances)."""
        async with self.engine.begin() as conn:
            if self.dialect == "postgresql":
                await conn.execute(text(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})"))
            await conn.run_sync(_upgrade, revision)

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._unit_engine is not None and self._unit_thread is not None:
            thread, self._unit_thread = self._unit_thread, None
            await asyncio.get_running_loop().run_in_executor(thread, self._unit_engine.dispose)
            thread.shutdown(wait=False)


def is_unavailable(exc: BaseException) -> bool:
    """Whether `exc` means the database cannot be reached (answer 503, try again later)."""
    if isinstance(exc, OSError | ConnectionError | asyncio.TimeoutError | sa_exc.TimeoutError):
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        return exc.connection_invalidated or isinstance(
            exc, sa_exc.OperationalError | sa_exc.InterfaceError
        )
    return False


def _upgrade(connection: Connection, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def _configure_sqlite(sync_engine: Engine) -> None:
    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transactions into our own hands so that they begin IMMEDIATE: a
        # deferred transaction that later writes can fail with SQLITE_BUSY at once
        # when another process holds the write lock.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if not conn.get_execution_options().get(_READ_ONLY):
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def run_sync(coro: Any) -> Any:
    """Run a coroutine from synchronous code (the CLI)."""
    return asyncio.run(coro)
