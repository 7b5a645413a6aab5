"""Access-token verification rate: PyJWT vs doorkeep uncached vs doorkeep cached, in one run.

Creates one RSA-2048 key and one realistic SuperTokens-v5 access token, then times
each method as the best of 5 repeats of N verifications (N scaled so that one repeat
takes about 0.3 s) and prints a markdown table.

Run: .venv/bin/python bench/bench_token_verify.py
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from collections.abc import Callable

import jwt as pyjwt

from doorkeep import Doorkeep, Settings
from doorkeep.core.jwt import AccessTokenVerifier, generate_signing_key, sign

REPEATS = 5
TARGET_SECONDS = 0.3


def ops_per_second(fn: Callable[[], object]) -> float:
    """Best of REPEATS timed loops of N calls, N chosen so a loop takes ~TARGET_SECONDS."""
    n = 1
    while True:  # calibrate
        start = time.perf_counter()
        for _ in range(n):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= TARGET_SECONDS / 10:
            break
        n *= 4
    n = max(1, int(n * TARGET_SECONDS / elapsed))
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, time.perf_counter() - start)
    return n / best


async def api_ops_per_second(token: str, dk: Doorkeep) -> float:
    """The full in-process API (recipe -> session service -> verifier), best of REPEATS."""
    n = 50_000
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        for _ in range(n):
            await dk.session.get_session(token)
        best = min(best, time.perf_counter() - start)
    return n / best


async def in_process_api_rate(operations: bool = True) -> tuple[float, float]:
    """(get_session rate, PyJWT rate) on a token doorkeep itself issued; `operations`:
    metrics (timing, event counts) and the audit trail on, as by default (issue 20)."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            database_url=f"sqlite:///{tmp}/bench.sqlite3",
            metrics_enabled=operations,
            audit_enabled=operations,
        )
        async with Doorkeep(settings) as dk:
            token = (await dk.session.create_new_session("user-1")).access_token.token
            key = (await dk.core.public.keys.signing_key()).public_key
            result = await dk.session.get_session(token)
            assert result.status == "OK"
            pyjwt_rate = ops_per_second(lambda: pyjwt.decode(token, key, algorithms=["RS256"]))
            return await api_ops_per_second(token, dk), pyjwt_rate


def main() -> None:
    now = int(time.time())
    key = generate_signing_key(f"d-{now * 1000}", now * 1000)
    user = str(uuid.uuid4())
    claims = {
        "sub": user,
        "exp": now + 3600,
        "iat": now,
        "sessionHandle": str(uuid.uuid4()),
        "refreshTokenHash1": uuid.uuid4().hex * 2,
        "parentRefreshTokenHash1": None,
        "antiCsrfToken": None,
        "tId": "public",
        "rsub": user,
        "role": "admin",
        "email": "alice@example.com",
    }
    token = sign(claims, key)

    uncached = AccessTokenVerifier(cache_size=0)
    uncached.set_keys([key])
    cached = AccessTokenVerifier()
    cached.set_keys([key])
    assert pyjwt.decode(token, key.public_key, algorithms=["RS256"]) == claims
    assert dict(uncached.verify(token)) == claims
    assert dict(cached.verify(token)) == claims  # warms the cache

    methods: list[tuple[str, Callable[[], object]]] = [
        ("PyJWT `jwt.decode`", lambda: pyjwt.decode(token, key.public_key, algorithms=["RS256"])),
        ("doorkeep uncached (`cache_size=0`)", lambda: uncached.verify(token)),
        ("doorkeep cached", lambda: cached.verify(token)),
    ]
    print(f"token: {len(token)} characters, RS256, RSA-2048\n")
    print("| method | verifications/s | µs/op | ratio vs PyJWT |")
    print("|---|---:|---:|---:|")
    baseline = None
    for name, fn in methods:
        rate = ops_per_second(fn)
        baseline = baseline or rate
        print(f"| {name} | {rate:,.0f} | {1e6 / rate:.2f} | {rate / baseline:.1f}x |")
    # Operations (metrics, audit) off and on, alternated, best of two runs each.
    best: dict[bool, tuple[float, float]] = {}
    for operations in (False, True, False, True):
        api_rate, pyjwt_rate = asyncio.run(in_process_api_rate(operations))
        if api_rate > best.get(operations, (0.0, 0.0))[0]:
            best[operations] = (api_rate, pyjwt_rate)
    for operations, label in ((False, "metrics and audit off"), (True, "metrics and audit on")):
        api_rate, pyjwt_rate = best[operations]
        print(
            f"| doorkeep `await dk.session.get_session(token)` (recipe API, {label}) "
            f"| {api_rate:,.0f} | {1e6 / api_rate:.2f} | {api_rate / pyjwt_rate:.1f}x (vs PyJWT "
            f"on its token: {pyjwt_rate:,.0f}/s) |"
        )


if __name__ == "__main__":
    main()
