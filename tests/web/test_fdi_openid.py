"""The FDI's OpenID discovery document and JWKS: a third party given only the issuer
finds the keys and checks a JWT doorkeep signed (issue 19 item 3)."""

from __future__ import annotations

import base64
import json

import httpx
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers
from cryptography.hazmat.primitives.hashes import SHA256

from doorkeep import Doorkeep, Settings
from doorkeep.serve.server import create_app


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


async def test_discovery_leads_to_the_keys_that_check_a_jwt(database_url: str) -> None:
    settings = Settings(
        database_url=database_url, api_domain="https://api.example.com", api_base_path="/auth"
    )
    async with Doorkeep(settings) as dk:
        token = await dk.jwt.create_jwt({"scope": "reports"}, 60)
        assert isinstance(token, str)
        transport = httpx.ASGITransport(app=create_app(dk))
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
            found = await http.get("/auth/.well-known/openid-configuration")
            assert found.status_code == 200
            document = found.json()
            assert document["issuer"] == "https://api.example.com/auth"
            assert document["jwks_uri"] == "https://api.example.com/auth/jwt/jwks.json"
            keys = (await http.get("/auth/jwt/jwks.json")).json()["keys"]

    head, body, signature = token.split(".")
    claims = json.loads(_b64(body))
    assert claims["iss"] == document["issuer"] and claims["scope"] == "reports"
    jwk = next(k for k in keys if k["kid"] == json.loads(_b64(head))["kid"])
    public = RSAPublicNumbers(
        int.from_bytes(_b64(jwk["e"]), "big"), int.from_bytes(_b64(jwk["n"]), "big")
    ).public_key()
    public.verify(_b64(signature), f"{head}.{body}".encode(), PKCS1v15(), SHA256())
