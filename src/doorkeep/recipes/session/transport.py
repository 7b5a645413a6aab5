"""How session tokens travel between doorkeep and a client (SuperTokens' conventions).

Cookie mode: `sAccessToken` (path /) and `sRefreshToken` (path
`<api_base_path>/session/refresh`), HttpOnly, Secure on https, SameSite as
configured. Header mode: `st-access-token` / `st-refresh-token` response headers
and `Authorization: Bearer` on requests. The `st-auth-mode` request header picks
the mode when a session is created; without it the backend uses header mode,
as SuperTokens' backend SDKs do. Either way the `front-token` header tells the
frontend who is signed in and when the access token expires.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any, Literal

from starlette.requests import HTTPConnection

from doorkeep.config import Settings
from doorkeep.core.session_models import NewSession, TokenInfo

AuthMode = Literal["cookie", "header"]
AntiCsrf = Literal["VIA_TOKEN", "VIA_CUSTOM_HEADER", "NONE"]

ACCESS_COOKIE = "sAccessToken"
REFRESH_COOKIE = "sRefreshToken"
ACCESS_HEADER = "st-access-token"
REFRESH_HEADER = "st-refresh-token"
FRONT_TOKEN = "front-token"
ANTI_CSRF_HEADER = "anti-csrf"
EXPOSED_HEADERS = (FRONT_TOKEN, ACCESS_HEADER, REFRESH_HEADER, ANTI_CSRF_HEADER)
_COOKIE_MAX_AGE = 365 * 24 * 3600  # the cookie outlives the token; the token's exp rules


def anti_csrf_mode(settings: Settings) -> AntiCsrf:
    """SuperTokens' automatic choice: a custom header when cookies go cross-site, else none."""
    configured = settings.anti_csrf
    if configured is not None:
        return configured
    return "VIA_CUSTOM_HEADER" if settings.cookie_same_site == "none" else "NONE"


AUTH_MODE_SCOPE_KEY = "doorkeep.auth_mode"  # set by the HTML pages, which always use cookies


def requested_auth_mode(conn: HTTPConnection) -> AuthMode:
    forced: AuthMode | None = conn.scope.get(AUTH_MODE_SCOPE_KEY)
    if forced is not None:
        return forced
    value = conn.headers.get("st-auth-mode", "").lower()
    return "cookie" if value == "cookie" else "header"


def bearer_token(conn: HTTPConnection) -> str | None:
    value = conn.headers.get("authorization")
    if value is None or value[:7].lower() != "bearer ":
        return None
    token = value[7:].strip()
    return token or None


def access_token_from(conn: HTTPConnection) -> tuple[str, AuthMode] | None:
    """The access token a request carries, and how it came (header wins over cookie).

    Reads the raw ASGI headers: this runs on every protected request, and building
    Starlette's header and cookie objects costs more than the token check itself.
    """
    has_cookie = False
    for name, value in conn.scope["headers"]:
        if name == b"authorization":
            if value[:7].lower() == b"bearer ":
                token = value[7:].strip().decode("latin-1")
                if token:
                    return token, "header"
        elif name == b"cookie":
            has_cookie = True
    if not has_cookie:
        return None
    cookie = conn.cookies.get(ACCESS_COOKIE)
    return (cookie, "cookie") if cookie else None


def session_cookie_mode(conn: HTTPConnection) -> AuthMode:
    """How a client keeps its tokens, judged by the session cookies it sends: any other
    cookie (a theme, an analytics ID) says nothing about a header-mode client."""
    cookies = conn.cookies
    return "cookie" if cookies.get(ACCESS_COOKIE) or cookies.get(REFRESH_COOKIE) else "header"


def refresh_token_from(conn: HTTPConnection) -> tuple[str, AuthMode] | None:
    token = bearer_token(conn)
    if token is not None:
        return token, "header"
    cookie = conn.cookies.get(REFRESH_COOKIE)
    return (cookie, "cookie") if cookie else None


def front_token(user_id: str, access_token_expiry_ms: int, claims: Mapping[str, Any]) -> str:
    """base64 (standard alphabet) of sorted JSON {uid, ate, up}, as the frontend SDK decodes it."""
    payload = {"uid": user_id, "ate": access_token_expiry_ms, "up": dict(claims)}
    return base64.b64encode(
        json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    ).decode()


class ResponseMutations:
    """Headers and cookies to add to whatever response a request ends with.

    A plain slotted class: one is made for every request the middleware sees.
    """

    __slots__ = ("headers",)

    def __init__(self) -> None:
        self.headers: list[tuple[str, str]] = []

    def set_header(self, name: str, value: str) -> None:
        self.headers = [(n, v) for n, v in self.headers if n != name]
        self.headers.append((name, value))

    def add_cookie(self, header_value: str) -> None:
        self.headers.append(("set-cookie", header_value))

    def expose(self) -> None:
        self.set_header("access-control-expose-headers", ", ".join(EXPOSED_HEADERS))


class TokenTransport:
    """Writes tokens to responses and clears them, per the settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.refresh_path = settings.api_base_path.rstrip("/") + "/session/refresh"

    def attach_session(self, out: ResponseMutations, new: NewSession, mode: AuthMode) -> None:
        self.attach_access_token(out, new.access_token, mode, new.session.user_id)
        if mode == "cookie":
            out.add_cookie(self._cookie(REFRESH_COOKIE, new.refresh_token.token, self.refresh_path))
        else:
            out.set_header(REFRESH_HEADER, new.refresh_token.token)
        if new.anti_csrf_token is not None:
            out.set_header(ANTI_CSRF_HEADER, new.anti_csrf_token)

    def attach_access_token(
        self,
        out: ResponseMutations,
        access: TokenInfo,
        mode: AuthMode,
        user_id: str,
    ) -> None:
        if mode == "cookie":
            out.add_cookie(self._cookie(ACCESS_COOKIE, access.token, "/"))
        else:
            out.set_header(ACCESS_HEADER, access.token)
        out.set_header(FRONT_TOKEN, front_token(user_id, access.expiry, access.claims or {}))
        out.expose()

    def clear(self, out: ResponseMutations, mode: AuthMode) -> None:
        if mode == "cookie":
            out.add_cookie(self._cookie(ACCESS_COOKIE, "", "/", expire=True))
            out.add_cookie(self._cookie(REFRESH_COOKIE, "", self.refresh_path, expire=True))
        else:
            out.set_header(ACCESS_HEADER, "")
            out.set_header(REFRESH_HEADER, "")
        out.set_header(FRONT_TOKEN, "remove")
        out.expose()

    def _cookie(self, name: str, value: str, path: str, *, expire: bool = False) -> str:
        parts = [
            f"{name}={value}",
            f"Path={path}",
            "HttpOnly",
            f"SameSite={self.settings.cookie_same_site.capitalize()}",
        ]
        if expire:
            parts += ["Max-Age=0", "Expires=Thu, 01 Jan 1970 00:00:00 GMT"]
        else:
            parts.append(f"Max-Age={_COOKIE_MAX_AGE}")
        if self.settings.secure_cookies or self.settings.cookie_same_site == "none":
            parts.append("Secure")  # browsers refuse SameSite=None without Secure
        if self.settings.cookie_domain:
            parts.append(f"Domain={self.settings.cookie_domain}")
        return "; ".join(parts)
