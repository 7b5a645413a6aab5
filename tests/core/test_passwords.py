"""Password hashing, imported-hash verification and the password policy (real hashing)."""

from __future__ import annotations

import asyncio
import importlib.resources
import re
import threading
from collections.abc import Iterator
from typing import Any

import bcrypt
import pytest
from argon2.low_level import Type, hash_secret

from doorkeep.core.passwords import (
    InvalidPasswordHash,
    PasswordCheck,
    PasswordHasher,
    PasswordPolicy,
    identify_algorithm,
    validate_imported_hash,
)

# Firebase's published test vector (github.com/firebase/scrypt README).
FB_SIGNER_KEY = (
    "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA=="
)
FB_HASH_B64 = (
    "lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ=="
)
FB_HASH = f"$f_scrypt${FB_HASH_B64}$42xEC+ixf3L2lw==$m=14$r=8$s=Bw=="
FB_PASSWORD = "user1password"

OK_FRESH = PasswordCheck(ok=True, needs_rehash=False)
OK_STALE = PasswordCheck(ok=True, needs_rehash=True)
FAILED = PasswordCheck(ok=False, needs_rehash=False)


@pytest.fixture
def hasher() -> Iterator[PasswordHasher]:
    h = PasswordHasher(firebase_signer_key=FB_SIGNER_KEY, max_workers=2)
    yield h
    h.close()


def bcrypt_hash(password: str, prefix: str = "$2b$") -> str:
    stored = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    return prefix + stored[4:]


def argon2_hash(password: str, type: Type, *, t: int = 2, m: int = 19456) -> str:
    salt = b"0123456789abcdef"
    return hash_secret(password.encode(), salt, t, m, 1, 32, type).decode()


# --- Argon2id -------------------------------------------------------------------------------


async def test_argon2id_format_salted_and_verifies(hasher: PasswordHasher) -> None:
    first = await hasher.hash("correct horse")
    second = await hasher.hash("correct horse")
    assert re.fullmatch(
        r"\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}", first
    )
    assert first != second
    assert await hasher.verify(first, "correct horse") == OK_FRESH
    assert await hasher.verify(second, "correct horse") == OK_FRESH
    assert await hasher.verify(first, "correct horsE") == FAILED


def test_no_truncation_past_72_bytes(hasher: PasswordHasher) -> None:
    long = "p" * 100
    stored = hasher.hash_sync(long)
    assert hasher.verify_sync(stored, long).ok
    assert not hasher.verify_sync(stored, long + "x").ok
    assert not hasher.verify_sync(stored, long[:72]).ok


def test_unicode_password_is_hashed_exactly_as_given(hasher: PasswordHasher) -> None:
    composed, decomposed = "caf\u00e9-caf\u00e9", "cafe\u0301-cafe\u0301"
    stored = hasher.hash_sync(composed)
    assert hasher.verify_sync(stored, composed).ok
    assert not hasher.verify_sync(stored, decomposed).ok  # no normalisation before hashing


