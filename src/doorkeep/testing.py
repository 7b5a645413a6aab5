"""Helpers for tests and benchmarks (doorkeep's own, and applications')."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from doorkeep.storage import Database


def _admin_dsn(admin_url: str) -> str:
    return make_url(admin_url).set(drivername="postgresql").render_as_string(hide_password=False)


async def create_scratch_database(admin_url: str, *, migrate: bool = True) -> str:
    """Create a throw-away PostgreSQL database beside `admin_url`'s; returns its URL."""
    name = f"doorkeep_scratch_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(_admin_dsn(admin_url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = make_url(_admin_dsn(admin_url)).set(database=name).render_as_string(hide_password=False)
    if migrate:
        db = Database(url)
        await db.migrate()
        await db.dispose()
    return url


async def drop_scratch_database(admin_url: str, scratch_url: str) -> None:
    name = make_url(scratch_url).database
    if not name or not name.startswith("doorkeep_scratch_"):
        raise ValueError(f"refusing to drop {name!r}: not a scratch database")
    conn = await asyncpg.connect(_admin_dsn(admin_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@asynccontextmanager
async def scratch_postgres_database(admin_url: str, *, migrate: bool = True) -> AsyncIterator[str]:
    """A scratch database for the duration of the block."""
    url = await create_scratch_database(admin_url, migrate=migrate)
    try:
        yield url
    finally:
        await drop_scratch_database(admin_url, url)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_in_thread(app: Any, *, port: int | None = None) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on 127.0.0.1 in a thread; yields its base URL.

    The app runs on the thread's own event loop: talk to it over HTTP, not by calling
    the Doorkeep instance it serves.
    """
    import uvicorn

    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
