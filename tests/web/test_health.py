"""`GET /health` (the process answers, no database), `GET /ready` (one database round
trip, 503 when the database does not answer) and the request ID of every answer —
over real HTTP, with a real PostgreSQL cut off by a TCP relay."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from doorkeep import Doorkeep, Settings
from doorkeep.serve.server import create_app
from doorkeep.testing import TcpProxy, serve_in_thread


def test_health_ready_and_request_ids_on_sqlite(tmp_path: Path) -> None:
    dk = Doorkeep(Settings(database_url=f"sqlite:///{tmp_path}/health.sqlite3"))
    with serve_in_thread(create_app(dk)) as url, httpx.Client(base_url=url) as client:
        health = client.get("/health")
        assert (health.status_code, health.json()) == (200, {"status": "OK"})
        ready = client.get("/ready")
        assert (ready.status_code, ready.json()) == (200, {"status": "OK"})
        # SuperTokens' ping stays as the core answers it.
        assert client.get("/hello").text == "Hello"

        given = client.get("/health", headers={"x-request-id": "lb-7f3a:42"})
        assert given.headers["x-request-id"] == "lb-7f3a:42"
        for insane in ("a" * 129, "<script>", "two words"):
            made = client.get("/ready", headers={"x-request-id": insane}).headers["x-request-id"]
            assert re.fullmatch(r"[0-9a-f]{32}", made), made
        ids = {client.get("/auth/jwt/jwks.json").headers["x-request-id"] for _ in range(3)}
        assert len(ids) == 3  # every request its own, on every route


def test_ready_is_503_while_postgres_is_unreachable(postgres_database: str) -> None:
    """Mutant tried: `_ready` answering 200 without a database round trip -> fails here."""
    target = make_url(postgres_database)
    proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432).start()
    try:
        via_proxy = target.set(host="127.0.0.1", port=proxy.port)
        dk = Doorkeep(Settings(database_url=via_proxy.render_as_string(hide_password=False)))
        with serve_in_thread(create_app(dk)) as url, httpx.Client(base_url=url) as client:
            assert client.get("/ready").status_code == 200
            proxy.cut()  # the database's port is now closed
            for _ in range(2):  # the pooled connection, then a new one: both refused
                ready = client.get("/ready")
                assert (ready.status_code, ready.json()) == (503, {"status": "UNAVAILABLE"})
            assert client.get("/health").status_code == 200  # alive, only not ready
            proxy.start()
            answers = [client.get("/ready").status_code for _ in range(3)]
            assert answers[-1] == 200, answers  # back once the database is
    finally:
        proxy.close()


@pytest.mark.parametrize("path", ["/health", "/ready"])
def test_health_routes_need_no_session_or_key(tmp_path: Path, path: str) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/keys.sqlite3", core_api_keys=("k" * 32,)
    )
    with (
        serve_in_thread(create_app(Doorkeep(settings))) as url,
        httpx.Client(base_url=url) as client,
    ):
        assert client.get(path).status_code == 200
