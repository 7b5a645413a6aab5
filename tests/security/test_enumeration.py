"""No user enumeration (checklist 12): an unknown email and a wrong password get the
same status code, the same headers and body, and the same hashing work.

The work is counted, not timed (wall-clock bounds live in bench/): each attempt runs
exactly one Argon2id verification, at the parameters of a real stored hash, so the
two answers cost the same."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from doorkeep import Doorkeep, Settings
from doorkeep.serve.server import create_app

PASSWORD = "correct horse battery"


def sign_in_body(email: str, password: str) -> dict[str, object]:
    return {"formFields": [{"id": "email", "value": email}, {"id": "password", "value": password}]}


def count_argon2_verifications(dk: Doorkeep) -> list[str]:
    """Every Argon2 verification the hasher runs, as the parameters of the hash checked."""
    calls: list[str] = []
    hasher = dk.core.hasher
    verify: Callable[..., Any] = hasher._verify_argon2

    def counted(stored_hash: str, secret: bytes) -> Any:
        calls.append("$".join(stored_hash.split("$")[1:4]))  # argon2id, v=19, m=…,t=…,p=…
        return verify(stored_hash, secret)

    hasher._verify_argon2 = counted  # type: ignore[method-assign]
    return calls


async def test_unknown_user_and_wrong_password_answer_alike(database_url: str) -> None:
    """Fails if the status differs (mutant: the FDI sign-in answers an unknown email with
    a 401 and the same body), if an unknown email skips the hash (mutant: no
    `dummy_verify` in `EmailPasswordService.sign_in`), or if the dummy hash is cheaper
    than a real one (mutant: dummy hash made with t=1)."""
    # Rate limits off: twenty attempts on one account would rightly be throttled.
    settings = Settings(database_url=database_url, rate_limits_enabled=False)
    async with Doorkeep(settings) as dk:
        transport = httpx.ASGITransport(app=create_app(dk))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            await client.post("/auth/signup", json=sign_in_body("ada@example.com", PASSWORD))
            calls = count_argon2_verifications(dk)
            answers: dict[str, set[tuple[int, str, str]]] = {"wrong": set(), "unknown": set()}
            work: dict[str, list[list[str]]] = {"wrong": [], "unknown": []}
            for _ in range(10):
                for kind, email in (("wrong", "ada@example.com"), ("unknown", "no@example.com")):
                    calls.clear()
                    response = await client.post(
                        "/auth/signin", json=sign_in_body(email, "not the password")
                    )
                    # Every header but the per-request random ID.
                    headers = str(
                        sorted((k, v) for k, v in response.headers.items() if k != "x-request-id")
                    )
                    answers[kind].add((response.status_code, headers, response.text))
                    work[kind].append(list(calls))
    assert answers["wrong"] == answers["unknown"]
    [(status, _, body)] = answers["wrong"]
    assert (status, body) == (200, '{"status":"WRONG_CREDENTIALS_ERROR"}')
    real_parameters = "argon2id$v=19$m=19456,t=2,p=1"
    assert work["wrong"] == work["unknown"] == [[real_parameters]] * 10
