"""The frontend API (SuperTokens' FDI) under `api_base_path`, with an optional tenant prefix.

Routes are thin: parse, validate the form, call the recipe's (overridable) API
handler, turn its result into the wire JSON. Shape errors are 400 with a JSON
`message`; field problems are `FIELD_ERROR`; session problems are 401/403.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, Router

from doorkeep.core.common import FieldError, Status
from doorkeep.core.emailverification import EmailVerified
from doorkeep.core.errors import BadRequest, TemporaryFailure
from doorkeep.flows.change_email import EmailChanged
from doorkeep.flows.change_password import PasswordChanged
from doorkeep.ratelimit import Limit, RateLimitConfig, counter_key
from doorkeep.recipes.apis import APIOptions
from doorkeep.recipes.base import apply_override
from doorkeep.recipes.emailpassword.apis import (
    EmailExistsOk,
    EmailPasswordApis,
    SignInPostOk,
    SignUpPostOk,
)
from doorkeep.recipes.emailpassword.forms import (
    parse_form_fields,
    sign_in_fields,
    validate_form_fields,
)
from doorkeep.recipes.session.apis import SessionApis
from doorkeep.recipes.session.request import Session, SessionError, get_session, mutations_of
from doorkeep.recipes.session.transport import TokenTransport, anti_csrf_mode
from doorkeep.web.http import (
    client_ip,
    json_not_found,
    password_change_input,
    read_json,
    status_json,
    tenant_of,
    too_many_attempts,
    user_json,
)

if TYPE_CHECKING:
    from doorkeep.app import Doorkeep

log = logging.getLogger("doorkeep.fdi")
Handler = Callable[[Request], Awaitable[Response]]


class FrontendApi:
    """The FDI routes of one Doorkeep instance; an ASGI app for paths under api_base_path."""

    def __init__(self, dk: Doorkeep) -> None:
        self.dk = dk
        self.transport = TokenTransport(dk.settings)
        self.anti_csrf = anti_csrf_mode(dk.settings)
        self.base_path = dk.settings.api_base_path.rstrip("/")
        ep_config = dk.emailpassword.config
        self.emailpassword = apply_override(EmailPasswordApis(), ep_config.override_apis)
        self.session = apply_override(SessionApis(), dk.session.config.override_apis)
        self.emailverification = dk.emailverification.apis
        routes: list[Route] = [
            Route("/session/refresh", self._wrap(self.refresh), methods=["POST"]),
            Route("/signout", self._wrap(self.sign_out), methods=["POST"]),
            Route("/jwt/jwks.json", self._wrap(self.jwks), methods=["GET"]),
            Route("/user/email/verify", self._wrap(self.is_email_verified), methods=["GET"]),
            Route("/user/password/change", self._wrap(self.change_password), methods=["POST"]),
            Route("/user/email/change", self._wrap(self.change_email), methods=["POST"]),
        ]
        post = ["POST"]
        for prefix in ("", "/{tenant_id}"):
            routes += [
                Route(f"{prefix}/signup", self._wrap(self.sign_up), methods=["POST"]),
                Route(f"{prefix}/signin", self._wrap(self.sign_in), methods=["POST"]),
                Route(
                    f"{prefix}/emailpassword/email/exists",
                    self._wrap(self.email_exists),
                    methods=["GET"],
                ),
                Route(
                    f"{prefix}/signup/email/exists", self._wrap(self.email_exists), methods=["GET"]
                ),
                Route(
                    f"{prefix}/user/password/reset/token",
                    self._wrap(self.reset_token),
                    methods=post,
                ),
                Route(
                    f"{prefix}/user/password/reset", self._wrap(self.reset_password), methods=post
                ),
                Route(
                    f"{prefix}/user/email/verify/token", self._wrap(self.verify_token), methods=post
                ),
                Route(f"{prefix}/user/email/verify", self._wrap(self.verify_email), methods=post),
            ]
        self.router = Router(routes=routes, default=json_not_found)

    def handles(self, path: str) -> bool:
        return path == self.base_path or path.startswith(self.base_path + "/")

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        # Starlette's Router matches on the path below our mount point.
        inner = dict(scope)
        inner["root_path"] = scope.get("root_path", "") + self.base_path
        inner["path"] = scope["path"][len(self.base_path) :] or "/"
        await self.router(inner, receive, send)

    @property
    def limits(self) -> RateLimitConfig:
        return self.dk.rate_limits

    async def _limited(self, *checks: tuple[str, Limit]) -> Response | None:
        """Count this attempt; a 429 with Retry-After if any limit is exceeded."""
        wait = await self.dk.limiter.attempt(*checks)
        if wait is None:
            return None
        return too_many_attempts(int(wait) + 1)

    # The limits of each route, shared with the HTML pages so both faces count alike.

    def sign_up_checks(self, ip: str) -> tuple[tuple[str, Limit], ...]:
        return ((counter_key("sign-up-ip", ip), self.limits.sign_up_per_ip),)

    def sign_in_checks(
        self, tenant_id: str, account: object, ip: str
    ) -> tuple[tuple[str, Limit], ...]:
        """Per IP, per account+IP, per account; a success resets all but the first."""
        account = str(account).strip().lower()
        return (
            (counter_key("sign-in-ip", ip), self.limits.sign_in_per_ip),
            (
                counter_key("sign-in-account-ip", tenant_id, account, ip),
                self.limits.sign_in_per_account_ip,
            ),
            (counter_key("sign-in-account", tenant_id, account), self.limits.sign_in_per_account),
        )

    def reset_checks(
        self, tenant_id: str, account: object, ip: str
    ) -> tuple[tuple[str, Limit], ...]:
        account = str(account).strip().lower()
        return (
            (counter_key("reset-ip", ip), self.limits.reset_per_ip),
            (counter_key("reset-account", tenant_id, account), self.limits.reset_per_account),
        )

    def verification_email_checks(self, user_id: str) -> tuple[tuple[str, Limit], ...]:
        return (
            (counter_key("verification-email", user_id), self.limits.verification_email_per_user),
        )

    def options(self, request: Request, config: Any) -> APIOptions:
        return APIOptions(request, mutations_of(request), self.dk, config)

    # -- routes ------------------------------------------------------------------------------

    async def sign_up(self, request: Request) -> Response:
        tenant_id = tenant_of(request)
        config = self.dk.emailpassword.config
        fields = parse_form_fields(await read_json(request))
        if blocked := await self._limited(*self.sign_up_checks(client_ip(request))):
            return blocked
        validated = await validate_form_fields(
            self.dk.emailpassword.sign_up_fields, fields, tenant_id
        )
        if isinstance(validated, FieldError):
            return status_json(validated)
        result = await self.emailpassword.sign_up_post(
            validated, tenant_id, self.options(request, config), {}
        )
        if isinstance(result, SignUpPostOk):
            return JSONResponse({"status": "OK", "user": user_json(result.user, request)})
        return status_json(result)

    async def sign_in(self, request: Request) -> Response:
        tenant_id = tenant_of(request)
        config = self.dk.emailpassword.config
        fields = parse_form_fields(await read_json(request))
        form = sign_in_fields(self.dk.emailpassword.identifier_field)
        validated = await validate_form_fields(form, fields, tenant_id)
        if isinstance(validated, FieldError):
            return status_json(validated)
        checks = self.sign_in_checks(tenant_id, validated[0].value, client_ip(request))
        if blocked := await self._limited(*checks):
            return blocked
        result = await self.emailpassword.sign_in_post(
            validated, tenant_id, self.options(request, config), {}
        )
        if isinstance(result, SignInPostOk):
            await self.dk.limiter.succeeded(*(key for key, _ in checks[1:]))
            return JSONResponse({"status": "OK", "user": user_json(result.user, request)})
        return status_json(result)

    async def email_exists(self, request: Request) -> Response:
        tenant_id = tenant_of(request)
        email = request.query_params.get("email")
        if not email:
            raise BadRequest("Please provide the email as a GET param")
        ip = client_ip(request)
        if blocked := await self._limited(
            (counter_key("email-exists-ip", ip), self.limits.email_exists_per_ip)
        ):
            return blocked
        result = await self.emailpassword.email_exists_get(
            email.strip(), tenant_id, self.options(request, self.dk.emailpassword.config), {}
        )
        assert isinstance(result, EmailExistsOk)
        return JSONResponse({"status": "OK", "exists": result.exists})

    async def reset_token(self, request: Request) -> Response:
        tenant_id = tenant_of(request)
        config = self.dk.emailpassword.config
        fields = parse_form_fields(await read_json(request))
        validated = await validate_form_fields(
            [self.dk.emailpassword.identifier_field], fields, tenant_id
        )
        if isinstance(validated, FieldError):
            return status_json(validated)
        checks = self.reset_checks(tenant_id, validated[0].value, client_ip(request))
        if blocked := await self._limited(*checks):
            return blocked
        result = await self.emailpassword.generate_password_reset_token_post(
            validated, tenant_id, self.options(request, config), {}
        )
        return status_json(result)

    async def reset_password(self, request: Request) -> Response:
        tenant_id = tenant_of(request)
        body = await read_json(request)
        fields = parse_form_fields(body)
        token = body.get("token")
        if not isinstance(token, str) or not token:
            raise BadRequest("Please provide the password reset token")
        if body.get("method", "token") != "token":
            raise BadRequest("Unsupported method: only 'token' is supported")
        password_field = next(f for f in self.dk.emailpassword.sign_up_fields if f.id == "password")
        validated = await validate_form_fields([password_field], fields, tenant_id)
        if isinstance(validated, FieldError):
            return status_json(validated)
        result = await self.emailpassword.password_reset_post(
            validated, token, tenant_id, self.options(request, self.dk.emailpassword.config), {}
        )
        return status_json(result)

    async def verify_token(self, request: Request) -> Response:
        session = await get_session(self.dk, request, require_verified_email=False)
        assert session is not None
        if blocked := await self._limited(*self.verification_email_checks(session.user_id)):
            return blocked
        result = await self.emailverification.generate_email_verify_token_post(
            session, self.options(request, self.dk.emailverification.config), {}
        )
        return status_json(result)

    async def verify_email(self, request: Request) -> Response:
        tenant_id = tenant_of(request)
        body = await read_json(request)
        if not isinstance(body, dict):
            raise BadRequest("request body must be a JSON object")
        token = body.get("token")
        if not isinstance(token, str) or not token:
            raise BadRequest("Please provide the email verification token")
        if body.get("method", "token") != "token":
            raise BadRequest("Unsupported method: only 'token' is supported")
        session = await get_session(
            self.dk, request, session_required=False, require_verified_email=False
        )
        result = await self.emailverification.verify_email_post(
            token, session, tenant_id, self.options(request, self.dk.emailverification.config), {}
        )
        if isinstance(result, EmailVerified):
            return JSONResponse(
                {"status": "OK", "user": {"recipeUserId": result.user_id, "email": result.email}}
            )
        return status_json(result)

    async def is_email_verified(self, request: Request) -> Response:
        session = await get_session(self.dk, request, require_verified_email=False)
        assert session is not None
        result = await self.emailverification.is_email_verified_get(
            session, self.options(request, self.dk.emailverification.config), {}
        )
        return JSONResponse({"status": "OK", "isVerified": result.is_verified})

    async def change_password(self, request: Request) -> Response:
        """JSON {oldPassword, newPassword} or a form {current_password, new_password,
        confirm_new_password}; session required."""
        session = await get_session(self.dk, request, require_verified_email=False)
        assert session is not None
        old, new, confirm = await password_change_input(request)
        result = await self.dk.change_password.change_password(
            session.user_id,
            old,
            new,
            tenant_id=session.tenant_id,
            current_session_handle=session.handle,
            confirm_new_password=confirm,
        )
        if isinstance(result, PasswordChanged):
            if result.current_session_revoked:
                self.transport.clear(mutations_of(request), session.mode)
            return JSONResponse({"status": "OK"})
        return status_json(result)

    async def change_email(self, request: Request) -> Response:
        session = await get_session(self.dk, request, require_verified_email=False)
        assert session is not None
        body = await read_json(request)
        if not isinstance(body, dict) or "email" not in body:
            raise BadRequest('Please provide the new email as {"email": ...}')
        result = await self.dk.change_email.change_email(
            session.user_id,
            body["email"],
            tenant_id=session.tenant_id,
            session_handle=session.handle,
            password=body.get("password"),
        )
        await self.after_email_change(session, result)
        return status_json(result)

    async def after_email_change(self, session: Session, result: Status) -> None:
        """An address changed without verification starts unverified: the session must
        stop claiming otherwise."""
        if isinstance(result, EmailChanged) and not self.dk.settings.change_email_verify:
            ev = self.dk.emailverification
            await ev.update_session_claim(session, await ev.is_user_verified(session.user_id, {}))

    async def refresh(self, request: Request) -> Response:
        await self.session.refresh_post(self.options(request, self.dk.session.config), {})
        return JSONResponse({})

    async def sign_out(self, request: Request) -> Response:
        session = await get_session(
            self.dk, request, session_required=False, require_verified_email=False
        )
        await self.session.signout_post(session, self.options(request, self.dk.session.config), {})
        return JSONResponse({"status": "OK"})

    async def jwks(self, _request: Request) -> Response:
        keys = self.dk.core.public.keys
        body = await keys.jwks()
        return JSONResponse(
            body, headers={"cache-control": f"max-age={keys.jwks_max_age()}, must-revalidate"}
        )

    # -- plumbing ----------------------------------------------------------------------------

    def _wrap(self, handler: Handler) -> Handler:
        """Turn the ways a request can fail into the documented answers, never a bare 500."""

        async def endpoint(request: Request) -> Response:
            try:
                response = await handler(request)
            except BadRequest as exc:
                response = JSONResponse({"message": str(exc)}, status_code=400)
            except TemporaryFailure as exc:
                log.warning("%s: %r", request.url.path, exc)
                response = JSONResponse({"status": "GENERAL_ERROR", "message": str(exc)})
            except SessionError as exc:
                if exc.clear_tokens:
                    mode = "cookie" if request.cookies else "header"
                    self.transport.clear(mutations_of(request), mode)
                response = JSONResponse(exc.body, status_code=exc.status_code)
            return response

        return endpoint
