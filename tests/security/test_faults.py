"""Faults (issue 8, item 4): a lost database connection is a 503 the client may
retry, never a 500, and the server recovers on its own when the database returns."""

from __future__ import annotations

import os
import uuid

import httpx
import pytest
from sqlalchemy.engine import make_url

from doorkeep import Doorkeep, Settings
from doorkeep.serve.server import create_app
from doorkeep.testing import TcpProxy, serve_in_thread

PASSWORD = "correct horse battery"


def body(email: str) -> dict[str, object]:
    return {"formFields": [{"id": "email", "value": email}, {"id": "password", "value": PASSWORD}]}


def test_postgres_connection_loss_is_503_and_recovers(request: pytest.FixtureRequest) -> None:
    if not os.environ.get("DOORKEEP_TEST_POSTGRES_URL") and not os.environ.get(
        "DOORKEEP_REQUIRE_SERVICES"
    ):
        pytest.skip("needs DOORKEEP_TEST_POSTGRES_URL")
    direct = make_url(request.getfixturevalue("postgres_database"))
    proxy = TcpProxy(direct.host or "127.0.0.1", direct.port or 5432).start()
    try:
        via_proxy = direct.set(host="127.0.0.1", port=proxy.port).render_as_string(
            hide_password=False
        )
        dk = Doorkeep(Settings(database_url=via_proxy))
        email = f"{uuid.uuid4().hex[:10]}@example.com"  # the scratch database is shared
        with serve_in_thread(create_app(dk)) as url, httpx.Client(base_url=url) as client:
            assert client.post("/auth/signup", json=body(email)).json()["status"] == "OK"

            proxy.cut()  # the database goes away mid-life
            for path in ("/auth/signin", "/auth/signup"):
                down = client.post(path, json=body(email))
                assert down.status_code == 503, down.text
                assert down.json() == {
                    "message": "The service is temporarily unavailable. Please try again."
                }
                assert down.headers["retry-after"] == "1"

            proxy.start()  # ...and comes back: no restart needed
            back = client.post("/auth/signin", json=body(email))
            assert back.status_code == 200 and back.json()["status"] == "OK"
    finally:
        proxy.close()
