"""The official backend SDK (supertokens-python 0.31.4) with seed 002's passwordless
config — `passwordless.init(flow_type="USER_INPUT_CODE_AND_MAGIC_LINK",
contact_config=ContactEmailOrPhoneConfig())` — on `doorkeep serve` as its core: users
sign in by email code and by SMS link through the SDK's own FDI, the seed's flow 1
changes an email (and a number) with `update_user`, and doorkeep's own API sees the
same users."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from doorkeep import Doorkeep, Settings
from doorkeep.testing import free_port, serve_in_subprocess, serve_in_thread
from tests.e2e.passwordless_stack import new_email, new_phone
from tests.optional import SERVICES, import_or_skip
from tests.sdk_reset import reset_sdk

import_or_skip("supertokens_python", SERVICES)  # CI: a missing SDK fails, never skips

from fastapi import Depends, FastAPI, Request  # noqa: E402 (after the SDK check)
from supertokens_python import InputAppInfo, SupertokensConfig, init  # noqa: E402
from supertokens_python.framework.fastapi import get_middleware  # noqa: E402
from supertokens_python.ingredients.emaildelivery.types import (  # noqa: E402
    EmailDeliveryConfig,
    EmailDeliveryInterface,
)
from supertokens_python.ingredients.smsdelivery.types import (  # noqa: E402
    SMSDeliveryConfig,
    SMSDeliveryInterface,
)
from supertokens_python.recipe import passwordless, session  # noqa: E402
from supertokens_python.recipe.passwordless import ContactEmailOrPhoneConfig  # noqa: E402
from supertokens_python.recipe.passwordless.asyncio import update_user  # noqa: E402
from supertokens_python.recipe.passwordless.interfaces import (  # noqa: E402
    UpdateUserEmailAlreadyExistsError,
    UpdateUserOkResult,
    UpdateUserPhoneNumberAlreadyExistsError,
)
from supertokens_python.recipe.session import SessionContainer  # noqa: E402
from supertokens_python.recipe.session.framework.fastapi import verify_session  # noqa: E402

API_KEY = "passwordless-conformance-key-0123456789"


@dataclass
class Outbox(EmailDeliveryInterface[Any], SMSDeliveryInterface[Any]):
    """The SDK's email and SMS deliveries, overridden to keep what they would send."""

    sent: list[dict[str, Any]] = field(default_factory=list)

    async def send_email(self, template_vars: Any, user_context: dict[str, Any]) -> None:
        self._keep(template_vars.email, template_vars)

    async def send_sms(self, template_vars: Any, user_context: dict[str, Any]) -> None:
        self._keep(template_vars.phone_number, template_vars)

    def _keep(self, to: str, template_vars: Any) -> None:
        self.sent.append(
            {
                "to": to,
                "code": template_vars.user_input_code,
                "link": template_vars.url_with_link_code,
            }
        )

    def last_to(self, to: str) -> dict[str, Any]:
        return next(m for m in reversed(self.sent) if m["to"] == to)


def build_app(core_url: str, api_url: str, outbox: Outbox) -> FastAPI:
    init(
        app_info=InputAppInfo(app_name="seed 002", api_domain=api_url, website_domain=api_url),
        supertokens_config=SupertokensConfig(connection_uri=core_url, api_key=API_KEY),
        framework="fastapi",
        recipe_list=[
            session.init(),
            passwordless.init(
                flow_type="USER_INPUT_CODE_AND_MAGIC_LINK",
                contact_config=ContactEmailOrPhoneConfig(),
                email_delivery=EmailDeliveryConfig(service=outbox),
                sms_delivery=SMSDeliveryConfig(service=outbox),
            ),
        ],
        mode="asgi",
    )
    app = FastAPI()
    app.add_middleware(get_middleware())

    # Seed 002, flow 1 (its Python, on 0.31's update_user(recipe_user_id, ...)).
    @app.post("/change-email")
    async def change_email(
        request: Request, s: SessionContainer = Depends(verify_session())
    ) -> dict[str, Any]:
        body = await request.json()
        response = await update_user(s.get_recipe_user_id(), email=body["email"])
        if isinstance(response, UpdateUserOkResult):
            return {"status": "OK"}
        if isinstance(response, UpdateUserEmailAlreadyExistsError):
            return {"status": "EMAIL_ALREADY_EXISTS_ERROR"}
        raise Exception("Should never reach here")

    @app.post("/change-phone")
    async def change_phone(
        request: Request, s: SessionContainer = Depends(verify_session())
    ) -> dict[str, Any]:
        body = await request.json()
        response = await update_user(s.get_recipe_user_id(), phone_number=body["phoneNumber"])
        if isinstance(response, UpdateUserOkResult):
            return {"status": "OK"}
        if isinstance(response, UpdateUserPhoneNumberAlreadyExistsError):
            return {"status": "PHONE_NUMBER_ALREADY_EXISTS_ERROR"}
        raise Exception("Should never reach here")

    @app.get("/me")
    async def me(s: SessionContainer = Depends(verify_session())) -> dict[str, Any]:
        return {"userId": s.get_user_id()}

    return app


@dataclass
class SdkStack:
    api: str
    outbox: Outbox
    database_url: str


