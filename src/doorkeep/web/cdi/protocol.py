"""The Core Driver Interface's conventions: path prefixes, API keys, versions, bodies
and errors (`shared/reference/supertokens-protocols.md` §1).

Business outcomes are 200 JSON with a `status`; anything wrong with the request
itself is a plain-text 4xx, as SuperTokens' core answers.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from doorkeep.core.common import PUBLIC
from doorkeep.core.services import AppCore
from doorkeep.core.tenants import is_tenant_id
from doorkeep.web.json_body import JsonTooDeepError, parse_json

SUPPORTED_VERSIONS = ("2.21", "3.0", "3.1", "4.0", "5.0", "5.1", "5.2", "5.3", "5.4")
MAX_BODY_BYTES = 256 * 1024
_APP_PREFIX = re.compile(r"^/appid-([a-z0-9-]+)(/.*|)$")


class CdiError(Exception):
    """A request the core refuses: answered as plain text with this status."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message

    def response(self) -> Response:
        return PlainTextResponse(self.message, status_code=self.status_code)


def split_prefix(path: str, known: set[str]) -> tuple[str, str, str] | None:
    """(app id, tenant id, route path) of a CDI path, or None if no route matches.

    `/appid-<app>` is optional; then `/<tenant>` is optional: a path that is itself a
    route belongs to the public tenant (`/users` is a route, not tenant "users").
    """
    path = path.lower().rstrip("/") or "/"
    app_id = PUBLIC
    if matched := _APP_PREFIX.match(path):
        app_id, path = matched.group(1), matched.group(2) or "/"
    if path in known:
        return app_id, PUBLIC, path
    head, _, rest = path[1:].partition("/")
    if rest and is_tenant_id(head) and f"/{rest}" in known:
        return app_id, head, f"/{rest}"
    return None


def check_api_key(request: Request, keys: tuple[str, ...]) -> None:
    """The `api-key` header, else `Authorization` (with or without `Bearer `)."""
    given = request.headers.get("api-key")
    if given is None:
        given = request.headers.get("authorization", "")
        given = given[7:] if given[:7].lower() == "bearer " else given
    if not any(hmac.compare_digest(given.encode(), key.encode()) for key in keys):
        raise CdiError(401, "Invalid API key")


def check_version(request: Request) -> None:
    version = request.headers.get("cdi-version")
    if version is not None and version not in SUPPORTED_VERSIONS:
        raise CdiError(400, f"cdi-version {version} not supported")


@dataclass
class CdiRequest:
    """One CDI call: its app's services, tenant, query and (for writes) JSON body."""

    request: Request
    app: AppCore
    tenant_id: str
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def query(self) -> Mapping[str, str]:
        return self.request.query_params

    def text(self, name: str, *, required: bool = True) -> str | None:
        value = self.body.get(name)
        if value is None and not required:
            return None
        if not isinstance(value, str):
            raise CdiError(400, f"Field name '{name}' is invalid in JSON input")
        return value

    def required_text(self, name: str) -> str:
        value = self.text(name)
        assert value is not None
        return value

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.body.get(name, default)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise CdiError(400, f"Field name '{name}' is invalid in JSON input")
        return value

    def object(self, name: str, *, required: bool = True) -> dict[str, Any]:
        value = self.body.get(name)
        if value is None and not required:
            return {}
        if not isinstance(value, dict):
            raise CdiError(400, f"Field name '{name}' is invalid in JSON input")
        return value

    def param(self, name: str, *, required: bool = True) -> str | None:
        value = self.query.get(name)
        if (value is None or value == "") and required:
            raise CdiError(400, f"Field name '{name}' is missing in GET request")
        return value or None

    def bool_param(self, name: str, default: bool = False) -> bool:
        value = self.query.get(name)
        if not value:
            return default
        if value not in ("true", "false"):
            raise CdiError(400, f"Field name '{name}' must be true or false")
        return value == "true"


async def read_body(request: Request) -> dict[str, Any]:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise CdiError(400, "Request body is too large")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY_BYTES:
            raise CdiError(400, "Request body is too large")
    if not raw.strip():
        return {}
    try:
        body = parse_json(raw)
    except JsonTooDeepError:
        raise CdiError(400, "Invalid Json Input: nested too deeply") from None
    except (ValueError, UnicodeDecodeError):
        raise CdiError(400, "Invalid Json Input") from None
    if not isinstance(body, dict):
        raise CdiError(400, "Invalid Json Input")
    return body


def ok(**fields: Any) -> Response:
    return JSONResponse({"status": "OK", **fields})


def status(name: str, **fields: Any) -> Response:
    return JSONResponse({"status": name, **fields})
