"""The frontend API (SuperTokens' FDI) under `api_base_path`, with an optional tenant prefix.

Routes are thin: read the request's shape, call the flow (or, where there is no flow,
the recipe's overridable API handler), turn its status into the wire JSON. Shape
errors are 400 with a JSON `message`; field problems are `FIELD_ERROR`; session
problems are 401/403; too many attempts are 429 with Retry-After.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, Router

from doorkeep.core.emailverification import EmailVerified
from doorkeep.core.errors import BadRequest, TemporaryFailure, TooManyAttemptsError
from doorkeep.core.keys import KeyService
from doorkeep.flows import Flows
from doorkeep.flows.change_password import PasswordChanged
from doorkeep.recipes.emailpassword.apis import EmailExistsOk, SignInPostOk, SignUpPostOk
from doorkeep.recipes.emailpassword.forms import parse_form_fields
from doorkeep.recipes.emailverification import EmailVerificationRecipe
from doorkeep.recipes.jwt import JwtRecipe
from doorkeep.recipes.session import SessionRecipe
from doorkeep.recipes.session.request import (
    SessionError,
    api_options,
    clear_tokens,
    get_session,
    mutations_of,
)
from doorkeep.web.fdi_passwordless import PasswordlessApi
from doorkeep.web.http import (
    json_not_found,
    password_change_input,
    read_json,
    status_json,
    tenant_of,
    too_many_attempts,
    user_json,
)

log = logging.getLogger("doorkeep.fdi")
Handler = Callable[[Request], Awaitable[Response]]


class FrontendApi:
    """The FDI routes of one Doorkeep instance; an ASGI app for paths under api_base_path."""

    def __init__(
        self,
        api_base_path: str,
        session: SessionRecipe,
        emailverification: EmailVerificationRecipe,
        flows: Flows,
        keys: KeyService,
        *,
        jwt: JwtRecipe | None = None,
    ) -> None:
        self.base_path = api_base_path.rstrip("/")
        self.session = session
        self.emailverification = emailverification
        self.flows = flows
        self.keys = keys
        self.jwt = jwt
        routes: list[Route] = [
            Route("/session/refresh", self._wrap(self.refresh), methods=["POST"]),
            Route("/signout", self._wrap(self.sign_out), methods=["POST"]),
            Route("/jwt/jwks.json", self._wrap(self.jwks), methods=["GET"]),
            Route(
                "/.well-known/openid-configuration",
                self._wrap(self.openid_configuration),
                methods=["GET"],
            ),
            Route("/user/email/verify", self._wrap(self.is_email_verified), methods=["GET"]),
            Route("/user/password/change", self._wrap(self.change_password), methods=["POST"]),
            Route("/user/email/change", self._wrap(self.change_email), methods=["POST"]),
        ]
        post = ["POST"]
        passwordless = (
            PasswordlessApi(flows.passwordless, flows.change_phone_number, session, self._wrap)
            if flows.passwordless.passwordless.enabled
            else None
        )
        if passwordless is not None:
            routes += passwordless.session_routes()
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
            if passwordless is not None:
                routes += passwordless.routes(prefix)
        self.router = Router(routes=routes, default=json_not_found)

    def handles(self, path: str) -> bool:
        return path == self.base_path or path.startswith(self.base_path + "/")

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        # Mounted at base_path, as Starlette's Mount does: `path` stays whole and
        # `root_path` grows, and the router matches the path below root_path. (Cutting
        # `path` too made it cut twice: `/auth/auth/signin` was the public tenant's.)
        inner = dict(scope)
        inner["root_path"] = scope.get("root_path", "") + self.base_path
        await self.router(inner, receive, send)

    # -- routes ------------------------------------------------------------------------------

    async def sign_up(self, request: Request) -> Response:
        tenant_id = tenant_of(request)
        fields = parse_form_fields(await read_json(request))
        result = await self.flows.sign_up.sign_up(request, fields, tenant_id)
        if isinstance(result, SignUpPostOk):
            return JSONResponse({"status": "OK", "user": user_json(result.user, request)})
        if isinstance(result, TooManyAttemptsError):
            return too_many_attempts(result.retry_after)
        return status_json(result)

    async def sign_in(self, request: Request) -> Response:
        tenant_id = tenant_of(request)
        fields = parse_form_fields(await read_json(request))
        result = await self.flows.sign_in.sign_in(request, fields, tenant_id)
        if isinstance(result, SignInPostOk):
            return JSONResponse({"status": "OK", "user": user_json(result.user, request)})
        if isinstance(result, TooManyAttemptsError):
            return too_many_attempts(result.retry_after)
        return status_json(result)

    async def email_exists(self, request: Request) -> Response:
        tenant_id = tenant_of(request)
        email = request.query_params.get("email")
        if not email:
            raise BadRequest("Please provide the email as a GET param")
        result = await self.flows.sign_up.email_exists(request, email, tenant_id)
        if isinstance(result, EmailExistsOk):
            return JSONResponse({"status": "OK", "exists": result.exists})
        if isinstance(result, TooManyAttemptsError):
            return too_many_attempts(result.retry_after)
        return status_json(result)  # an override may answer otherwise (GENERAL_ERROR, ...)

    async def reset_token(self, request: Request) -> Response:
        tenant_id = tenant_of(request)
        fields = parse_form_fields(await read_json(request))
        result = await self.flows.password_reset.request_link(request, fields, tenant_id)
        if isinstance(result, TooManyAttemptsError):
            return too_many_attempts(result.retry_after)
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
        result = await self.flows.password_reset.reset_password(request, fields, token, tenant_id)
        return status_json(result)

    async def verify_token(self, request: Request) -> Response:
        session = await get_session(self.session, request, require_verified_email=False)
        assert session is not None
        result = await self.flows.email_verification.send_link(request, session)
        if isinstance(result, TooManyAttemptsError):
            return too_many_attempts(result.retry_after)
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
            self.session, request, session_required=False, require_verified_email=False
        )
        result = await self.flows.email_verification.verify(request, token, session, tenant_id)
        if isinstance(result, EmailVerified):
            return JSONResponse(
                {"status": "OK", "user": {"recipeUserId": result.user_id, "email": result.email}}
            )
        return status_json(result)

    async def is_email_verified(self, request: Request) -> Response:
        session = await get_session(self.session, request, require_verified_email=False)
        assert session is not None
        ev = self.emailverification
        result = await ev.apis.is_email_verified_get(session, api_options(request, ev.config), {})
        return JSONResponse({"status": "OK", "isVerified": result.is_verified})

    async def change_password(self, request: Request) -> Response:
        """JSON {oldPassword, newPassword} or a form {current_password, new_password,
        confirm_new_password}; session required."""
        session = await get_session(self.session, request, require_verified_email=False)
        assert session is not None
        old, new, confirm = await password_change_input(request)
        result = await self.flows.change_password.change_password(
            session.user_id,
            old,
            new,
            tenant_id=session.tenant_id,
            current_session_handle=session.handle,
            confirm_new_password=confirm,
        )
        if isinstance(result, PasswordChanged):
            if result.current_session_revoked:
                self.session.transport.clear(mutations_of(request), session.mode)
            return JSONResponse({"status": "OK"})
        return status_json(result)

    async def change_email(self, request: Request) -> Response:
        session = await get_session(self.session, request, require_verified_email=False)
        assert session is not None
        body = await read_json(request)
        if not isinstance(body, dict) or "email" not in body:
            raise BadRequest('Please provide the new email as {"email": ...}')
        result = await self.flows.change_email.change_email_in_session(
            session, body["email"], password=body.get("password")
        )
        return status_json(result)

    # -- sessions ----------------------------------------------------------------------------

    async def refresh(self, request: Request) -> Response:
        await self.session.apis.refresh_post(api_options(request, self.session.config), {})
        return JSONResponse({})

    async def sign_out(self, request: Request) -> Response:
        session = await get_session(
            self.session, request, session_required=False, require_verified_email=False
        )
        options = api_options(request, self.session.config)
        await self.session.apis.signout_post(session, options, {})
        return JSONResponse({"status": "OK"})

    async def jwks(self, _request: Request) -> Response:
        body = await self.keys.jwks()
        return JSONResponse(
            body, headers={"cache-control": f"max-age={self.keys.jwks_max_age()}, must-revalidate"}
        )

    async def openid_configuration(self, request: Request) -> Response:
        """OpenID discovery: the issuer (api_domain + api_base_path) and its JWKS."""
        if self.jwt is None:
            return JSONResponse({"message": "Not found"}, status_code=404)
        options = api_options(request, self.jwt.config)
        found = await self.jwt.apis.open_id_discovery_configuration_get(options, {})
        return JSONResponse(found.to_json())

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
                    clear_tokens(self.session, request)  # the integrations' rule too
                response = JSONResponse(exc.body, status_code=exc.status_code)
            return response

        return endpoint
