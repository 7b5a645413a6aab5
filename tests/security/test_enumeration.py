"""No user enumeration: an unknown email and a wrong password look the same, in
body and in time (security checklist items 12 and 25)."""

from __future__ import annotations

import statistics
import time

import httpx

from doorkeep import Doorkeep, Settings
from doorkeep.testing import serve_in_thread
from doorkeep.web.server import create_app

PASSWORD = "correct horse battery"


def sign_in_body(email: str, password: str) -> dict[str, object]:
    return {"formFields": [{"id": "email", "value": email}, {"id": "password", "value": password}]}


def test_unknown_user_and_wrong_password_take_the_same_time(database_url: str) -> None:
    # Rate limits off: this measures the hashing work of 50 attempts on one account.
    settings = Settings(database_url=database_url, rate_limits_enabled=False)
    with (
        serve_in_thread(create_app(Doorkeep(settings))) as url,
        httpx.Client(base_url=url) as client,
    ):
        client.post("/auth/signup", json=sign_in_body("ada@example.com", PASSWORD))
        timings: dict[str, list[float]] = {"wrong password": [], "unknown user": []}
        bodies: dict[str, set[str]] = {"wrong password": set(), "unknown user": set()}
        for _ in range(25):  # alternate, so drift on a shared machine hits both alike
            for kind, email in (
                ("wrong password", "ada@example.com"),
                ("unknown user", "nobody@example.com"),
            ):
                start = time.perf_counter()
                response = client.post("/auth/signin", json=sign_in_body(email, "not the password"))
                timings[kind].append(time.perf_counter() - start)
                bodies[kind].add(response.text)
        assert (
            bodies["wrong password"]
            == bodies["unknown user"]
            == {'{"status":"WRONG_CREDENTIALS_ERROR"}'}
        )
        wrong = statistics.median(timings["wrong password"])
        unknown = statistics.median(timings["unknown user"])
        # Both do one Argon2id verification (~20 ms); the issue asks for < 10 % apart.
        assert abs(wrong - unknown) / max(wrong, unknown) < 0.10, (wrong, unknown)
