"""Sessions: RS256 access tokens checked without the database, and rotating refresh tokens.

Refresh tokens are opaque and stored as sha256(sha256(token)); the access token
carries sha256(token) as `refreshTokenHash1`, as SuperTokens' tokens do.

Rotation is a compare-and-swap on the session row, so of N concurrent refreshes
with one token exactly one gets a child. Presenting a superseded token is theft
and revokes the session, with one narrow exception for races: the immediate
predecessor of the current token, replayed within `refresh_grace_seconds` and
before the child has been used, gets a plain 401 that leaves the session (and
the client's newer tokens) alone. A child counts as used once it is refreshed
or once its access token is verified (that first verify "promotes" it and hands
out an access token without the parent marker, like SuperTokens' CDI ≤ 5.4).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from functools import partial
from time import perf_counter
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection

from doorkeep.core import session_store as store
from doorkeep.core.common import PUBLIC, new_id, now_ms, random_token, sha256_hex
from doorkeep.core.context import AppContext
from doorkeep.core.events import (
    Event,
    SessionCreated,
    SessionRefreshed,
    SessionRevoked,
    TokenTheftDetected,
)
from doorkeep.core.jwt import ExpiredToken, InvalidToken, decode_unverified, sign
from doorkeep.core.keys import KeyService
from doorkeep.core.session_models import (
    PROTECTED_CLAIMS,
    NewSession,
    SessionInfo,
    SessionRecord,
    TokenInfo,
    TokenTheftDetectedError,
    TryRefreshTokenError,
    UnauthorisedError,
    VerifiedSession,
)
from doorkeep.core.telemetry import VERIFY_SAMPLE_EVERY
from doorkeep.core.users import resolve_user_id
from doorkeep.storage import tables as t

# New values for keys of a refreshed session's custom payload (its claims).
PayloadRefresh = Callable[[SessionRecord], Awaitable[Mapping[str, Any]]]

_MAX_REMEMBERED = 100_000  # bound on the in-memory revoked/promoted sets
_MAX_VIEWS = 16_384  # verified-session objects kept, one per live access token


class SessionService:
    def __init__(self, ctx: AppContext, keys: KeyService) -> None:
        self.ctx = ctx
        self.keys = keys
        # Handles revoked here or on any instance (core/revocation.py): their still
        # unexpired access tokens are refused without a database read. The dict itself,
        # for one lookup per verification.
        self._revoked = ctx.revoked.handles
        # Access tokens whose refresh-token child was already promoted.
        self._promoted: dict[str, None] = {}
        self._views: dict[str, VerifiedSession] = {}
        self._verify_timer = ctx.telemetry.verify
        # Sampling inline (a racy counter is fine: it only moves which call is timed):
        # ticks & mask == 0 every VERIFY_SAMPLE_EVERY calls; mask -1 never (timing off).
        self._ticks = 0
        self._sample_mask = VERIFY_SAMPLE_EVERY - 1 if ctx.telemetry.enabled else -1

    # -- creating ---------------------------------------------------------------------------

    async def create(
        self,
        user_id: str,
        *,
        recipe_user_id: str | None = None,
        tenant_id: str = PUBLIC,
        access_token_payload: Mapping[str, Any] | None = None,
        session_data: Mapping[str, Any] | None = None,
        enable_anti_csrf: bool = False,
        use_static_key: bool = False,
    ) -> NewSession:
        if not isinstance(user_id, str) or not user_id:
            raise ValueError("user_id must be a non-empty string")
        payload = _custom_payload(access_token_payload)
        handle = new_id() if tenant_id == PUBLIC else f"{new_id()}_{tenant_id}"
        refresh_token = random_token()
        created = now_ms()
        expires = self._expiry(created, created)
        record = SessionRecord(
            handle,
            user_id,
            recipe_user_id or user_id,
            tenant_id,
            dict(session_data or {}),
            payload,
            created,
            expires,
        )
        created_event = SessionCreated(
            app_id=self.ctx.app_id, tenant_id=tenant_id, user_id=user_id, session_handle=handle
        )
        events = await self.ctx.db.run(
            partial(self._insert, record, refresh_token, use_static_key, created_event), write=True
        )
        self.ctx.events.publish_all(events)
        return await self._tokens(
            record,
            refresh_token,
            parent_token=None,
            enable_anti_csrf=enable_anti_csrf,
            use_static_key=use_static_key,
        )

    def _insert(
        self,
        record: SessionRecord,
        refresh_token: str,
        use_static_key: bool,
        event: SessionCreated,
        conn: Connection,
    ) -> list[SessionCreated]:
        store.insert_session(self.ctx.app_id, record, refresh_token, use_static_key, conn)
        return self.ctx.events.record(conn, [event])

    # -- verifying --------------------------------------------------------------------------

    async def verify(
        self,
        access_token: str,
        *,
        anti_csrf_token: str | None = None,
        do_anti_csrf_check: bool = False,
        check_database: bool = False,
    ) -> VerifiedSession | TryRefreshTokenError | UnauthorisedError:
        # One call in VERIFY_SAMPLE_EVERY is timed (core/telemetry.py); the body stays
        # inline (no nested coroutine) and try/finally costs nothing when nothing raises.
        self._ticks = ticks = self._ticks + 1
        start = 0.0 if ticks & self._sample_mask else perf_counter()
        try:
            claims = await self._checked_claims(access_token)
            if isinstance(claims, TryRefreshTokenError):
                return claims
            handle = claims["sessionHandle"]
            if handle in self._revoked:
                return UnauthorisedError("session revoked")
            expected_csrf = claims.get("antiCsrfToken")
            if (
                do_anti_csrf_check
                and expected_csrf is not None
                and anti_csrf_token != expected_csrf
            ):
                return TryRefreshTokenError("anti-csrf check failed")
            needs_promotion = (
                claims.get("parentRefreshTokenHash1") is not None
                and access_token not in self._promoted
            )
            if not (check_database or needs_promotion):
                return self._verified_view(access_token, claims)
            record = await self.get(handle)
            if record is None:
                return UnauthorisedError("session does not exist or has expired")
            new_token = None
            if needs_promotion:
                new_token = await self._promote(access_token, claims, record)
            return VerifiedSession(_session_info(claims), claims, new_token)
        finally:
            if start:
                self._verify_timer.observe(perf_counter() - start)

    def _verified_view(self, access_token: str, claims: Mapping[str, Any]) -> VerifiedSession:
        """The (immutable) result for a token, built once: on the hot path of every request.
        The verifier has just checked its signature and expiry."""
        view = self._views.get(access_token)
        if view is None:
            if len(self._views) >= _MAX_VIEWS:
                self._views.clear()  # cheap and rare: entries rebuild on the next request
            view = self._views[access_token] = VerifiedSession(_session_info(claims), claims)
        return view

    async def _checked_claims(self, access_token: str) -> Mapping[str, Any] | TryRefreshTokenError:
        if not isinstance(access_token, str):
            return TryRefreshTokenError("access token is not a string")
        try:
            return self.keys.verifier.verify(access_token)
        except ExpiredToken:
            return TryRefreshTokenError("access token expired")
        except InvalidToken as exc:
            kid = _kid(access_token)
            if (
                kid is not None
                and not self.keys.verifier.has_kid(kid)
                and await self.keys.reload_if_unknown(kid)
            ):
                return await self._checked_claims(access_token)
            return TryRefreshTokenError(f"invalid access token: {exc}")

    async def _promote(
        self, access_token: str, claims: Mapping[str, Any], record: SessionRecord
    ) -> TokenInfo:
        """First use of a refreshed session: mark its refresh token used, drop the parent marker."""
        current_hash2 = sha256_hex(claims["refreshTokenHash1"])
        await self.ctx.db.run(partial(store.mark_used, current_hash2, now_ms()), write=True)
        self._remember(self._promoted, access_token)
        new_claims = dict(claims)
        new_claims["parentRefreshTokenHash1"] = None
        return await self._sign(new_claims, static=_is_static(access_token), expiry_from_now=True)

    # -- refreshing -------------------------------------------------------------------------

    async def refresh(
        self,
        refresh_token: str,
        *,
        enable_anti_csrf: bool = False,
        use_static_key: bool | None = None,
        refresh_payload: PayloadRefresh | None = None,
    ) -> NewSession | UnauthorisedError | TokenTheftDetectedError:
        """Rotate the refresh token and sign a new access token.

        `use_static_key` switches the session to that kind of key from now on (None
        keeps its own). `refresh_payload` gives new values for keys of the custom
        payload (claims, e.g. roles): merged in, and stored when they changed.
        """
        start = perf_counter()
        try:
            return await self._refresh(
                refresh_token, enable_anti_csrf, use_static_key, refresh_payload
            )
        finally:
            self.ctx.telemetry.refresh.observe(perf_counter() - start)

    async def _refresh(
        self,
        refresh_token: str,
        enable_anti_csrf: bool,
        use_static_key: bool | None,
        refresh_payload: PayloadRefresh | None,
    ) -> NewSession | UnauthorisedError | TokenTheftDetectedError:
        if not isinstance(refresh_token, str) or not refresh_token or len(refresh_token) > 512:
            return UnauthorisedError("refresh token is not valid")
        rules = store.RotationRules(
            self.ctx.app_id,
            self.ctx.settings.refresh_grace_seconds * 1000,
            self._expiry,
            use_static_key,
        )
        outcome, events = await self.ctx.db.run(
            partial(self._rotate, rules, store.hash2(refresh_token), now_ms()), write=True
        )
        self.ctx.revoked.refuse(events)
        self.ctx.events.publish_all(events)
        if not isinstance(outcome, store.Rotated):
            return outcome
        record = outcome.record
        if refresh_payload is not None:
            record = await self._refreshed_payload(record, refresh_payload)
        return await self._tokens(
            record,
            outcome.refresh_token,
            parent_token=refresh_token,
            enable_anti_csrf=enable_anti_csrf,
            use_static_key=outcome.use_static_key,
        )

    def _rotate(
        self, rules: store.RotationRules, old_hash2: str, now: int, conn: Connection
    ) -> tuple[store.Rotated | UnauthorisedError | TokenTheftDetectedError, list[Event]]:
        """`store.rotate`, and the events of its outcome recorded in its transaction."""
        outcome = store.rotate(rules, old_hash2, now, conn)
        events: list[Event] = []
        if isinstance(outcome, store.Rotated):
            record = outcome.record
            events.append(
                SessionRefreshed(
                    app_id=self.ctx.app_id,
                    tenant_id=record.tenant_id,
                    user_id=record.user_id,
                    session_handle=record.handle,
                )
            )
        elif isinstance(outcome, TokenTheftDetectedError):
            common: dict[str, Any] = {"app_id": self.ctx.app_id, "user_id": outcome.user_id}
            handle = outcome.session_handle
            events.append(TokenTheftDetected(**common, session_handle=handle))
            events.append(self._revoked_event(handle, outcome.user_id, None, "theft_detected"))
        return outcome, self.ctx.events.record(conn, events)

    def _revoked_event(
        self, handle: str, user_id: str | None, tenant_id: str | None, reason: str
    ) -> SessionRevoked:
        """The revocation of `handle`: its access tokens live at most one validity more."""
        longest = now_ms() + self.ctx.settings.access_token_validity * 1000
        return SessionRevoked(
            app_id=self.ctx.app_id,
            tenant_id=tenant_id,
            user_id=user_id,
            session_handle=handle,
            reason=reason,
            access_token_expiry=longest,
        )

    async def _refreshed_payload(
        self, record: SessionRecord, refresh_payload: PayloadRefresh
    ) -> SessionRecord:
        current = record.user_data_in_jwt
        merged = {**current, **_custom_payload(await refresh_payload(record))}
        if merged != current:
            await self.update_access_token_payload(record.handle, merged)
        return replace(record, user_data_in_jwt=merged)

    # -- reading and changing ---------------------------------------------------------------

    async def get(self, handle: str) -> SessionRecord | None:
        s = t.sessions
        async with self.ctx.db.read() as conn:
            row = (
                await conn.execute(
                    select(s).where(s.c.app_id == self.ctx.app_id, s.c.session_handle == handle)
                )
            ).first()
        if row is None or row.expires_at <= now_ms():
            return None
        return store.record_of(row, row.expires_at)

    async def handles_for_user(self, user_id: str, *, tenant_id: str | None = None) -> list[str]:
        s = t.sessions
        async with self.ctx.db.read() as conn:
            aliases = (await resolve_user_id(conn, self.ctx.app_id, user_id)).aliases
            query = select(s.c.session_handle).where(
                s.c.app_id == self.ctx.app_id, s.c.user_id.in_(aliases), s.c.expires_at > now_ms()
            )
            if tenant_id is not None:
                query = query.where(s.c.tenant_id == tenant_id)
            return list((await conn.scalars(query.order_by(s.c.created_at))).all())

    async def revoke(self, handles: list[str]) -> list[str]:
        """Revoke sessions by handle; returns the handles that existed."""
        if not handles:
            return []
        s = t.sessions
        async with self.ctx.db.transaction() as conn:
            rows = (
                await conn.execute(
                    select(s.c.session_handle, s.c.user_id, s.c.tenant_id).where(
                        s.c.app_id == self.ctx.app_id, s.c.session_handle.in_(handles)
                    )
                )
            ).all()
            existing = [row.session_handle for row in rows]
            if existing:
                await conn.execute(
                    delete(s).where(s.c.app_id == self.ctx.app_id, s.c.session_handle.in_(existing))
                )
            events = await self.ctx.events.record_async(
                conn,
                [
                    self._revoked_event(r.session_handle, r.user_id, r.tenant_id, "revoked")
                    for r in rows
                ],
            )
        self.ctx.revoked.refuse(events)
        self.ctx.events.publish_all(events)
        return existing

    async def revoke_all_for_user(self, user_id: str, *, tenant_id: str | None = None) -> list[str]:
        return await self.revoke(await self.handles_for_user(user_id, tenant_id=tenant_id))

    async def update_session_data(self, handle: str, data: Mapping[str, Any]) -> bool:
        return await self._update_column(handle, session_data=dict(data))

    async def update_access_token_payload(self, handle: str, payload: Mapping[str, Any]) -> bool:
        """Replace the custom payload that future access tokens of this session carry."""
        return await self._update_column(handle, jwt_payload=_custom_payload(payload))

    async def regenerate_access_token(
        self, access_token: str, new_payload: Mapping[str, Any] | None = None
    ) -> VerifiedSession | UnauthorisedError:
        """A fresh access token for a live session, optionally with a new custom payload."""
        claims = await self._checked_claims(access_token)
        if isinstance(claims, TryRefreshTokenError):
            return UnauthorisedError(claims.message)
        handle = claims["sessionHandle"]
        if new_payload is not None and not await self.update_access_token_payload(
            handle, new_payload
        ):
            return UnauthorisedError("session does not exist")
        record = await self.get(handle)
        if record is None:
            return UnauthorisedError("session does not exist")
        new_claims = {k: v for k, v in claims.items() if k in PROTECTED_CLAIMS}
        new_claims.update(record.user_data_in_jwt)
        token = await self._sign(new_claims, static=_is_static(access_token), expiry_from_now=True)
        return VerifiedSession(_session_info(new_claims), new_claims, token)

    # -- internals --------------------------------------------------------------------------

    async def _update_column(self, handle: str, **values: Any) -> bool:
        s = t.sessions
        async with self.ctx.db.transaction() as conn:
            result = await conn.execute(
                update(s)
                .where(
                    s.c.app_id == self.ctx.app_id,
                    s.c.session_handle == handle,
                    s.c.expires_at > now_ms(),
                )
                .values(**values)
            )
        return result.rowcount == 1

    def _expiry(self, created_at: int, now: int) -> int:
        idle = now + self.ctx.settings.refresh_token_validity * 1000
        absolute = self.ctx.settings.session_absolute_lifetime
        return idle if absolute is None else min(idle, created_at + absolute * 1000)

    async def _tokens(
        self,
        record: SessionRecord,
        refresh_token: str,
        *,
        parent_token: str | None,
        enable_anti_csrf: bool,
        use_static_key: bool,
    ) -> NewSession:
        anti_csrf = random_token(16) if enable_anti_csrf else None
        claims: dict[str, Any] = dict(record.user_data_in_jwt)
        claims.update(
            sub=record.user_id,
            rsub=record.recipe_user_id,
            tId=record.tenant_id,
            sessionHandle=record.handle,
            refreshTokenHash1=sha256_hex(refresh_token),
            parentRefreshTokenHash1=None if parent_token is None else sha256_hex(parent_token),
            antiCsrfToken=anti_csrf,
        )
        access = await self._sign(claims, static=use_static_key, expiry_from_now=True)
        now = access.created_time
        refresh = TokenInfo(refresh_token, record.expiry, now)
        return NewSession(_session_info(claims), access, refresh, anti_csrf)

    async def _sign(
        self, claims: dict[str, Any], *, static: bool, expiry_from_now: bool
    ) -> TokenInfo:
        key = await self.keys.signing_key(static=static)
        now = now_ms()
        if expiry_from_now:
            claims["iat"] = now // 1000
            # Rounded up: exp is in whole seconds, and a token must live its full validity.
            claims["exp"] = -(-(now + self.ctx.settings.access_token_validity * 1000) // 1000)
        return TokenInfo(sign(claims, key), claims["exp"] * 1000, now, claims)

    @staticmethod
    def _remember(store: dict[str, Any], key: str) -> None:
        if len(store) >= _MAX_REMEMBERED:
            for old in list(store)[: _MAX_REMEMBERED // 10]:
                del store[old]
        store[key] = time.monotonic()


def _custom_payload(payload: Mapping[str, Any] | None) -> dict[str, Any]:
    if payload is None:
        return {}
    if not isinstance(payload, Mapping):
        raise ValueError("access token payload must be a JSON object")
    return {k: v for k, v in payload.items() if k not in PROTECTED_CLAIMS}


def _session_info(claims: Mapping[str, Any]) -> SessionInfo:
    return SessionInfo(
        handle=claims["sessionHandle"],
        user_id=claims["sub"],
        recipe_user_id=claims.get("rsub", claims["sub"]),
        tenant_id=claims.get("tId", PUBLIC),
        user_data_in_jwt={k: v for k, v in claims.items() if k not in PROTECTED_CLAIMS},
    )


def _kid(token: str) -> str | None:
    try:
        header, _ = decode_unverified(token)
    except InvalidToken:
        return None
    kid = header.get("kid")
    return kid if isinstance(kid, str) else None


def _is_static(token: str) -> bool:
    kid = _kid(token)
    return kid is not None and kid.startswith("s-")