async def test_non_str_password_is_a_type_error(hasher: PasswordHasher) -> None:
    with pytest.raises(TypeError):
        await hasher.hash(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        await hasher.verify(hasher.hash_sync("x"), None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"time_cost": 1}, "time_cost"),
        ({"memory_cost": 19455}, "memory_cost"),
        ({"memory_cost": 4096, "time_cost": 3}, "memory_cost"),
        ({"parallelism": 0}, "parallelism"),
        ({"max_workers": 0}, "max_workers"),
        ({"firebase_signer_key": "not base64!"}, "firebase_signer_key"),
    ],
)
def test_weak_or_bad_parameters_are_refused(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        PasswordHasher(**kwargs)  # type: ignore[arg-type]


# --- needs_rehash ---------------------------------------------------------------------------


@pytest.mark.parametrize("variant", [Type.I, Type.D])
def test_argon2i_and_argon2d_verify_and_need_rehash(hasher: PasswordHasher, variant: Type) -> None:
    stored = argon2_hash("s3cret-pass", variant)
    assert stored.startswith(f"$argon2{'i' if variant == Type.I else 'd'}$")
    assert hasher.verify_sync(stored, "s3cret-pass") == OK_STALE
    assert hasher.verify_sync(stored, "s3cret-pasS") == FAILED


def test_argon2id_params_decide_needs_rehash(hasher: PasswordHasher) -> None:
    assert hasher.verify_sync(argon2_hash("pw-pw-pw", Type.ID, t=1), "pw-pw-pw") == OK_STALE
    assert hasher.verify_sync(argon2_hash("pw-pw-pw", Type.ID, m=8192), "pw-pw-pw") == OK_STALE
    assert hasher.verify_sync(argon2_hash("pw-pw-pw", Type.ID), "pw-pw-pw") == OK_FRESH
    stronger = PasswordHasher(time_cost=3)
    try:
        assert stronger.verify_sync(hasher.hash_sync("pw-pw-pw"), "pw-pw-pw") == OK_STALE
    finally:
        stronger.close()


# --- bcrypt ---------------------------------------------------------------------------------


async def test_bcrypt_verifies_and_needs_rehash(hasher: PasswordHasher) -> None:
    stored = bcrypt_hash("hunter2-hunter2")
    assert await hasher.verify(stored, "hunter2-hunter2") == OK_STALE
    assert await hasher.verify(stored, "hunter2-hunter3") == FAILED


@pytest.mark.parametrize("prefix", ["$2a$", "$2x$", "$2y$"])
def test_bcrypt_prefix_variants_verify(hasher: PasswordHasher, prefix: str) -> None:
    stored = bcrypt_hash("php-made-this", prefix)
    assert stored.startswith(prefix)
    assert hasher.verify_sync(stored, "php-made-this") == OK_STALE
    assert hasher.verify_sync(stored, "php-made-that") == FAILED


def test_bcrypt_password_over_72_bytes_fails_without_exception(hasher: PasswordHasher) -> None:
    long = "é" * 50  # 100 bytes in UTF-8
    stored = bcrypt_hash("a" * 72)
    assert hasher.verify_sync(stored, long) == FAILED
    # Not even the matching 72-byte prefix plus more: nothing is silently truncated.
    assert hasher.verify_sync(stored, "a" * 100) == FAILED
    assert hasher.verify_sync(stored, "a" * 72) == OK_STALE


# --- Firebase scrypt ------------------------------------------------------------------------


async def test_firebase_vector_verifies(hasher: PasswordHasher) -> None:
    assert await hasher.verify(FB_HASH, FB_PASSWORD) == OK_STALE
    assert await hasher.verify(FB_HASH, "user2password") == FAILED


def test_firebase_tampered_hash_fails(hasher: PasswordHasher) -> None:
    flipped = FB_HASH.replace("$lSrf", "$lSrg")
    assert hasher.verify_sync(flipped, FB_PASSWORD) == FAILED
    other_salt = FB_HASH.replace("42xEC", "42xED")
    assert hasher.verify_sync(other_salt, FB_PASSWORD) == FAILED
    other_rounds = FB_HASH.replace("$r=8$", "$r=7$")
    assert hasher.verify_sync(other_rounds, FB_PASSWORD) == FAILED


def test_firebase_without_signer_key_fails_quietly() -> None:
    plain = PasswordHasher()
    try:
        assert plain.verify_sync(FB_HASH, FB_PASSWORD) == FAILED
    finally:
        plain.close()


# --- unusable stored hashes -----------------------------------------------------------------

GARBAGE = [
    "",
    "plaintext-password",
    "$argon2id$garbage",
    "$argon2id$v=19$m=19456,t=2,p=1$!!!!$????",
    "$2b$04$tooshort",
    "$2b$03$" + "a" * 53,  # cost below 4
    "$2b$\u0661\u0662$" + "a" * 53,  # Arabic-Indic digits
    "$f_scrypt$garbage",
    FB_HASH.replace("$m=14$", "$m=99$"),
    FB_HASH.replace("$m=14$", "$m=" + "9" * 5000 + "$"),
    "$pbkdf2-sha256$29000$abc$def",
]


@pytest.mark.parametrize("stored", GARBAGE)
def test_unusable_stored_hash_never_raises(hasher: PasswordHasher, stored: str) -> None:
    assert hasher.verify_sync(stored, FB_PASSWORD) == FAILED


async def test_unusable_stored_hash_async(hasher: PasswordHasher) -> None:
    assert await hasher.verify(None, "whatever-pw") == FAILED  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ("$argon2id$v=19$...", "argon2"),
        ("$argon2i$v=19$...", "argon2"),
        ("$argon2d$v=19$...", "argon2"),
        ("$2a$10$...", "bcrypt"),
        ("$2y$10$...", "bcrypt"),
        ("$f_scrypt$...", "firebase_scrypt"),
        ("$argon2$...", None),
        ("$2c$10$...", None),
        ("plain", None),
    ],
)
def test_identify_algorithm(stored: str, expected: str | None) -> None:
    assert identify_algorithm(stored) == expected


