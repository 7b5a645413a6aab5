"""JWTs of the caller's making (SuperTokens' JWT recipe): any JSON payload, signed with
the app's access-token keys, so that whoever checks access tokens against the JWKS can
check these too. No HTTP here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from doorkeep.core.common import now_ms
from doorkeep.core.jwt import sign
from doorkeep.core.keys import KeyService

SUPPORTED_ALGORITHMS = ("RS256",)
# `exp` stays a whole number of seconds a verifier can hold in a signed 64-bit integer.
_MAX_VALIDITY_SECONDS = 2**62


@dataclass(frozen=True)
class UnsupportedAlgorithm:
    """The CDI's UNSUPPORTED_ALGORITHM_ERROR: doorkeep signs with RS256 only."""

    algorithm: str


class JwtIssuer:
    def __init__(self, keys: KeyService) -> None:
        self.keys = keys

    async def create(
        self,
        payload: Mapping[str, Any],
        *,
        validity_seconds: float,
        use_static_key: bool = True,
        issuer: str | None = None,
        algorithm: str = "RS256",
    ) -> str | UnsupportedAlgorithm:
        """A JWT of `payload` with `iat` now and `exp` `validity_seconds` later, and `iss`
        = `issuer` unless the payload names its own. Static keys are never rotated, so a
        long-lived JWT stays verifiable; dynamic keys retire after their rotation."""
        if algorithm not in SUPPORTED_ALGORITHMS:
            return UnsupportedAlgorithm(algorithm)
        if not isinstance(payload, Mapping):
            raise ValueError("payload must be a JSON object")
        if (
            isinstance(validity_seconds, bool)
            or not isinstance(validity_seconds, int | float)
            or not math.isfinite(validity_seconds)
            or not 0 < validity_seconds <= _MAX_VALIDITY_SECONDS
        ):
            raise ValueError("validity must be a positive number of seconds")
        claims = dict(payload)
        if issuer is not None:
            claims.setdefault("iss", issuer)
        now = now_ms() // 1000
        claims["iat"] = now
        claims["exp"] = now + math.ceil(validity_seconds)
        key = await self.keys.signing_key(static=use_static_key)
        try:
            return sign(claims, key)
        except (TypeError, ValueError) as exc:  # not JSON: NaN, objects, ...
            raise ValueError(f"payload must be JSON: {exc}") from None
