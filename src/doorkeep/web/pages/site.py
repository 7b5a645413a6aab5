"""`Pages`: the ASGI app of the prebuilt pages under `website_base_path`.

It owns what every page shares — routing, the session lookup, the CSRF check,
security headers, reading the form, and turning a handler's `Outcome` into HTML
(a form post without JavaScript) or JSON (the enhancement script) — so the
handlers in `auth_pages` and `account_pages` are only the flow.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib.resources import files
from typing import Any
from urllib.parse import urlencode

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.types import Receive, Scope, Send

from doorkeep.core.errors import BadRequest, TemporaryFailure
from doorkeep.recipes.session.request import Session, SessionError, get_session
from doorkeep.recipes.session.transport import AUTH_MODE_SCOPE_KEY
from doorkeep.web.pages import account_pages, auth_pages, passwordless_pages, phone_pages
from doorkeep.web.pages.config import PagesConfig
from doorkeep.web.pages.outcome import Outcome, PageRequest, PageServices, Redirect, Render
from doorkeep.web.pages.security import (
    CSRF_FIELD,
    csrf_cookie,
    csrf_token_of,
    form_is_genuine,
    form_token,
    new_csrf_token,
    security_headers,
)

log = logging.getLogger("doorkeep.pages")
Handler = Callable[[PageRequest], Awaitable[Outcome]]
MAX_FORM_BYTES = 16 * 1024
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}


@dataclass(frozen=True)
class PageRoute:
    name: str  # what `PagesConfig.disabled` names
    get: Handler | None
    post: Handler | None
    needs_session: bool = False


def _routes() -> dict[str, PageRoute]:
    a, m = auth_pages, account_pages
    return {
        "/login": PageRoute("signin", a.sign_in_form, a.sign_in),
        "/register": PageRoute("signup", a.sign_up_form, a.sign_up),
        "/forgot-password": PageRoute("forgot_password", a.forgot_password_form, a.forgot_password),
        "/reset-password": PageRoute("reset_password", a.reset_password_form, a.reset_password),
        "/verify-email": PageRoute("verify_email", a.verify_email_form, a.verify_email),
        "/verify-email/sent": PageRoute(
            "verify_email", a.verification_sent, a.resend_verification, needs_session=True
        ),
        "/account": PageRoute("account", m.account, None, needs_session=True),
        "/account/sign-out-others": PageRoute(
            "account", None, m.sign_out_other_devices, needs_session=True
        ),
        "/change-password": PageRoute(
            "change_password", m.change_password_form, m.change_password, needs_session=True
        ),
        "/change-email": PageRoute(
            "change_email", m.change_email_form, m.change_email, needs_session=True
        ),
        "/logout": PageRoute("account", None, a.sign_out, needs_session=True),
    }


def _passwordless_routes() -> dict[str, PageRoute]:
    """Served when passwordless sign-in is on; `/verify` is where magic links point."""
    p = passwordless_pages
    return {
        "/login/passwordless": PageRoute("passwordless", p.start_form, p.start),
        "/login/passwordless/check": PageRoute("passwordless", p.check_form, p.check),
        "/login/passwordless/resend": PageRoute("passwordless", None, p.resend),
        "/verify": PageRoute("passwordless", p.link_form, p.use_link),
        "/change-phone": PageRoute(
            "change_phone",
            phone_pages.change_phone_form,
            phone_pages.change_phone,
            needs_session=True,
        ),
    }


class Pages:
    def __init__(self, services: PageServices, config: PagesConfig) -> None:
        self.services = services
        self.settings = services.settings
        self.config = config
        self.base = self.settings.website_base_path.rstrip("/")
        routes = _routes()
        if services.flows.passwordless.passwordless.enabled:
            routes |= _passwordless_routes()
        self.routes = {
            path: route for path, route in routes.items() if route.name not in config.disabled
        }
        loaders: list[Any] = [PackageLoader("doorkeep.web.pages", "templates")]
        if config.template_path is not None:
            loaders.insert(0, FileSystemLoader(str(config.template_path)))
        self.templates = Environment(
            loader=ChoiceLoader(loaders), autoescape=select_autoescape(default=True)
        )
        self.headers = security_headers(config.logo_url)
        static = files("doorkeep.web.pages") / "static"
        self.static = {
            f"/static/{name}": (static / name).read_bytes()
            for name in ("doorkeep.css", "doorkeep.js", "passwordless.js")
        }
        self.static["/static/theme.css"] = config.theme_css().encode()

    def handles(self, path: str) -> bool:
        if not path.startswith(self.base):
            return False
        below = path[len(self.base) :]
        return below in ("", "/") or below in self.routes or below in self.static

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        below = scope["path"][len(self.base) :]
        if below in self.static:
            response: Response = self._static(below)
        else:
            response = await self._page(request, below)
        await response(scope, receive, send)

    async def home(self, request: Request) -> Response:
        """The demo's landing page (served at / by `doorkeep serve`)."""
        session = await self._session(request)
        context = {"api_base": self.settings.api_base_path}
        return self._html(request, Render("home.html", context), session)

    # -- dispatch -----------------------------------------------------------------------------

    async def _page(self, request: Request, below: str) -> Response:
        method = request.method
        session = await self._session(request)
        if below in ("", "/"):
            return RedirectResponse(self._url("account" if session else "login"), status_code=303)
        route = self.routes[below]
        handler = (
            route.post if method == "POST" else route.get if method in ("GET", "HEAD") else None
        )
        if handler is None:
            return self._error(request, 405, "This page does not take that kind of request.")
        if method == "POST" and self.config.read_only:
            return self._error(request, 405, "These pages are read-only: nothing can be changed.")
        if route.needs_session and session is None:
            query = urlencode({"redirect_to": request.url.path}) if method == "GET" else ""
            login = self.config.login_url or self._url("login")
            return RedirectResponse(f"{login}?{query}" if query else login, status_code=303)
        page = PageRequest(request, self.services, self.config, self.base, session)
        if method == "POST":
            problem = await self._read_form(request, page)
            if problem is not None:
                return problem
        request.scope[AUTH_MODE_SCOPE_KEY] = "cookie"  # pages keep their session in cookies
        try:
            outcome = await handler(page)
        except BadRequest as exc:
            outcome = Render("message.html", message=str(exc), status_code=400)
        except TemporaryFailure as exc:
            log.warning("%s: %r", request.url.path, exc)
            outcome = Render("message.html", message=str(exc), status_code=503)
        return self._respond(request, page, outcome)

    async def _session(self, request: Request) -> Session | None:
        try:
            return await get_session(
                self.services.session,
                request,
                session_required=False,
                require_verified_email=False,
                anti_csrf_check=False,  # the pages' own CSRF token guards their posts
            )
        except SessionError:
            return None  # expired or revoked: the page treats the visitor as signed out

    async def _read_form(self, request: Request, page: PageRequest) -> Response | None:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_FORM_BYTES:
            return self._error(request, 413, "That form is too large.")
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            return self._error(request, 415, "Please submit the form.")
        try:
            form = await request.form(max_files=0, max_fields=30, max_part_size=MAX_FORM_BYTES)
        except Exception:
            return self._error(request, 400, "That form could not be read.")
        page.form = {k: v for k, v in form.items() if isinstance(v, str) and len(v) <= 4096}
        handle = page.session.handle if page.session is not None else None
        if not form_is_genuine(request, self.settings, form.get(CSRF_FIELD), handle):
            message = "This form has expired or came from another site. Reload the page and retry."
            return self._error(request, 403, message)
        return None

    # -- responses ----------------------------------------------------------------------------

    def _respond(self, request: Request, page: PageRequest, outcome: Outcome) -> Response:
        if _wants_json(request):
            if isinstance(outcome, Redirect):
                return self._json({"ok": True, "redirect": outcome.url}, 200)
            body = {
                "ok": outcome.status_code < 400,
                "errors": outcome.errors,
                "message": outcome.message,
                "notice": outcome.notice,
            }
            return self._json(body, outcome.status_code)
        if isinstance(outcome, Redirect):
            response: Response = RedirectResponse(outcome.url, status_code=303)
            response.headers.update(self.headers)
            return response
        return self._html(request, outcome, page.session)

    def _html(self, request: Request, outcome: Render, session: Session | None) -> Response:
        secret = csrf_token_of(request, self.settings)
        fresh = secret is None
        secret = secret or new_csrf_token()
        context = {
            "base": self.base,
            "app_name": self.settings.app_name,
            "logo_url": self.config.logo_url,
            "csrf_field": CSRF_FIELD,
            "csrf_token": form_token(secret, session.handle if session else None),
            "signed_in": session is not None,
            "username_login": self.services.emailpassword.username_login,
            "pages": set(self.routes),
            "values": {},
            **outcome.context,
            "errors": outcome.errors,
            "message": outcome.message,
            "notice": outcome.notice,
        }
        html = self.templates.get_template(outcome.template).render(context)
        response = HTMLResponse(html, status_code=outcome.status_code, headers=self.headers)
        if fresh:
            response.headers.append("set-cookie", csrf_cookie(self.settings, secret))
        return response

    def _error(self, request: Request, status: int, message: str) -> Response:
        if _wants_json(request):
            return self._json({"ok": False, "errors": {}, "message": message}, status)
        page = Render("message.html", message=message, status_code=status)
        return self._html(request, page, session=None)

    def _json(self, body: dict[str, Any], status: int) -> Response:
        return JSONResponse(body, status_code=status, headers=self.headers)

    def _static(self, below: str) -> Response:
        suffix = below[below.rfind(".") :]
        headers = {"cache-control": "public, max-age=300", "x-content-type-options": "nosniff"}
        return Response(self.static[below], media_type=STATIC_TYPES[suffix], headers=headers)

    def _url(self, page: str) -> str:
        return f"{self.base}/{page}"


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")
