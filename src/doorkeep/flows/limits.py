"""Rate limits as the flows use them: every flow counts its attempts here, so the JSON
API and the pages, which both call the flow, count and refuse alike."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from doorkeep.core.errors import TooManyAttemptsError
from doorkeep.ratelimit import Limit, RateLimitConfig, RateLimiter

Check = tuple[str, Limit]  # (counter key, its limit)


class Attempts:
    """Count an attempt on its counters before it is evaluated (TooManyAttemptsError
    when a limit is passed), and reset an account's counters after a success."""

    def __init__(self, limiter: RateLimiter, limits: RateLimitConfig) -> None:
        self.limiter = limiter
        self.limits = limits

    async def count(self, *checks: Check) -> TooManyAttemptsError | None:
        wait = await self.limiter.attempt(*checks)
        return None if wait is None else TooManyAttemptsError(int(wait) + 1)

    async def succeeded(self, *keys: str) -> None:
        await self.limiter.succeeded(*keys)


def client_ip(conn: HTTPConnection) -> str:
    """The address an attempt is counted against (the ASGI server's peer)."""
    return conn.client.host if conn.client else "unknown"
