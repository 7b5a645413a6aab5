"""Checklist C7: a legacy provider that accepts the connection and never answers.

A real TCP server on loopback accepts every connection, reads the request and stays
silent. Sign-in, sign-up and reset must fail closed (GENERAL_ERROR, nobody created)
because doorkeep's client times out and hangs up — not because the server gave up:
each connection must be closed by doorkeep first. (A reset request is answered OK at
once and asks the provider after the answer, issue 16 row 6: it fails closed there.)"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from doorkeep import Doorkeep, Settings
from doorkeep.flows.legacy_migration import HttpLegacyProvider, LegacyProviderUnavailable
from doorkeep.serve.server import create_app

CLIENT_TIMEOUT_S = 0.5
SERVER_GIVES_UP_S = 15.0  # only a client without a timeout ever waits this long


class SilentServer:
    """Accepts, reads, never writes. Records who closed each connection."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.outcomes: list[str] = []  # per connection: "client hung up" or "server gave up"
        self.accepted = 0
        self.changed = threading.Condition()
        self._threads: list[threading.Thread] = []

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return  # closed
            with self.changed:
                self.accepted += 1
            thread = threading.Thread(target=self._hold, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _hold(self, conn: socket.socket) -> None:
        conn.settimeout(SERVER_GIVES_UP_S)
        outcome = "server gave up"
        try:
            while conn.recv(65536):  # the request arrives; no answer is ever sent
                pass
            outcome = "client hung up"
        except TimeoutError:
            pass
        finally:
            conn.close()
        with self.changed:
            self.outcomes.append(outcome)
            self.changed.notify_all()

    def wait_for_closed(self, count: int) -> list[str]:
        with self.changed:
            self.changed.wait_for(lambda: len(self.outcomes) >= count, SERVER_GIVES_UP_S + 5)
            return list(self.outcomes)


@contextmanager
def silent_server() -> Iterator[SilentServer]:
    server = SilentServer()
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.listener.close()
        thread.join(5)


def fields(**values: str) -> dict[str, object]:
    return {"formFields": [{"id": k, "value": v} for k, v in values.items()]}


async def test_a_provider_that_never_answers_fails_closed(database_url: str) -> None:
    """Fails if the legacy client has no timeout (mutant: `httpx.AsyncClient(timeout=None)`
    in `HttpLegacyProvider._call`): the server then gives up first. Fails if a timeout
    is taken for "no such legacy user" (mutant: `_call` returns None on
    `httpx.TimeoutException`): sign-up then succeeds for an address the provider may own."""
    with silent_server() as server:
        provider = HttpLegacyProvider(server.url, timeout=CLIENT_TIMEOUT_S)
        settings = Settings(database_url=database_url, rate_limits_enabled=False)
        async with Doorkeep(settings, legacy_provider=provider) as dk:
            transport = httpx.ASGITransport(app=create_app(dk))
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                answers = [
                    await client.post(
                        "/auth/signin", json=fields(email="old@example.com", password="old pw 1")
                    ),
                    await client.post(
                        "/auth/signup", json=fields(email="new@example.com", password="new pw 12")
                    ),
                    await client.post(
                        "/auth/user/password/reset/token", json=fields(email="old@example.com")
                    ),
                ]
            reset = answers.pop()
            assert reset.status_code == 200 and reset.json() == {"status": "OK"}
            await dk.background.drain()  # the reset's provider lookup runs after the answer
            for answer in answers:
                assert answer.status_code == 200
                assert answer.json()["status"] == "GENERAL_ERROR", answer.text
                assert "try again later" in answer.json()["message"]
            with pytest.raises(LegacyProviderUnavailable) as failed:
                await dk.emailpassword.sign_in("old@example.com", "old pw 1")
            assert "Timeout" in failed.value.detail
            assert await dk.core.public.users.count_users() == 0  # nobody half-made
        outcomes = server.wait_for_closed(4)
    assert server.accepted == 4  # every call reached the provider...
    assert outcomes == ["client hung up"] * 4  # ...and doorkeep hung up first, every time