# --- validate_imported_hash -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "algorithm"),
    [
        (lambda: bcrypt_hash("x"), None),
        (lambda: bcrypt_hash("x"), "BCRYPT"),
        (lambda: bcrypt_hash("x", "$2y$"), "bcrypt"),
        (lambda: argon2_hash("x", Type.ID), None),
        (lambda: argon2_hash("x", Type.I), "argon2"),
        (lambda: argon2_hash("x", Type.D), "Argon2"),
        (lambda: FB_HASH, None),
        (lambda: FB_HASH, "firebase_scrypt"),
    ],
)
def test_validate_imported_hash_accepts(make: object, algorithm: str | None) -> None:
    stored = make()  # type: ignore[operator]
    assert validate_imported_hash(stored, algorithm) == stored
    assert validate_imported_hash(f"  {stored}\n", algorithm) == stored


@pytest.mark.parametrize(
    ("stored", "algorithm", "message"),
    [
        ("", None, "Unrecognised"),
        ("hello", None, "Unrecognised"),
        ("hello", "bcrypt", "Invalid bcrypt hash"),
        ("$2b$12$tooshort", None, "Invalid bcrypt hash"),
        ("$2b$32$" + "a" * 53, "bcrypt", "cost"),
        ("$2b$04$" + "a" * 53, "argon2", "looks like bcrypt, not argon2"),
        (FB_HASH, "bcrypt", "looks like firebase_scrypt"),
        ("$2b$04$" + "a" * 53, "md5", "Unsupported hashing algorithm"),
        ("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", None, "too short"),
        ("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA!", None, "Invalid argon2"),
        ("$argon2id$v=18$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g", None, "version"),
        ("$argon2id$v=19$m=9999999,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g", None, "out of range"),
        ("$argon2id$v=19$m=" + "9" * 5000 + ",t=2,p=1$c2FsdHNhbHQ$aGFzaA", None, "argon2"),
        (FB_HASH.replace("$m=14$", "$m=15$"), None, "m must be"),
        (FB_HASH.replace("$r=8$", "$r=0$"), None, "r must be"),
        (FB_HASH.replace("42xEC+ixf3L2lw==", "42xEC+ixf3L2lw="), None, "base64"),
        ("$f_scrypt$AAAA$c2FsdA==$m=14$r=8$s=Bw==", None, "too short"),
    ],
)
def test_validate_imported_hash_rejects(stored: str, algorithm: str | None, message: str) -> None:
    with pytest.raises(InvalidPasswordHash, match=re.escape(message)):
        validate_imported_hash(stored, algorithm)


def test_invalid_password_hash_is_a_value_error() -> None:
    assert issubclass(InvalidPasswordHash, ValueError)


# --- concurrency and timing -----------------------------------------------------------------


def _pool_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("doorkeep-passwords")}


