"""Cross-site requests against cookie sessions (checklist item 37; issue 16 row 7).

SameSite=Lax keeps the session cookie off other *sites*' POSTs, but a sibling
subdomain is the same site, and anti-CSRF is NONE by default (SuperTokens' choice for
Lax). So a state-changing request that a session cookie authenticates must come from
a trusted origin, whatever the anti-CSRF mode:

- `Origin` (every browser sends it on a cross-origin POST) must be the website's or
  the API's origin (`website_domain`, `api_domain`);
- without a usable `Origin` (absent, or `null` from a no-referrer page), a browser's
  `Sec-Fetch-Site` must say `same-origin` or `none`: `cross-site` and `same-site` (a
  sibling subdomain) are refused; a client that sends neither is not a browser, so it
  cannot be a victim's browser either;
- a JSON route reads its body only as `application/json`, the content type no other
  page can send without a CORS preflight (`text/plain` and forms need none).

The official frontend SDK sends `Origin` of the website, `Content-Type:
application/json` and `rid`, and passes. Header-mode requests (`Authorization:
Bearer`) are never checked: another page cannot add that header. A refusal is 403
`{"message": ...}` (the tokens are kept): a 401 would make the frontend SDK refresh
and retry, and a refusal must not sign the user out.
"""

from __future__ import annotations

from doorkeep.config import Settings

BROWSER_SAME_ORIGIN = frozenset({"same-origin", "none"})  # Sec-Fetch-Site values that pass
CROSS_SITE_MESSAGE = "cross-site request refused"
JSON_REQUIRED_MESSAGE = (
    "a request authenticated by a session cookie must send Content-Type: application/json"
)


def trusted_origins(settings: Settings) -> frozenset[str]:
    """The origins whose pages may use a cookie session: the website's and the API's."""
    return frozenset(
        origin.rstrip("/").lower() for origin in (settings.website_domain, settings.api_domain)
    )


def cross_site(origin: str | None, fetch_site: str | None, trusted: frozenset[str]) -> bool:
    """Whether a browser says the request comes from a page that is not trusted."""
    if origin is not None and origin != "null":
        return origin.rstrip("/").lower() not in trusted
    return fetch_site is not None and fetch_site.lower() not in BROWSER_SAME_ORIGIN


def is_json(content_type: str | None) -> bool:
    """`application/json`, with or without parameters (`; charset=utf-8`)."""
    if content_type is None:
        return False
    return content_type.split(";", 1)[0].strip().lower() == "application/json"
