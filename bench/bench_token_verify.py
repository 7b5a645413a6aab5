"""Access-token verification rate: PyJWT vs doorkeep uncached vs doorkeep cached, in one run.

Creates one RSA-2048 key and one realistic SuperTokens-v5 access token, then times
each method as the best of 5 repeats of N verifications (N scaled so that one repeat
takes about 0.3 s) and prints a markdown table.

Run: .venv/bin/python bench/bench_token_verify.py
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import jwt as pyjwt

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


if __name__ == "__main__":
    main()