async def test_hashing_runs_on_worker_threads_and_loop_stays_responsive(
    hasher: PasswordHasher,
) -> None:
    before = _pool_threads()
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            await asyncio.sleep(0.001)
            ticks += 1

    task = asyncio.create_task(ticker())
    first, second = await asyncio.gather(hasher.hash("first-password"), hasher.hash("second-pw"))
    done.set()
    await task
    assert len(_pool_threads() - before) == 2  # both hashes got a thread of their own
    assert ticks >= 5  # each hash takes tens of ms; a blocked loop would not tick at all
    assert hasher.verify_sync(first, "first-password").ok
    assert hasher.verify_sync(second, "second-pw").ok


async def test_close_stops_the_pool() -> None:
    h = PasswordHasher(max_workers=1)
    await h.hash("warm-up-pw")
    h.close()
    with pytest.raises(RuntimeError):
        await h.hash("after-close")


async def test_dummy_verify_costs_like_a_real_verify(hasher: PasswordHasher) -> None:
    """The same work, counted rather than timed: a dummy verification runs exactly one
    Argon2id verification at the parameters of a real stored hash, and never succeeds.
    Fails if the dummy is a shortcut (mutant: `dummy_verify` returns at once) or cheaper
    (mutant: the dummy hash made with t=1)."""
    stored = await hasher.hash("real-password")
    checked: list[str] = []
    verify = hasher._verify_argon2

    def counted(stored_hash: str, secret: bytes) -> Any:
        checked.append("$".join(stored_hash.split("$")[1:4]))  # argon2id, v=19, m=…,t=…,p=…
        return verify(stored_hash, secret)

    hasher._verify_argon2 = counted  # type: ignore[method-assign]
    assert not (await hasher.verify(stored, "wrong-password")).ok
    real = list(checked)
    checked.clear()
    assert await hasher.dummy_verify("wrong-password") is None
    assert await hasher.dummy_verify("real-password") is None
    assert real == ["$".join(stored.split("$")[1:4])]
    assert checked == real * 2


# --- PasswordPolicy -------------------------------------------------------------------------

POLICY = PasswordPolicy()


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("a" * 7 + "Z", None),
        ("a" * 6 + "Z", "Password must be at least 8 characters long."),
        ("aB3" * 42 + "xy", None),  # 128
        ("aB3" * 43, "Password must be at most 128 characters long."),  # 129
        ("x" * 10_000, "Password must be at most 128 characters long."),
        (12345678, "Password must be a string."),
        (None, "Password must be a string."),
        (b"bytes-password", "Password must be a string."),
        ("password123", "This password is too common. Please choose another one."),
        ("PassWord123", "This password is too common. Please choose another one."),
        ("ILOVEYOU", "This password is too common. Please choose another one."),
        ("qwertyuiop", "This password is too common. Please choose another one."),
        ("12345678", "This password is too common. Please choose another one."),
        ("purple elephants dance quietly", None),  # no composition rules
        ("\U0001f512" * 8, None),  # 8 code points (32 UTF-8 bytes, 16 UTF-16 units)
        ("\U0001f512" * 7, "Password must be at least 8 characters long."),
        ("e\u0301" * 4, "Password must be at least 8 characters long."),  # 4 after NFC
    ],
)
def test_policy(password: object, message: str | None) -> None:
    assert POLICY.validate(password) == message


def test_policy_options() -> None:
    assert PasswordPolicy(reject_common=False).validate("password123") is None
    assert PasswordPolicy(min_length=1, max_length=1).validate("x") is None
    assert PasswordPolicy(min_length=12).validate("abcdefghijk") == (
        "Password must be at least 12 characters long."
    )
    with pytest.raises(ValueError):
        PasswordPolicy(min_length=0)
    with pytest.raises(ValueError):
        PasswordPolicy(min_length=10, max_length=9)


def test_common_password_list_shape() -> None:
    path = importlib.resources.files("doorkeep") / "data" / "common-passwords.txt"
    entries = path.read_text(encoding="utf-8").splitlines()
    assert len(entries) >= 1000
    assert len(set(entries)) == len(entries)
    assert all(e == e.lower() and len(e) >= 8 and e.strip() == e for e in entries)
    for well_known in ("password", "iloveyou", "123456789", "football1", "sunshine1"):
        assert well_known in entries
