"""Form security for the pages: a double-submit CSRF token plus an Origin check, and the
response headers every page carries.

A random secret lives in a cookie (`__Host-` prefixed on https, so a sibling
subdomain cannot plant one); each form carries HMAC(secret, session handle), so a
form token is bound to the session it was rendered for, and a cross-site page,
which cannot read the cookie, cannot make one. The Origin (or Sec-Fetch-Site)
check refuses cross-site posts before the token is even compared.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from starlette.requests import Request

from doorkeep.config import Settings

CSRF_FIELD = "csrf_token"


def csrf_cookie_name(settings: Settings) -> str:
    return "__Host-dk_csrf" if settings.secure_cookies else "dk_csrf"


def csrf_token_of(request: Request, settings: Settings) -> str | None:
    value = request.cookies.get(csrf_cookie_name(settings))
    return value if value and len(value) <= 128 else None


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_cookie(settings: Settings, token: str) -> str:
    parts = [f"{csrf_cookie_name(settings)}={token}", "Path=/", "HttpOnly", "SameSite=Lax"]
    if settings.secure_cookies:
        parts.append("Secure")
    return "; ".join(parts)


def same_origin(request: Request, settings: Settings) -> bool:
    """False when the browser says the post comes from another site."""
    origin = request.headers.get("origin")
    if origin is not None and origin != "null":  # "null": privacy-sensitive contexts
        own = f"{request.url.scheme}://{request.url.netloc}"
        allowed = {own, settings.website_domain.rstrip("/")}
        return origin in allowed
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site in ("same-origin", "none")
    referer = request.headers.get("referer")
    if referer is not None:
        parts = urlsplit(referer)
        return parts.netloc == request.url.netloc
    return True  # an old or non-browser client: the token alone decides


def form_token(secret: str, session_handle: str | None) -> str:
    """What a form rendered for this session carries in its hidden field."""
    message = (session_handle or "-").encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def form_is_genuine(
    request: Request, settings: Settings, submitted: object, session_handle: str | None
) -> bool:
    secret = csrf_token_of(request, settings)
    if secret is None or not isinstance(submitted, str) or not same_origin(request, settings):
        return False
    expected = form_token(secret, session_handle)
    return hmac.compare_digest(expected.encode(), submitted.encode())


def security_headers(logo_url: str | None) -> dict[str, str]:
    img_src = "'self' data:"
    if logo_url and logo_url.startswith("https://"):
        parts = urlsplit(logo_url)
        img_src += f" https://{parts.netloc}"
    csp = (
        "default-src 'none'; script-src 'self'; style-src 'self'; "
        f"img-src {img_src}; connect-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )
    return {
        "content-security-policy": csp,
        "x-frame-options": "DENY",
        # Reset and verification links carry their token in the URL: send it nowhere.
        # (Chromium then sends `Origin: null` on our posts; Sec-Fetch-Site decides.)
        "referrer-policy": "no-referrer",
        "x-content-type-options": "nosniff",
        "cache-control": "no-store",
        "cross-origin-opener-policy": "same-origin",
    }


def local_path(candidate: object) -> str | None:
    """A redirect target that stays on this site (no open redirect), or None."""
    if not isinstance(candidate, str) or not candidate.startswith("/"):
        return None
    if candidate.startswith("//") or "\\" in candidate or any(ord(c) < 32 for c in candidate):
        return None
    return candidate
