"""Access-token JWTs: signing, JWKS, PyJWT interoperability, and every verification rule."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers
from cryptography.hazmat.primitives.hashes import SHA256

from doorkeep.core.jwt import (
    AccessTokenVerifier,
    ExpiredToken,
    InvalidToken,
    SigningKey,
    TokenError,
    decode_unverified,
    generate_signing_key,
    jwk,
    jwks,
    private_key_to_pem,
    sign,
    signing_key_from_pem,
)

NOW = 1_700_000_000


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return generate_signing_key("d-1", NOW * 1000)


@pytest.fixture(scope="module")
def other_key() -> SigningKey:
    return generate_signing_key("d-2", NOW * 1000)


@pytest.fixture
def verifier(key: SigningKey) -> AccessTokenVerifier:
    v = AccessTokenVerifier()
    v.set_keys([key])
    return v


def access_claims(now: int = NOW, **extra: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "sub": "user-1",
        "exp": now + 3600,
        "iat": now,
        "sessionHandle": "handle-1",
        "refreshTokenHash1": "a" * 64,
        "parentRefreshTokenHash1": None,
        "antiCsrfToken": None,
        "tId": "public",
        "rsub": "user-1",
        "role": "admin",
        "perms": ["read", "write"],
    }
    claims.update(extra)
    return claims


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: Any, claims: Any, key: SigningKey, *, raw_json: bool = False) -> str:
    """A token with an arbitrary header/payload, correctly RS256-signed with `key`."""
    if raw_json:
        h, p = b64(header.encode()), b64(claims.encode())
    else:
        h, p = b64(json.dumps(header).encode()), b64(json.dumps(claims).encode())
    signing_input = f"{h}.{p}".encode()
    assert key.private_key is not None
    return f"{h}.{p}.{b64(key.private_key.sign(signing_input, PKCS1v15(), SHA256()))}"


def rs256(key: SigningKey, **header: Any) -> dict[str, Any]:
    return {"alg": "RS256", "typ": "JWT", "kid": key.kid, **header}


# -- signing and round trips -----------------------------------------------------------------


def test_sign_verify_round_trip_preserves_claims(
    key: SigningKey, verifier: AccessTokenVerifier
) -> None:
    claims = access_claims(note="héllo ✓")
    token = sign(claims, key)
    assert verifier.verify(token, now=NOW) == claims
    header, payload = decode_unverified(token)
    assert header == {"alg": "RS256", "typ": "JWT", "kid": "d-1", "version": "5"}
    assert payload == claims
    # compact JSON, base64url without padding
    head = token.split(".")[0]
    assert "=" not in token
    assert base64.urlsafe_b64decode(head + "==") == (
        b'{"alg":"RS256","typ":"JWT","kid":"d-1","version":"5"}'
    )


def test_verified_claims_are_read_only(key: SigningKey, verifier: AccessTokenVerifier) -> None:
    token = sign(access_claims(), key)
    claims = verifier.verify(token, now=NOW)
    with pytest.raises(TypeError):
        claims["sub"] = "someone-else"  # type: ignore[index]
    assert verifier.verify(token, now=NOW)["sub"] == "user-1"
    assert dict(claims) == access_claims()


def test_extra_header_and_its_limits(key: SigningKey, verifier: AccessTokenVerifier) -> None:
    token = sign(access_claims(), key, extra_header={"stt": "1"})
    assert decode_unverified(token)[0]["stt"] == "1"
    assert verifier.verify(token, now=NOW)["sub"] == "user-1"
    for field in ("alg", "kid"):
        with pytest.raises(ValueError):
            sign(access_claims(), key, extra_header={field: "x"})


def test_verify_only_key_cannot_sign(key: SigningKey) -> None:
    public_only = SigningKey("d-1", None, key.public_key, key.created_at_ms)
    with pytest.raises(ValueError, match="verify-only"):
        sign(access_claims(), public_only)
    v = AccessTokenVerifier()
    v.set_keys([public_only])
    assert v.verify(sign(access_claims(), key), now=NOW)["sub"] == "user-1"


def test_pem_round_trip(key: SigningKey) -> None:
    assert key.private_key is not None
    loaded = signing_key_from_pem("d-1", private_key_to_pem(key.private_key), 42)
    assert loaded.created_at_ms == 42 and loaded.kid == "d-1"
    assert loaded.public_key.public_numbers() == key.public_key.public_numbers()
    v = AccessTokenVerifier()
    v.set_keys([key])
    assert v.verify(sign(access_claims(), loaded), now=NOW)["sub"] == "user-1"


def test_pem_of_a_non_rsa_key_is_refused() -> None:
    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    with pytest.raises(ValueError, match="not an RSA key"):
        signing_key_from_pem("x", pem, 0)


def test_generated_key_is_rsa_2048_e65537(key: SigningKey) -> None:
    assert key.public_key.key_size == 2048
    assert key.public_key.public_numbers().e == 65537


# -- PyJWT interoperability ------------------------------------------------------------------


def test_pyjwt_accepts_our_tokens(key: SigningKey) -> None:
    claims = access_claims(now=int(time.time()))
    decoded = pyjwt.decode(sign(claims, key), key.public_key, algorithms=["RS256"])
    assert decoded == claims


def test_we_accept_pyjwt_tokens(key: SigningKey, verifier: AccessTokenVerifier) -> None:
    claims = access_claims()
    token = pyjwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": key.kid})
    assert verifier.verify(token, now=NOW) == claims


def test_jwk_round_trips_to_the_same_public_numbers(key: SigningKey, other_key: SigningKey) -> None:
    doc = jwks([key, other_key])
    assert [k["kid"] for k in doc["keys"]] == ["d-1", "d-2"]
    entry = jwk(key)
    assert set(entry) == {"kty", "kid", "n", "e", "alg", "use"}
    assert entry["kty"] == "RSA" and entry["alg"] == "RS256" and entry["use"] == "sig"
    assert entry["e"] == "AQAB"

    def unb64(s: str) -> int:
        assert "=" not in s
        raw = base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
        assert raw[0] != 0  # minimal big-endian bytes
        return int.from_bytes(raw, "big")

    numbers = RSAPublicNumbers(unb64(entry["e"]), unb64(entry["n"]))
    assert numbers == key.public_key.public_numbers()
    # and PyJWT reads our JWK as the same key
    assert pyjwt.PyJWK(entry).key.public_numbers() == numbers


# -- rejections ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not-a-token",
        "a.b",
        "a.b.c.d",
        # an opaque (SuperTokens-style) refresh token
        "Xk1FY3Bh0-uo2qjW3M7-Vd6Uu1bgi7Q0rwkwlA3hB6dJ0v9vB5fI1cX8mrp2XwS.ZmFrZQ",
    ],
)
def test_malformed_tokens_are_invalid(verifier: AccessTokenVerifier, token: str) -> None:
    with pytest.raises(InvalidToken):
        verifier.verify(token, now=NOW)


def test_non_string_token_is_invalid(verifier: AccessTokenVerifier, key: SigningKey) -> None:
    for value in (sign(access_claims(), key).encode(), None, 42, ["a", "b"]):
        with pytest.raises(InvalidToken):
            verifier.verify(value, now=NOW)  # type: ignore[arg-type]


def test_header_must_be_a_json_object(key: SigningKey, verifier: AccessTokenVerifier) -> None:
    for header in (["RS256"], "RS256", None):
        with pytest.raises(InvalidToken, match="header is not a JSON object"):
            verifier.verify(forge(header, access_claims(), key), now=NOW)
    with pytest.raises(InvalidToken, match="not valid JSON"):
        verifier.verify(forge("{not json", json.dumps(access_claims()), key, raw_json=True))


@pytest.mark.parametrize("alg", ["none", "None", "HS256", "RS512", "rs256", "PS256", "", None])
def test_only_rs256_is_accepted(
    key: SigningKey, verifier: AccessTokenVerifier, alg: str | None
) -> None:
    # correctly RS256-signed: the header's alg alone must cause the rejection
    with pytest.raises(InvalidToken, match="algorithm"):
        verifier.verify(forge(rs256(key, alg=alg), access_claims(), key), now=NOW)


def test_missing_alg_is_rejected(key: SigningKey, verifier: AccessTokenVerifier) -> None:
    with pytest.raises(InvalidToken, match="algorithm"):
        verifier.verify(forge({"kid": key.kid}, access_claims(), key), now=NOW)


def test_alg_none_with_empty_signature(key: SigningKey, verifier: AccessTokenVerifier) -> None:
    h = b64(json.dumps({"alg": "none", "kid": key.kid}).encode())
    p = b64(json.dumps(access_claims()).encode())
    with pytest.raises(InvalidToken):
        verifier.verify(f"{h}.{p}.", now=NOW)


def test_hs256_keyed_with_the_public_pem_is_rejected(
    key: SigningKey, verifier: AccessTokenVerifier
) -> None:
    """The classic algorithm-confusion attack: HMAC keyed with the RSA public key."""
    pem = key.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    h = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": key.kid}).encode())
    p = b64(json.dumps(access_claims()).encode())
    mac = hmac.new(pem, f"{h}.{p}".encode(), hashlib.sha256).digest()
    with pytest.raises(InvalidToken):
        verifier.verify(f"{h}.{p}.{b64(mac)}", now=NOW)


def test_rs512_signed_by_pyjwt_is_rejected(key: SigningKey, verifier: AccessTokenVerifier) -> None:
    token = pyjwt.encode(
        access_claims(), key.private_key, algorithm="RS512", headers={"kid": key.kid}
    )
    with pytest.raises(InvalidToken, match="algorithm"):
        verifier.verify(token, now=NOW)


@pytest.mark.parametrize(
    "extra",
    [
        {"jku": "https://evil.example/jwks.json"},
        {"jwk": {"kty": "RSA", "n": "AQAB", "e": "AQAB"}},
        {"x5u": "https://evil.example/cert.pem"},
        {"x5c": ["MIIB"]},
        {"crit": ["exp"]},
    ],
)
def test_key_references_and_crit_are_rejected(
    key: SigningKey, verifier: AccessTokenVerifier, extra: dict[str, Any]
) -> None:
    with pytest.raises(InvalidToken, match="forbidden"):
        verifier.verify(forge(rs256(key, **extra), access_claims(), key), now=NOW)


def test_unknown_kid_says_so(
    key: SigningKey, other_key: SigningKey, verifier: AccessTokenVerifier
) -> None:
    with pytest.raises(InvalidToken, match="unknown kid 'd-2'"):
        verifier.verify(sign(access_claims(), other_key), now=NOW)
    assert verifier.has_kid("d-1") and not verifier.has_kid("d-2")


@pytest.mark.parametrize("kid", [None, 1, ["d-1"], {"k": "d-1"}])
def test_kid_must_be_a_string(key: SigningKey, verifier: AccessTokenVerifier, kid: Any) -> None:
    header = {"alg": "RS256"} if kid is None else {"alg": "RS256", "kid": kid}
    with pytest.raises(InvalidToken, match="no kid"):
        verifier.verify(forge(header, access_claims(), key), now=NOW)


def test_signature_by_another_key_with_our_kid(
    key: SigningKey, other_key: SigningKey, verifier: AccessTokenVerifier
) -> None:
    impostor = SigningKey(key.kid, other_key.private_key, other_key.public_key, 0)
    with pytest.raises(InvalidToken, match="signature"):
        verifier.verify(sign(access_claims(), impostor), now=NOW)


@pytest.mark.parametrize(
    "changes",
    [
        {"exp": None},
        {"exp": float(NOW + 3600)},
        {"exp": True},
        {"exp": str(NOW + 3600)},
        {"iat": None},
        {"iat": False},
        {"iat": float(NOW)},
        {"sub": None},
        {"sub": 7},
        {"sessionHandle": None},
        {"sessionHandle": 7},
    ],
)
def test_claim_types(key: SigningKey, verifier: AccessTokenVerifier, changes: dict) -> None:
    claims = access_claims()
    for name, value in changes.items():
        if value is None:
            del claims[name]
        else:
            claims[name] = value
    with pytest.raises(InvalidToken):
        verifier.verify(forge(rs256(key), claims, key), now=NOW)


def test_claims_must_be_a_json_object(key: SigningKey, verifier: AccessTokenVerifier) -> None:
    for claims in ([1, 2], "sub", 3):
        with pytest.raises(InvalidToken, match="payload is not a JSON object"):
            verifier.verify(forge(rs256(key), claims, key), now=NOW)


def test_signed_token_without_session_handle_is_not_an_access_token(
    key: SigningKey, verifier: AccessTokenVerifier
) -> None:
    claims = {"sub": "user-1", "exp": NOW + 60, "iat": NOW}  # e.g. some other JWT of ours
    with pytest.raises(InvalidToken, match="sessionHandle"):
        verifier.verify(sign(claims, key), now=NOW)


def test_json_with_surrounding_whitespace_is_accepted(
    key: SigningKey, verifier: AccessTokenVerifier
) -> None:
    token = forge(
        " " + json.dumps(rs256(key), indent=1) + "\n",
        json.dumps(access_claims(), indent=2) + " ",
        key,
        raw_json=True,
    )
    assert verifier.verify(token, now=NOW)["sub"] == "user-1"


# -- base64url strictness --------------------------------------------------------------------


def _with_char(token: str, part: int, char: str, at: int = 5) -> str:
    parts = token.split(".")
    parts[part] = parts[part][:at] + char + parts[part][at:]
    return ".".join(parts)


@pytest.mark.parametrize("count", [1, 4])  # 4 keeps the length a multiple of 4
@pytest.mark.parametrize("char", ["!", " ", "\n", "=", "+", "/", "é", "\x00"])
@pytest.mark.parametrize("part", [0, 1, 2])
def test_invalid_base64url_characters_are_rejected(
    key: SigningKey, verifier: AccessTokenVerifier, char: str, part: int, count: int
) -> None:
    token = sign(access_claims(), key)
    bad = _with_char(token, part, char * count)
    with pytest.raises(InvalidToken):
        verifier.verify(bad, now=NOW)
    # even before the signature is looked at: a lenient decoder would skip the char
    if part < 2:
        with pytest.raises(InvalidToken):
            decode_unverified(bad)


def test_standard_base64_alphabet_and_padding_are_rejected(
    key: SigningKey, verifier: AccessTokenVerifier
) -> None:
    token = sign(access_claims(), key)
    head, payload, sig = token.split(".")
    std_sig = sig.replace("-", "+").replace("_", "/")
    if std_sig != sig:
        with pytest.raises(InvalidToken):
            verifier.verify(f"{head}.{payload}.{std_sig}", now=NOW)
    with pytest.raises(InvalidToken):
        verifier.verify(f"{head}.{payload}.{sig}==", now=NOW)


def test_non_canonical_base64url_is_rejected(
    key: SigningKey, verifier: AccessTokenVerifier
) -> None:
    """A 256-byte signature leaves 4 unused bits: the token has only one valid spelling."""
    token = sign(access_claims(), key)
    head, payload, sig = token.split(".")
    assert len(sig) % 4 == 2
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin = alphabet[alphabet.index(sig[-1]) | 1]  # same decoded bytes, a low bit set
    with pytest.raises(InvalidToken, match="base64url"):
        verifier.verify(f"{head}.{payload}.{sig[:-1]}{twin}", now=NOW)


# -- expiry ----------------------------------------------------------------------------------


def test_expired_token_uncached(key: SigningKey, verifier: AccessTokenVerifier) -> None:
    claims = access_claims()
    token = sign(claims, key)
    with pytest.raises(ExpiredToken) as info:
        verifier.verify(token, now=claims["exp"])  # exp <= now: expired
    assert dict(info.value.claims) == claims
    assert isinstance(info.value, TokenError)
    assert token not in verifier._cache  # only successfully verified tokens are cached
    assert verifier.verify(token, now=claims["exp"] - 1) == claims


def test_expired_token_after_being_cached(key: SigningKey, verifier: AccessTokenVerifier) -> None:
    claims = access_claims()
    token = sign(claims, key)
    assert verifier.verify(token, now=NOW) == claims
    assert token in verifier._cache
    with pytest.raises(ExpiredToken) as info:
        verifier.verify(token, now=claims["exp"] + 0.5)
    assert info.value.claims["sessionHandle"] == "handle-1"
    with pytest.raises(ExpiredToken):
        verifier.verify(token, now=claims["exp"] + 10)


def test_default_now_is_the_current_time(key: SigningKey, verifier: AccessTokenVerifier) -> None:
    fresh = sign(access_claims(now=int(time.time())), key)
    assert verifier.verify(fresh)["sub"] == "user-1"
    assert verifier.verify(fresh)["sub"] == "user-1"  # cached
    stale = sign(access_claims(now=int(time.time()) - 7200), key)
    with pytest.raises(ExpiredToken):
        verifier.verify(stale)


def test_leeway(key: SigningKey) -> None:
    v = AccessTokenVerifier(leeway_seconds=30)
    v.set_keys([key])
    claims = access_claims()
    token = sign(claims, key)
    assert v.verify(token, now=claims["exp"] + 29)["sub"] == "user-1"
    assert v.verify(token, now=claims["exp"] + 29)["sub"] == "user-1"  # cached
    with pytest.raises(ExpiredToken):
        v.verify(token, now=claims["exp"] + 30)
    with pytest.raises(ValueError):
        AccessTokenVerifier(leeway_seconds=-1)


# -- the cache -------------------------------------------------------------------------------


def test_tampered_payload_is_rejected_after_the_original_was_cached(
    key: SigningKey, verifier: AccessTokenVerifier
) -> None:
    token = sign(access_claims(), key)
    verifier.verify(token, now=NOW)
    head, payload, sig = token.split(".")
    i = len(payload) // 2
    flipped = payload[:i] + ("B" if payload[i] == "A" else "A") + payload[i + 1 :]
    with pytest.raises(InvalidToken):
        verifier.verify(f"{head}.{flipped}.{sig}", now=NOW)
    forged = b64(json.dumps(access_claims(sub="admin")).encode())
    with pytest.raises(InvalidToken, match="signature"):
        verifier.verify(f"{head}.{forged}.{sig}", now=NOW)
    assert verifier.verify(token, now=NOW)["sub"] == "user-1"


def test_set_keys_without_the_old_key_fails_cached_tokens(
    key: SigningKey, other_key: SigningKey, verifier: AccessTokenVerifier
) -> None:
    token = sign(access_claims(), key)
    verifier.verify(token, now=NOW)
    verifier.set_keys([other_key])
    assert not verifier.has_kid(key.kid) and verifier.has_kid(other_key.kid)
    with pytest.raises(InvalidToken, match="unknown kid"):
        verifier.verify(token, now=NOW)
    verifier.set_keys([key, other_key])
    assert verifier.verify(token, now=NOW)["sub"] == "user-1"


def test_cache_is_bounded_and_evicts_oldest(key: SigningKey) -> None:
    v = AccessTokenVerifier(cache_size=2)
    v.set_keys([key])
    tokens = [sign(access_claims(sessionHandle=f"h-{i}"), key) for i in range(3)]
    for token in tokens:
        v.verify(token, now=NOW)
        assert len(v._cache) <= 2
    assert list(v._cache) == tokens[1:]
    assert v.verify(tokens[0], now=NOW)["sessionHandle"] == "h-0"  # re-verified in full
    assert len(v._cache) == 2


def test_cache_size_zero_disables_caching(key: SigningKey) -> None:
    v = AccessTokenVerifier(cache_size=0)
    v.set_keys([key])
    token = sign(access_claims(), key)
    assert v.verify(token, now=NOW)["sub"] == "user-1"
    assert v.verify(token, now=NOW)["sub"] == "user-1"
    assert len(v._cache) == 0


def test_forget(key: SigningKey, verifier: AccessTokenVerifier) -> None:
    token = sign(access_claims(), key)
    verifier.verify(token, now=NOW)
    verifier.forget(token)
    assert token not in verifier._cache
    verifier.forget(token)  # absent: no error
    assert verifier.verify(token, now=NOW)["sub"] == "user-1"


def test_invalid_tokens_are_not_cached(key: SigningKey, verifier: AccessTokenVerifier) -> None:
    bad = forge(rs256(key), {"sub": "x", "exp": NOW + 60, "iat": NOW}, key)
    for _ in range(2):
        with pytest.raises(InvalidToken):
            verifier.verify(bad, now=NOW)
    assert len(verifier._cache) == 0


# -- decode_unverified -----------------------------------------------------------------------


def test_decode_unverified(key: SigningKey, other_key: SigningKey) -> None:
    header, claims = decode_unverified(sign(access_claims(), other_key))  # any key
    assert header["kid"] == "d-2" and claims == access_claims()
    for bad in ("", "a.b", "e30.e30", "W10.e30.x", "e30.W10.x", "%%%.e30.x"):
        with pytest.raises(InvalidToken):
            decode_unverified(bad)
    assert decode_unverified("e30.e30.") == ({}, {})