@pytest.fixture(scope="module")
def sdk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SdkStack]:
    reset_sdk()  # whatever another module initialised
    database_url = f"sqlite:///{tmp_path_factory.mktemp('pl-sdk') / 'core.sqlite3'}"
    outbox = Outbox()
    api_port = free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    try:
        with (
            serve_in_subprocess(database_url, DOORKEEP_CORE_API_KEYS=API_KEY) as (_, core),
            serve_in_thread(build_app(core, api_url, outbox), port=api_port),
        ):
            yield SdkStack(api_url, outbox, database_url)
    finally:
        reset_sdk()


def sign_in_by_code(client: httpx.Client, outbox: Outbox, body: dict[str, str]) -> httpx.Response:
    created = client.post("/auth/signinup/code", json=body)
    assert created.json()["status"] == "OK", created.text
    assert created.json()["flowType"] == "USER_INPUT_CODE_AND_MAGIC_LINK"
    contact = body.get("email") or body["phoneNumber"]
    code = outbox.last_to(contact)["code"]
    answer = client.post(
        "/auth/signinup/code/consume",
        json={
            "preAuthSessionId": created.json()["preAuthSessionId"],
            "deviceId": created.json()["deviceId"],
            "userInputCode": code,
        },
    )
    assert answer.json()["status"] == "OK", answer.text
    return answer


def bearer(response: httpx.Response) -> dict[str, str]:
    return {"authorization": f"Bearer {response.headers['st-access-token']}"}


def in_doorkeep(stack: SdkStack, work: Any) -> Any:
    async def run() -> Any:
        async with Doorkeep(Settings(database_url=stack.database_url)) as dk:
            return await work(dk)

    return asyncio.run(run())


def test_email_code_sign_in_and_the_seeds_change_of_email(sdk: SdkStack) -> None:
    with httpx.Client(base_url=sdk.api) as client:
        first, second, taken = new_email(), new_email(), new_email()
        signed_up = sign_in_by_code(client, sdk.outbox, {"email": first})
        assert signed_up.json()["createdNewRecipeUser"] is True
        user_id = signed_up.json()["user"]["id"]
        assert client.get("/me", headers=bearer(signed_up)).json() == {"userId": user_id}
        again = sign_in_by_code(client, sdk.outbox, {"email": first})
        assert again.json()["createdNewRecipeUser"] is False
        assert again.json()["user"]["id"] == user_id
        sign_in_by_code(client, sdk.outbox, {"email": taken})

        auth = bearer(signed_up)
        assert client.post("/change-email", json={"email": taken}, headers=auth).json() == {
            "status": "EMAIL_ALREADY_EXISTS_ERROR"
        }
        assert client.post("/change-email", json={"email": second}, headers=auth).json() == {
            "status": "OK"
        }
        moved = sign_in_by_code(client, sdk.outbox, {"email": second})
        assert moved.json()["user"]["id"] == user_id
        assert moved.json()["user"]["emails"] == [second]

    async def seen_by_doorkeep(dk: Doorkeep) -> tuple[str | None, str | None]:
        by_new = await dk.passwordless.get_user_by_email(second)
        by_old = await dk.passwordless.get_user_by_email(first)
        return (by_new.id if by_new else None, by_old.id if by_old else None)

    assert in_doorkeep(sdk, seen_by_doorkeep) == (user_id, None)


def test_sms_link_on_another_device_and_a_new_number(sdk: SdkStack) -> None:
    with httpx.Client(base_url=sdk.api) as client, httpx.Client(base_url=sdk.api) as other:
        phone, new, taken = new_phone(), new_phone(), new_phone()
        created = client.post("/auth/signinup/code", json={"phoneNumber": phone})
        assert created.json()["status"] == "OK"
        link = sdk.outbox.last_to(phone)["link"]
        parts = urlsplit(link)
        assert parts.path == "/auth/verify"
        pre_auth_session_id = parse_qs(parts.query)["preAuthSessionId"][0]
        opened = other.post(
            "/auth/signinup/code/consume",
            json={"preAuthSessionId": pre_auth_session_id, "linkCode": parts.fragment},
        )
        assert opened.json()["status"] == "OK", opened.text
        user = opened.json()["user"]
        assert user["phoneNumbers"] == [phone]
        # Wrong codes through the SDK: doorkeep counts them, the SDK relays the counts.
        again = client.post("/auth/signinup/code", json={"phoneNumber": phone}).json()
        wrong = "000000" if sdk.outbox.last_to(phone)["code"] != "000000" else "111111"
        answer = client.post(
            "/auth/signinup/code/consume",
            json={
                "preAuthSessionId": again["preAuthSessionId"],
                "deviceId": again["deviceId"],
                "userInputCode": wrong,
            },
        )
        assert answer.json() == {
            "status": "INCORRECT_USER_INPUT_CODE_ERROR",
            "failedCodeInputAttemptCount": 1,
            "maximumCodeInputAttempts": 5,
        }

        sign_in_by_code(client, sdk.outbox, {"phoneNumber": taken})
        auth = bearer(opened)
        assert client.post("/change-phone", json={"phoneNumber": taken}, headers=auth).json() == {
            "status": "PHONE_NUMBER_ALREADY_EXISTS_ERROR"
        }
        assert client.post("/change-phone", json={"phoneNumber": new}, headers=auth).json() == {
            "status": "OK"
        }
        moved = sign_in_by_code(client, sdk.outbox, {"phoneNumber": new})
        assert moved.json()["user"]["id"] == user["id"]
