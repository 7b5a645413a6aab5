"""Password hashing, verification of imported hashes, and the password policy.

New passwords are hashed with Argon2id. Imported users may carry bcrypt, other Argon2
variants, or Firebase's modified scrypt; those verify, and ask to be rehashed on login.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import hashlib
import hmac
import importlib.resources
import os
import re
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal, NamedTuple, TypeVar

import argon2
import bcrypt
from argon2.exceptions import Argon2Error, InvalidHashError
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

Algorithm = Literal["argon2", "bcrypt", "firebase_scrypt"]
_T = TypeVar("_T")

# OWASP Password Storage Cheat Sheet minimum for Argon2id.
MIN_TIME_COST = 2
MIN_MEMORY_COST = 19456  # KiB
MIN_PARALLELISM = 1

# re.ASCII: \d must not match other scripts' digits (int() would accept them); bounded
# digit counts keep int() fast and below its 4300-digit ValueError.
_BCRYPT_RE = re.compile(r"\$(2[abxy])\$(\d\d)\$[./A-Za-z0-9]{53}", re.ASCII)
_ARGON2_RE = re.compile(
    r"\$(argon2id|argon2i|argon2d)\$(?:v=(\d{1,3})\$)?m=(\d{1,10}),t=(\d{1,10}),p=(\d{1,10})"
    r"\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)",
    re.ASCII,
)
_FIREBASE_RE = re.compile(
    r"\$f_scrypt\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)\$m=(\d{1,3})\$r=(\d{1,3})\$s=([A-Za-z0-9+/=]*)",
    re.ASCII,
)
# Imported Argon2 hashes are verified on every login: refuse parameters that would make
# each login a denial of service (1 GiB is far beyond any sane login hash).
_ARGON2_MAX_MEMORY = 1 << 20  # KiB
_ARGON2_MAX_TIME = 64
_ARGON2_MAX_PARALLELISM = 64
# Firebase Admin SDK ranges (its rounds may be 0, but scrypt itself needs r >= 1).
_FIREBASE_MAX_MEM_COST = 14
_FIREBASE_MAX_ROUNDS = 8


class InvalidPasswordHash(ValueError):
    """An imported password hash that we cannot parse or that contradicts its algorithm."""


@dataclass(frozen=True)
class PasswordCheck:
    """The outcome of a verification."""

    ok: bool  # password matched
    needs_rehash: bool  # matched, but the stored hash is not Argon2id at the current parameters


_FAILED = PasswordCheck(ok=False, needs_rehash=False)


class _FirebaseHash(NamedTuple):
    hash: bytes
    salt: bytes
    mem_cost: int
    rounds: int
    salt_separator: bytes


def _b64(value: str, *, padded: bool = True) -> bytes:
    """Strict standard base64; Argon2 omits the padding, so add it back before decoding."""
    if not padded:
        value += "=" * (-len(value) % 4)
    return base64.b64decode(value, validate=True)


def identify_algorithm(stored_hash: str) -> Algorithm | None:
    """Name the algorithm of a stored hash by its prefix (this does not validate the rest)."""
    if not isinstance(stored_hash, str):
        return None
    if stored_hash.startswith(("$argon2id$", "$argon2i$", "$argon2d$")):
        return "argon2"
    if stored_hash.startswith(("$2a$", "$2b$", "$2x$", "$2y$")):
        return "bcrypt"
    if stored_hash.startswith("$f_scrypt$"):
        return "firebase_scrypt"
    return None


def _check_bcrypt(value: str) -> None:
    match = _BCRYPT_RE.fullmatch(value)
    if match is None:
        raise InvalidPasswordHash("Invalid bcrypt hash: expected 60 characters like $2b$12$...")
    if not 4 <= int(match[2]) <= 31:
        raise InvalidPasswordHash("Invalid bcrypt hash: cost must be between 04 and 31.")


def _check_argon2(value: str) -> None:
    match = _ARGON2_RE.fullmatch(value)
    if match is None:
        raise InvalidPasswordHash(
            "Invalid argon2 hash: expected $argon2id$v=19$m=<memory>,t=<time>,p=<lanes>$salt$hash."
        )
    if match[2] not in (None, "16", "19"):
        raise InvalidPasswordHash("Invalid argon2 hash: version must be 16 or 19.")
    memory, time, lanes = int(match[3]), int(match[4]), int(match[5])
    if not (
        1 <= lanes <= _ARGON2_MAX_PARALLELISM
        and 1 <= time <= _ARGON2_MAX_TIME
        and 8 * lanes <= memory <= _ARGON2_MAX_MEMORY
    ):
        raise InvalidPasswordHash("Invalid argon2 hash: m, t or p out of range.")
    try:
        salt, tag = _b64(match[6], padded=False), _b64(match[7], padded=False)
    except (binascii.Error, ValueError):
        raise InvalidPasswordHash("Invalid argon2 hash: salt or hash is not base64.") from None
    if len(salt) < 8 or len(tag) < 4:  # Argon2's own minimums
        raise InvalidPasswordHash("Invalid argon2 hash: salt or hash too short.")


def _parse_firebase(value: str) -> _FirebaseHash:
    match = _FIREBASE_RE.fullmatch(value)
    if match is None:
        raise InvalidPasswordHash(
            "Invalid firebase_scrypt hash: expected "
            "$f_scrypt$<hash>$<salt>$m=<mem_cost>$r=<rounds>$s=<salt separator>."
        )
    try:
        digest, salt, separator = _b64(match[1]), _b64(match[2]), _b64(match[5])
    except (binascii.Error, ValueError):
        raise InvalidPasswordHash("Invalid firebase_scrypt hash: bad base64.") from None
    mem_cost, rounds = int(match[3]), int(match[4])
    if not 1 <= mem_cost <= _FIREBASE_MAX_MEM_COST:
        raise InvalidPasswordHash("Invalid firebase_scrypt hash: m must be between 1 and 14.")
    if not 1 <= rounds <= _FIREBASE_MAX_ROUNDS:
        raise InvalidPasswordHash("Invalid firebase_scrypt hash: r must be between 1 and 8.")
    # A short stored hash would mean comparing only a few bytes: refuse it.
    if len(digest) < 16 or not salt:
        raise InvalidPasswordHash("Invalid firebase_scrypt hash: hash or salt too short.")
    return _FirebaseHash(digest, salt, mem_cost, rounds, separator)


_CHECKERS = {"argon2": _check_argon2, "bcrypt": _check_bcrypt, "firebase_scrypt": _parse_firebase}


def validate_imported_hash(password_hash: str, hashing_algorithm: str | None) -> str:
    """Check a hash given for user import and return the string to store.

    ``hashing_algorithm`` is None (infer from the prefix) or one of argon2, bcrypt,
    firebase_scrypt, in any case. Raises InvalidPasswordHash with a readable message.
    """
    if not isinstance(password_hash, str):
        raise InvalidPasswordHash("Password hash must be a string.")
    value = password_hash.strip()  # whitespace is never part of these formats (CSV leftovers)
    detected = identify_algorithm(value)
    declared = hashing_algorithm.lower() if isinstance(hashing_algorithm, str) else None
    if hashing_algorithm is not None and declared not in _CHECKERS:
        raise InvalidPasswordHash(
            "Unsupported hashing algorithm: use argon2, bcrypt or firebase_scrypt."
        )
    if declared is not None and detected is not None and detected != declared:
        raise InvalidPasswordHash(f"Password hash looks like {detected}, not {declared}.")
    algorithm = declared or detected
    if algorithm is None:
        raise InvalidPasswordHash(
            "Unrecognised password hash: expected an argon2, bcrypt or firebase_scrypt hash."
        )
    _CHECKERS[algorithm](value)  # the declared format's own message when it doesn't parse
    return value


def _encode(password: str) -> bytes:
    if not isinstance(password, str):
        raise TypeError("password must be a str")
    # surrogatepass: a lone surrogate (possible via JSON escapes) hashes instead of raising;
    # the mapping stays injective, and valid strings encode exactly as plain UTF-8.
    return password.encode("utf-8", "surrogatepass")


class PasswordHasher:
    """Argon2id hashing plus verification of imported formats, off the event loop."""

    def __init__(
        self,
        *,
        time_cost: int = 2,
        memory_cost: int = 19456,
        parallelism: int = 1,
        firebase_signer_key: str | None = None,
        max_workers: int | None = None,
    ) -> None:
        if time_cost < MIN_TIME_COST:
            raise ValueError(f"argon2 time_cost must be at least {MIN_TIME_COST}")
        if memory_cost < MIN_MEMORY_COST:
            raise ValueError(f"argon2 memory_cost must be at least {MIN_MEMORY_COST} KiB")
        if parallelism < MIN_PARALLELISM:
            raise ValueError(f"argon2 parallelism must be at least {MIN_PARALLELISM}")
        if max_workers is not None and max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self._argon2 = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_cost,
            parallelism=parallelism,
            hash_len=32,
            salt_len=16,
            type=argon2.Type.ID,
        )
        self._signer_key: bytes | None = None
        if firebase_signer_key is not None:
            try:
                self._signer_key = _b64(firebase_signer_key.strip())
            except (binascii.Error, ValueError):
                raise ValueError("firebase_signer_key must be base64") from None
        # A well-formed Argon2id hash at our parameters with a random salt and tag: verifying
        # against it costs exactly one real verification and can never succeed.
        salt, tag = (base64.b64encode(os.urandom(n)).decode().rstrip("=") for n in (16, 32))
        self._dummy_hash = (
            f"$argon2id$v=19$m={memory_cost},t={time_cost},p={parallelism}${salt}${tag}"
        )
        # A pool of our own, so slow hashing never starves the default executor; argon2-cffi
        # and hashlib.scrypt release the GIL, so N workers hash N passwords at once.
        self._pool = ThreadPoolExecutor(
            max_workers=max_workers or os.cpu_count() or 1,
            thread_name_prefix="doorkeep-passwords",
        )

    async def _run(self, func: functools.partial[_T]) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, func)

    async def hash(self, password: str) -> str:
        """Hash a new password with Argon2id, in the worker pool."""
        _encode(password)  # fail fast on a non-str, before queueing
        return await self._run(functools.partial(self.hash_sync, password))

    async def verify(self, stored_hash: str, password: str) -> PasswordCheck:
        """Check a password against any supported stored hash, in the worker pool."""
        _encode(password)
        return await self._run(functools.partial(self.verify_sync, stored_hash, password))

    async def dummy_verify(self, password: str) -> None:
        """Spend the time of a real Argon2id verification, so unknown users are not revealed."""
        await self._run(functools.partial(self._verify_argon2, self._dummy_hash, _encode(password)))

    def hash_sync(self, password: str) -> str:
        """Hash a new password with Argon2id (blocking); never truncates."""
        return self._argon2.hash(_encode(password))

    def verify_sync(self, stored_hash: str, password: str) -> PasswordCheck:
        """Check a password (blocking). Unknown or malformed hashes give ok=False, never raise."""
        secret = _encode(password)
        algorithm = identify_algorithm(stored_hash)
        if algorithm == "argon2":
            return self._verify_argon2(stored_hash, secret)
        if algorithm == "bcrypt":
            return self._verify_bcrypt(stored_hash, secret)
        if algorithm == "firebase_scrypt":
            return self._verify_firebase(stored_hash, secret)
        return _FAILED

    def close(self) -> None:
        """Shut the worker pool down, waiting for hashes in flight."""
        self._pool.shutdown(wait=True)

    def _verify_argon2(self, stored_hash: str, secret: bytes) -> PasswordCheck:
        try:
            self._argon2.verify(stored_hash, secret)
        except (Argon2Error, ValueError):  # mismatch, corrupt hash, or impossible parameters
            return _FAILED
        try:
            # Compares type, version and every parameter, so argon2i/argon2d also say True.
            stale = self._argon2.check_needs_rehash(stored_hash)
        except InvalidHashError:
            stale = True
        return PasswordCheck(ok=True, needs_rehash=stale)

    @staticmethod
    def _verify_bcrypt(stored_hash: str, secret: bytes) -> PasswordCheck:
        if _BCRYPT_RE.fullmatch(stored_hash) is None:
            return _FAILED
        # bcrypt only reads 72 bytes and bcrypt>=5 raises beyond that. Such a password
        # cannot be the one that was hashed without truncation, so it simply fails.
        if len(secret) > 72:
            return _FAILED
        candidates = [stored_hash.encode("ascii")]
        if stored_hash[2] in "xy":  # same algorithm; older libraries only know $2a$/$2b$
            candidates.append(b"$2b$" + candidates[0][4:])
        for candidate in candidates:
            try:
                ok = bcrypt.checkpw(secret, candidate)
            except ValueError:
                continue
            return PasswordCheck(ok=ok, needs_rehash=ok)
        return _FAILED

    def _verify_firebase(self, stored_hash: str, secret: bytes) -> PasswordCheck:
        if self._signer_key is None:
            return _FAILED
        try:
            parsed = _parse_firebase(stored_hash)
        except InvalidPasswordHash:
            return _FAILED
        n = 1 << parsed.mem_cost
        try:
            derived = hashlib.scrypt(
                secret,
                salt=parsed.salt + parsed.salt_separator,
                n=n,
                r=parsed.rounds,
                p=1,
                dklen=32,
                maxmem=256 * parsed.rounds * n + (1 << 20),  # scrypt needs ~128*r*n bytes
            )
        except (ValueError, MemoryError):
            return _FAILED
        # Firebase's hash is the signer key encrypted with AES-256-CTR under the derived key.
        encryptor = Cipher(algorithms.AES(derived), modes.CTR(bytes(16))).encryptor()
        expected = encryptor.update(self._signer_key) + encryptor.finalize()
        ok = hmac.compare_digest(expected[: len(parsed.hash)], parsed.hash)
        return PasswordCheck(ok=ok, needs_rehash=ok)


@functools.cache
def _common_passwords() -> frozenset[str]:
    path = importlib.resources.files("doorkeep") / "data" / "common-passwords.txt"
    text = path.read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip())


@dataclass(frozen=True)
class PasswordPolicy:
    """Length limits plus a common-password list; deliberately no composition rules."""

    min_length: int = 8
    max_length: int = 128
    reject_common: bool = True

    def __post_init__(self) -> None:
        if self.min_length < 1:
            raise ValueError("min_length must be at least 1")
        if self.max_length < self.min_length:
            raise ValueError("max_length must be at least min_length")

    def validate(self, password: object) -> str | None:
        """Return None if the password is acceptable, else a message for the user."""
        if not isinstance(password, str):
            return "Password must be a string."
        # Count what a person sees as characters (code points after NFC), but hash the
        # password exactly as given.
        length = len(unicodedata.normalize("NFC", password))
        if length < self.min_length:
            return f"Password must be at least {self.min_length} characters long."
        if length > self.max_length:
            return f"Password must be at most {self.max_length} characters long."
        if self.reject_common and password.lower() in _common_passwords():
            return "This password is too common. Please choose another one."
        return None
