"""Helpers for tests and benchmarks (doorkeep's own, and applications')."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
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


def wait_until_answering(url: str, what: str, *, seconds: float = 30) -> None:
    """Poll `url` until a server answers it at all (any status); RuntimeError if not."""
    import httpx

    deadline = time.monotonic() + seconds
    while True:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start") from None
            time.sleep(0.1)


@contextmanager
def serve_in_subprocess(
    database_url: str, **environment: str
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`doorkeep serve` as its own process on 127.0.0.1 (rate limits off, extra
    DOORKEEP_* variables from `environment`); yields the process and its base URL and
    kills it at the end. For tests and benchmarks that need a real process: to kill
    it, or to run several."""
    port = free_port()
    env = {
        **os.environ,
        "DOORKEEP_DATABASE_URL": database_url,
        "DOORKEEP_RATE_LIMITS_ENABLED": "false",
        **environment,
    }
    command = [sys.executable, "-m", "doorkeep.cli", "serve", "--port", str(port)]
    process = subprocess.Popen([*command, "--log-level", "warning"], env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(f"{url}/hello", "doorkeep serve")
        yield process, url
    finally:
        if process.poll() is None:
            # A clean stop first, so a coverage run saves what the process measured.
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        process.wait(10)


class SmtpSink:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives.

    with SmtpSink() as smtp:
        settings = Settings(smtp_url=smtp.url, ...)
        ...
        message = smtp.wait_for(1)[0]
    """

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"smtp://127.0.0.1:{self.port}"
        self.messages: list[EmailMessage] = []
        self._arrived = threading.Condition()
        self._controller: Any = None

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=default_policy)
        with self._arrived:
            self.messages.append(message)
            self._arrived.notify_all()
        return "250 Message accepted for delivery"

    def start(self) -> SmtpSink:
        from aiosmtpd.controller import Controller

        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.messages) >= count, timeout):
                raise TimeoutError(f"{len(self.messages)} of {count} emails arrived in {timeout}s")
            return list(self.messages)

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def email_text(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    return "" if body is None else str(body.get_content())


class TcpProxy:
    """A TCP relay on 127.0.0.1 to a real server, that a test can cut and restore —
    a real lost connection, for fault tests (e.g. PostgreSQL going away)."""

    def __init__(self, target_host: str, target_port: int, port: int | None = None) -> None:
        self.target = (target_host, target_port)
        self.port = port or free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()

    def start(self) -> TcpProxy:
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(5)
        return self

    def cut(self) -> None:
        """Stop listening and drop every open connection."""
        asyncio.run_coroutine_threadsafe(self._cut(), self._loop).result(5)

    def close(self) -> None:
        self.cut()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._links):
            writer.transport.abort()
        self._links.clear()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._links.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
