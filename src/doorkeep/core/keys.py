"""Access-token signing keys: kept in the database, rotated, published as a JWKS.

Dynamic keys (kid `d-<createdMs>`) rotate every `signing_key_rotation_hours`, on a
fixed schedule, and stay verifiable for one more interval plus two access-token
lifetimes, so no token outlives its key; the JWKS lists the next one half an interval
before it signs anything. A static key (kid `s-<uuid>`) serves sessions that
ask for one. Several doorkeep instances share keys through the database: an
instance that meets an unknown kid reloads them (at most once a second).
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from doorkeep.core.common import new_id, now_ms
from doorkeep.core.context import AppContext
from doorkeep.core.jwt import (
    AccessTokenVerifier,
    SigningKey,
    generate_signing_key,
    jwks,
    private_key_to_pem,
    signing_key_from_pem,
)
from doorkeep.storage import tables as t

_RELOAD_COOLDOWN_S = 1.0
# One worker thread for every app's spare keys: a process-wide bound on the CPU it takes.
_KEY_MAKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="doorkeep-keys")


class KeyService:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        # ~3 KB an entry (token + claims): 16k entries cap the cache near 50 MB.
        self.verifier = AccessTokenVerifier(cache_size=16384)
        self._keys: list[SigningKey] = []  # newest first
        self._lock = asyncio.Lock()
        self._last_reload = 0.0
        self._spare: Future[SigningKey] | None = None  # the next dynamic key's material

    @property
    def _rotation_ms(self) -> int:
        return int(self.ctx.settings.signing_key_rotation_hours * 3600 * 1000)

    @property
    def _grace_ms(self) -> int:
        return self._rotation_ms + 2 * self.ctx.settings.access_token_validity * 1000

    async def signing_key(self, *, static: bool = False) -> SigningKey:
        """The key to sign a new access token with, creating or rotating one when due."""
        key = self._current(static)
        if key is None or (not static and now_ms() - key.created_at_ms >= self._rotation_ms):
            async with self._lock:
                await self._load()
                key = self._current(static)
                if key is None or (
                    not static and now_ms() - key.created_at_ms >= self._rotation_ms
                ):
                    key = await self._create(static)
        return key

    async def reload_if_unknown(self, kid: str) -> bool:
        """Reload keys from the database if `kid` is new to us; True if it is known afterwards."""
        if self.verifier.has_kid(kid):
            return True
        if time.monotonic() - self._last_reload < _RELOAD_COOLDOWN_S:
            return False
        async with self._lock:
            await self._load()
        return self.verifier.has_kid(kid)

    async def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The public keys. From half-way through a dynamic key's interval, the JWKS also
        lists the key that follows it: whoever caches the JWKS knows that key before any
        token signed with it arrives (no refetch for an unknown kid at each rotation)."""
        current = await self.signing_key()
        half_way = current.created_at_ms + self._rotation_ms // 2
        if self._rotation_ms > 0 and now_ms() >= half_way and self._next_key() is None:
            async with self._lock:
                await self._load()
                if self._next_key() is None:
                    await self._create(False, created=current.created_at_ms + self._rotation_ms)
        return jwks(self._keys)

    def jwks_max_age(self) -> int:
        """Seconds until the JWKS lists a new key (clients may cache it until then)."""
        newest = next((k for k in self._keys if k.kid.startswith("d-")), None)
        if newest is None:
            return 1
        return max(1, (newest.created_at_ms + self._rotation_ms // 2 - now_ms()) // 1000)

    def _current(self, static: bool) -> SigningKey | None:
        """The key in use: the newest of its kind whose time has come (a dynamic key is
        published before its time, see `jwks`)."""
        prefix, now = ("s-" if static else "d-"), now_ms()
        return next(
            (k for k in self._keys if k.kid.startswith(prefix) and k.created_at_ms <= now), None
        )

    def _next_key(self) -> SigningKey | None:
        """The dynamic key published ahead of its time, if there is one."""
        now = now_ms()
        return next(
            (k for k in self._keys if k.kid.startswith("d-") and k.created_at_ms > now), None
        )

    async def _load(self) -> None:
        sk = t.signing_keys
        async with self.ctx.db.read() as conn:
            rows = (
                await conn.execute(
                    select(sk.c.kid, sk.c.private_key_pem, sk.c.created_at)
                    .where(sk.c.app_id == self.ctx.app_id)
                    .order_by(sk.c.created_at.desc())
                )
            ).all()
        cutoff = now_ms() - self._grace_ms
        newest_dynamic = next((r.kid for r in rows if r.kid.startswith("d-")), None)
        # Parsing a private key checks it (tens of ms, more on a busy machine): a reload
        # parses only the keys it has not seen.
        known = {key.kid: key for key in self._keys}
        self._keys = [
            known.get(r.kid) or signing_key_from_pem(r.kid, r.private_key_pem, r.created_at)
            for r in rows
            if r.kid.startswith("s-") or r.created_at >= cutoff or r.kid == newest_dynamic
        ]
        self.verifier.set_keys(self._keys)
        self._last_reload = time.monotonic()

    async def _create(self, static: bool, *, created: int | None = None) -> SigningKey:
        """A new key, valid from `created` (default: now for a static key, the current
        point of the rotation schedule for a dynamic one)."""
        if created is None:
            created = now_ms() if static else self._due_time(now_ms())
        kid = f"s-{new_id()}" if static else f"d-{created}"
        key = await self._key_material(kid, created, spare_after=not static)
        assert key.private_key is not None  # a key just generated has its private half
        try:
            async with self.ctx.db.transaction() as conn:
                await conn.execute(
                    insert(t.signing_keys).values(
                        app_id=self.ctx.app_id,
                        kid=kid,
                        algorithm="RS256",
                        private_key_pem=private_key_to_pem(key.private_key),
                        created_at=created,
                    )
                )
        except IntegrityError:
            # Another instance made this scheduled key first (same kid): use theirs.
            await self._load()
            theirs = next((k for k in self._keys if k.kid == kid), None)
            if theirs is None:
                raise
            return theirs
        self._keys = [key, *self._keys]  # known to the reload: not parsed again
        await self._load()
        return key

    async def _key_material(self, kid: str, created: int, *, spare_after: bool) -> SigningKey:
        """A fresh RSA key named `kid`. Generating one takes 50-250 ms of CPU: never on the
        event loop, and for dynamic keys ahead of need (a spare made in a worker thread
        once a key is made), so a rotation or a JWKS request seldom waits for one."""
        spare, self._spare = self._spare, None
        if spare is not None:
            key = await asyncio.wrap_future(spare)
        else:
            key = await asyncio.to_thread(generate_signing_key, kid, created)
        if spare_after:
            self._spare = _KEY_MAKER.submit(generate_signing_key, "spare", 0)
        return replace(key, kid=kid, created_at_ms=created)

    def _due_time(self, now: int) -> int:
        """When the new dynamic key was due: the last point of the rotation schedule
        (every interval after the previous key) not after `now`. Rotation keeps to its
        schedule however late the first request after it comes, and instances that
        rotate at once make one key (one kid) between them."""
        previous = self._current(False)
        if previous is None or self._rotation_ms <= 0:
            return now
        since = now - previous.created_at_ms
        return previous.created_at_ms + since - since % self._rotation_ms
