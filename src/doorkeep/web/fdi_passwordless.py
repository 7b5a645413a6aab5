"""The passwordless routes of the frontend API (SuperTokens' FDI): /signinup/code,
…/resend, …/consume, /passwordless/email/exists, …/phonenumber/exists, and the change of
phone number. Mounted by `FrontendApi` (web/fdi.py) when passwordless is on; thin, as
every route there: read the body, call the flow, turn its status into the wire JSON.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from doorkeep.core.common import Status
from doorkeep.core.errors import BadRequest, TooManyAttemptsError
from doorkeep.core.passwordless_results import (
    ExpiredUserInputCodeError,
    IncorrectUserInputCodeError,
)
from doorkeep.flows.change_phone_number import (
    ChangePhoneNumber,
    PhoneNumberChanged,
    PhoneNumberCodeSent,
)
from doorkeep.flows.passwordless import Passwordless
from doorkeep.recipes.passwordless.apis import ConsumeCodePostOk, CreateCodePostOk, ExistsOk
from doorkeep.recipes.session import SessionRecipe
from doorkeep.recipes.session.request import get_session
from doorkeep.web.http import (
    fdi_major,
    read_json,
    status_json,
    tenant_of,
    too_many_attempts,
    user_json,
)

Handler = Callable[[Request], Awaitable[Response]]


class PasswordlessApi:
    def __init__(
        self,
        flow: Passwordless,
        change_phone: ChangePhoneNumber,
        session: SessionRecipe,
        wrap: Callable[[Handler], Handler],
    ) -> None:
        """`wrap` is FrontendApi's: it turns a route's failures into documented answers."""
        self.flow = flow
        self.change_phone = change_phone
        self.session = session
        self.wrap = wrap

    def session_routes(self) -> list[Route]:
        """The routes of a signed-in user (no tenant prefix, as /user/email/change)."""
        phone = self.wrap(self.change_phone_number)
        return [Route("/user/phone/change", phone, methods=["POST"])]

    def routes(self, prefix: str) -> list[Route]:
        """The sign-in routes, under `prefix` ("" or "/{tenant_id}")."""
        exists = self.wrap(self.passwordless_phone_number_exists)
        return [
            Route(f"{prefix}/signinup/code", self.wrap(self.create_code), methods=["POST"]),
            Route(f"{prefix}/signinup/code/resend", self.wrap(self.resend_code), methods=["POST"]),
            Route(
                f"{prefix}/signinup/code/consume", self.wrap(self.consume_code), methods=["POST"]
            ),
            Route(
                f"{prefix}/passwordless/email/exists",
                self.wrap(self.passwordless_email_exists),
                methods=["GET"],
            ),
            # The SDKs' spelling, and the FDI specification's.
            Route(f"{prefix}/passwordless/phonenumber/exists", exists, methods=["GET"]),
            Route(f"{prefix}/passwordless/phoneNumber/exists", exists, methods=["GET"]),
        ]

    async def create_code(self, request: Request) -> Response:
        body = await read_json_object(request)
        result = await self.flow.create_code(
            request, body.get("email"), body.get("phoneNumber"), tenant_of(request)
        )
        if isinstance(result, CreateCodePostOk):
            return JSONResponse(result.to_json())
        return passwordless_json(result)

    async def resend_code(self, request: Request) -> Response:
        body = await read_json_object(request)
        result = await self.flow.resend_code(
            request, body.get("deviceId"), body.get("preAuthSessionId"), tenant_of(request)
        )
        return passwordless_json(result)

    async def consume_code(self, request: Request) -> Response:
        body = await read_json_object(request)
        result = await self.flow.consume_code(
            request,
            body.get("preAuthSessionId"),
            tenant_of(request),
            user_input_code=body.get("userInputCode"),
            device_id=body.get("deviceId"),
            link_code=body.get("linkCode"),
        )
        if isinstance(result, ConsumeCodePostOk):
            user = user_json(result.user, request)
            if fdi_major(request) >= 4:
                return JSONResponse(
                    {
                        "status": "OK",
                        "createdNewRecipeUser": result.created_new_recipe_user,
                        "user": user,
                    }
                )
            if result.user.phone_numbers:  # FDI 3's user has the contact it signed in with
                user["phoneNumber"] = result.user.phone_numbers[0]
            return JSONResponse(
                {"status": "OK", "createdNewUser": result.created_new_recipe_user, "user": user}
            )
        return passwordless_json(result)

    async def passwordless_email_exists(self, request: Request) -> Response:
        email = request.query_params.get("email")
        if not email:
            raise BadRequest("Please provide the email as a GET param")
        result = await self.flow.email_exists(request, email, tenant_of(request))
        return exists_json(result)

    async def passwordless_phone_number_exists(self, request: Request) -> Response:
        phone_number = request.query_params.get("phoneNumber")
        if not phone_number:
            raise BadRequest("Please provide the phoneNumber as a GET param")
        result = await self.flow.phone_number_exists(request, phone_number, tenant_of(request))
        return exists_json(result)

    async def change_phone_number(self, request: Request) -> Response:
        """Step 1 {"phoneNumber"}: a code goes to the new number (PHONE_NUMBER_CODE_SENT
        with the device); step 2 {"preAuthSessionId", "deviceId", "userInputCode"}: the
        account takes the number that received the code. Session required."""
        session = await get_session(self.session, request, require_verified_email=False)
        assert session is not None
        body = await read_json_object(request)
        flow = self.change_phone
        if "phoneNumber" in body:
            sent = await flow.send_code(request, session, body["phoneNumber"])
            if isinstance(sent, PhoneNumberCodeSent):
                return JSONResponse(sent.to_json())
            if isinstance(sent, PhoneNumberChanged):
                return JSONResponse({"status": "OK", "phoneNumber": sent.phone_number})
            return passwordless_json(sent)
        result = await flow.confirm(
            request,
            session,
            body.get("preAuthSessionId"),
            body.get("deviceId"),
            body.get("userInputCode"),
        )
        if isinstance(result, PhoneNumberChanged):
            return JSONResponse({"status": "OK", "phoneNumber": result.phone_number})
        return passwordless_json(result)


async def read_json_object(request: Request) -> dict[str, Any]:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object")
    return body


def passwordless_json(result: Status) -> Response:
    """A passwordless status: too many attempts is the 429 of sign-in; a wrong or expired
    code says how many tries it has left."""
    if isinstance(result, TooManyAttemptsError):
        return too_many_attempts(result.retry_after)
    if isinstance(result, IncorrectUserInputCodeError | ExpiredUserInputCodeError):
        return JSONResponse(
            {
                "status": result.status,
                "failedCodeInputAttemptCount": result.failed_code_input_attempt_count,
                "maximumCodeInputAttempts": result.maximum_code_input_attempts,
            }
        )
    return status_json(result)


def exists_json(result: ExistsOk | TooManyAttemptsError) -> Response:
    if isinstance(result, TooManyAttemptsError):
        return too_many_attempts(result.retry_after)
    return JSONResponse({"status": "OK", "exists": result.exists})
