"""The passwordless recipe (issue 17, items 1-2): codes sent by email and SMS as the flow
type says, the magic link SuperTokens' frontends expect, seed-style overrides, and the
seed's update_user."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import pytest

from doorkeep import Settings
from doorkeep.core.context import UserContext
from doorkeep.core.emailpassword import EmailAlreadyExistsError, UpdateOk
from doorkeep.core.passwordless import CodeCreated, ConsumeOk, CreateResult
from doorkeep.core.services import Core
from doorkeep.delivery import EmailDelivery, EmailDeliveryConfig, OutboxSender
from doorkeep.delivery.sms import OutboxSmsSender, SmsDelivery, SmsDeliveryConfig
from doorkeep.recipes.passwordless import (
    FlowType,
    PasswordlessConfig,
    PasswordlessFunctions,
    PasswordlessRecipe,
)
from doorkeep.recipes.session import SessionRecipe


@pytest.fixture
async def core(database_url: str) -> AsyncIterator[Core]:
    core = Core(
        Settings(
            database_url=database_url,
            website_domain="https://app.example",
            passwordless="email_or_phone",
        )
    )
    await core.start()
    yield core
    await core.close()


def recipe(core: Core, config: PasswordlessConfig | None = None) -> PasswordlessRecipe:
    settings = core.settings
    emails = EmailDelivery.create(settings, EmailDeliveryConfig(sender=OutboxSender()))
    texts = SmsDelivery.create(settings, SmsDeliveryConfig(sender=OutboxSmsSender()))
    return PasswordlessRecipe(core.public, emails, texts, SessionRecipe(core.public), config)


def outbox(sender: object) -> OutboxSender:
    assert isinstance(sender, OutboxSender)
    return sender


def sms_outbox(sender: object) -> OutboxSmsSender:
    assert isinstance(sender, OutboxSmsSender)
    return sender


async def test_an_emailed_magic_link_signs_in(core: Core) -> None:
    pl = recipe(core)
    assert pl.enabled and pl.flow_type is FlowType.USER_INPUT_CODE_AND_MAGIC_LINK
    created = await pl.create_and_send_code(email="ada@example.com")
    assert isinstance(created, CodeCreated)
    [email] = await outbox(pl.email_delivery.sender).wait_for(1)
    assert email.to == "ada@example.com" and created.user_input_code in email.text
    link = re.search(r"https://\S+", email.text)
    assert link is not None
    parts = urlsplit(link.group(0))
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://app.example/auth/verify"
    query = parse_qs(parts.query)
    assert query == {"preAuthSessionId": [created.pre_auth_session_id], "tenantId": ["public"]}
    assert parts.fragment == created.link_code
    signed = await pl.consume_code(query["preAuthSessionId"][0], link_code=parts.fragment)
    assert isinstance(signed, ConsumeOk) and signed.created_new_recipe_user


async def test_a_code_only_flow_texts_the_code_and_no_link(core: Core) -> None:
    pl = recipe(core, PasswordlessConfig(flow_type=FlowType.USER_INPUT_CODE))
    created = await pl.create_and_send_code(phone_number="+1 415 555 2671")
    assert isinstance(created, CodeCreated)
    [sms] = await sms_outbox(pl.sms_delivery.sender).wait_for(1)
    assert sms.to == "+14155552671" and created.user_input_code in sms.body
    assert "http" not in sms.body
    again = await pl.resend_code(created.device_id)
    assert isinstance(again, CodeCreated)
    texts = await sms_outbox(pl.sms_delivery.sender).wait_for(2)
    assert again.user_input_code in texts[1].body
    signed = await pl.consume_code(
        again.pre_auth_session_id, device_id=again.device_id, user_input_code=again.user_input_code
    )
    assert isinstance(signed, ConsumeOk)


async def test_functions_are_overridable_seed_style(core: Core) -> None:
    calls: list[str] = []

    def override(original: PasswordlessFunctions) -> PasswordlessFunctions:
        original_create = original.create_code

        async def create_code(
            email: str | None,
            phone_number: str | None,
            user_input_code: str | None,
            tenant_id: str,
            user_context: UserContext,
        ) -> CreateResult:
            calls.append(user_context["why"])
            return await original_create(email, phone_number, "424242", tenant_id, user_context)

        original.create_code = create_code  # type: ignore[method-assign]
        return original

    pl = recipe(core, PasswordlessConfig(override_functions=override))
    created = await pl.create_and_send_code(email="ada@example.com", user_context={"why": "x"})
    assert isinstance(created, CodeCreated) and created.user_input_code == "424242"
    assert calls == ["x"]


async def test_the_seeds_update_user_changes_the_email(core: Core) -> None:
    pl = recipe(core)
    signed = []
    for address in ("ada@example.com", "bob@example.com"):
        created = await pl.create_and_send_code(email=address)
        assert isinstance(created, CodeCreated)
        result = await pl.consume_code(created.pre_auth_session_id, link_code=created.link_code)
        assert isinstance(result, ConsumeOk)
        signed.append(result)
    ada, bob = signed
    assert await pl.update_user(ada.recipe_user_id, email="ada@new.example") == UpdateOk()
    assert await pl.update_user(bob.recipe_user_id, email="ada@new.example") == (
        EmailAlreadyExistsError()
    )
    found = await pl.get_user_by_email("ada@new.example")
    assert found is not None and found.id == ada.user.id
