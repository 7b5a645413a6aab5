"""The JWT recipe's core: a caller's payload signed with the app's keys, checked here
against the published JWKS the way any third party would check it."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers
from cryptography.hazmat.primitives.hashes import SHA256

from doorkeep import Doorkeep
from doorkeep.core.jwt_issuer import UnsupportedAlgorithm
from tests.core.conftest import Clock


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


async def checked_by_jwks(dk: Doorkeep, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, claims) of `token` once its signature checks against the JWKS."""
    head, body, signature = token.split(".")
    header = json.loads(_b64(head))
    published = {k["kid"]: k for k in (await dk.core.public.keys.jwks())["keys"]}
    jwk = published[header["kid"]]
    public = RSAPublicNumbers(
        int.from_bytes(_b64(jwk["e"]), "big"), int.from_bytes(_b64(jwk["n"]), "big")
    ).public_key()
    public.verify(_b64(signature), f"{head}.{body}".encode(), PKCS1v15(), SHA256())  # raises
    return header, json.loads(_b64(body))


async def test_a_payload_signed_with_a_static_or_a_dynamic_key(dk: Doorkeep, clock: Clock) -> None:
    issuer = dk.core.public.jwt
    static = await issuer.create(
        {"role": "reporter", "n": 1}, validity_seconds=60, issuer="https://api.example.com"
    )
    assert isinstance(static, str)
    header, claims = await checked_by_jwks(dk, static)
    assert header["alg"] == "RS256" and header["kid"].startswith("s-")
    now = int(clock.now)
    assert claims == {
        "role": "reporter",
        "n": 1,
        "iss": "https://api.example.com",
        "iat": now,
        "exp": now + 60,
    }

    dynamic = await issuer.create({"iss": "mine"}, validity_seconds=0.5, use_static_key=False)
    assert isinstance(dynamic, str)
    header, claims = await checked_by_jwks(dk, dynamic)
    assert header["kid"].startswith("d-")
    assert claims["iss"] == "mine"  # the payload's own issuer stays
    assert claims["exp"] == now + 1  # whole seconds, rounded up


async def test_what_the_recipe_refuses(dk: Doorkeep) -> None:
    issuer = dk.core.public.jwt
    assert await issuer.create({}, validity_seconds=60, algorithm="HS256") == (
        UnsupportedAlgorithm("HS256")
    )
    for validity in (0, -5, float("nan"), float("inf"), True, 2**63):
        with pytest.raises(ValueError, match="validity"):
            await issuer.create({}, validity_seconds=validity)
    with pytest.raises(ValueError, match="JSON"):
        await issuer.create({"x": float("nan")}, validity_seconds=60)
    with pytest.raises(ValueError, match="JSON"):
        await issuer.create({"x": object()}, validity_seconds=60)
