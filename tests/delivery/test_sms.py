"""SMS delivery (issue 17, item 2): the URL setting, the Twilio sender through the
official library against a loopback stand-in for Twilio's API (real HTTP, real form
and auth), retries with backoff, templates, the outbox, overrides; and the
passwordless emails' three templates."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response

from doorkeep import Settings
from doorkeep.delivery import PasswordlessLoginEmail
from doorkeep.delivery.render import EmailRenderer
from doorkeep.delivery.sms import (
    ConsoleSmsSender,
    OutboxSmsSender,
    PasswordlessLoginSms,
    RenderedSms,
    SmsDelivery,
    SmsDeliveryConfig,
    TwilioSmsSender,
    sms_sender_from_url,
)

SID, TOKEN = "AC" + "0" * 32, "secret-token"
LINK = "https://app.example/auth/verify?preAuthSessionId=abc&tenantId=public#linkcode"


@dataclass
class StandIn:
    """Twilio's Messages API on loopback: records each request, answers `statuses` in turn."""

    statuses: list[int] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    base_url: str = ""


@pytest.fixture
def twilio_api() -> Iterator[StandIn]:
    stand_in = StandIn()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            form = parse_qs(self.rfile.read(length).decode())
            stand_in.requests.append(
                {"path": self.path, "form": form, "auth": self.headers.get("authorization")}
            )
            status = stand_in.statuses.pop(0) if stand_in.statuses else 201
            body = {"sid": "SM" + "1" * 32, "status": "queued"} if status == 201 else {}
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    stand_in.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield stand_in
    server.shutdown()
    server.server_close()


class LoopbackClient(TwilioHttpClient):
    """Twilio's own HTTP client, sent to the stand-in instead of api.twilio.com."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        assert url.startswith("https://api.twilio.com/")
        return super().request(
            method, self.base_url + url[len("https://api.twilio.com") :], *args, **kwargs
        )


def twilio_sender(api: StandIn, from_: str = "+15005550006") -> TwilioSmsSender:
    return TwilioSmsSender(SID, TOKEN, from_, http_client=LoopbackClient(api.base_url))


def login_sms(code: str | None = "123456", link: str | None = LINK) -> PasswordlessLoginSms:
    return PasswordlessLoginSms("+14155552671", code, link, 900_000, "abc", "public")


def test_the_url_names_a_twilio_sender() -> None:
    sender = sms_sender_from_url(f"twilio://{SID}:{TOKEN}@%2B15005550006")
    assert isinstance(sender, TwilioSmsSender)
    assert (sender.account_sid, sender.auth_token, sender.from_) == (SID, TOKEN, "+15005550006")
    service = sms_sender_from_url(f"twilio://{SID}:{TOKEN}@MGabcDEF")
    assert isinstance(service, TwilioSmsSender) and service.from_ == "MGabcDEF"  # case kept
    for bad in ("smtp://a:b@c", f"twilio://{SID}@+15005550006", "twilio://:x@+1"):
        with pytest.raises(ValueError):
            sms_sender_from_url(bad)
    assert isinstance(SmsDelivery.create(Settings()).sender, ConsoleSmsSender)
    configured = SmsDelivery.create(Settings(sms_url=f"twilio://{SID}:{TOKEN}@+15005550006"))
    assert isinstance(configured.sender, TwilioSmsSender)


def test_twilio_is_imported_only_when_a_message_is_sent() -> None:
    code = (
        "import sys; from doorkeep.delivery.sms import SmsDelivery;"
        "from doorkeep import Settings;"
        f"SmsDelivery.create(Settings(sms_url='twilio://{SID}:{TOKEN}@+15005550006'));"
        "assert 'twilio' not in sys.modules, 'imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


async def test_the_twilio_sender_posts_a_message_with_the_official_library(
    twilio_api: StandIn,
) -> None:
    await twilio_sender(twilio_api).send(RenderedSms("+14155552671", "123456 is your code"))
    await twilio_sender(twilio_api, "MGservice").send(RenderedSms("+14155552671", "again"))
    first, second = twilio_api.requests
    assert first["path"] == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert first["form"] == {
        "To": ["+14155552671"],
        "From": ["+15005550006"],
        "Body": ["123456 is your code"],
    }
    assert first["auth"] == "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    assert second["form"]["MessagingServiceSid"] == ["MGservice"]
    assert "From" not in second["form"]


async def test_a_failed_send_is_retried_with_backoff(twilio_api: StandIn) -> None:
    """Mutant tried: delays = (0.0,) (no retry) leaves the outbox of the stand-in at one
    failed request: fails here."""
    twilio_api.statuses = [500, 503]  # Twilio down twice, then up
    settings = Settings(sms_retry_delays=(0.01, 0.02, 0.04))
    delivery = SmsDelivery.create(settings, SmsDeliveryConfig(sender=twilio_sender(twilio_api)))
    await delivery.send_sms(login_sms(), {})
    await delivery.background.drain(timeout=10)
    assert len(twilio_api.requests) == 3
    assert all(r["form"]["To"] == ["+14155552671"] for r in twilio_api.requests)


async def test_templates_for_code_link_and_both(tmp_path: Path) -> None:
    outbox = OutboxSmsSender()
    delivery = SmsDelivery.create(Settings(app_name="Acme"), SmsDeliveryConfig(sender=outbox))
    for sms in (login_sms(link=None), login_sms(code=None), login_sms()):
        await delivery.send_sms(sms, {})
    code, link, both = await outbox.wait_for(3)
    assert code.body == "123456 is your Acme sign-in code. It expires in 15 minutes."
    assert LINK in link.body and "123456" not in link.body
    assert "123456" in both.body and LINK in both.body
    with pytest.raises(ValueError):
        await delivery.send_sms(login_sms(code=None, link=None), {})

    (tmp_path / "sms_passwordless_code.txt").write_text("Code {{ code }} for {{ app_name }}")
    own = SmsDelivery.create(
        Settings(app_name="Acme"), SmsDeliveryConfig(sender=outbox, template_dir=tmp_path)
    )
    await own.send_sms(login_sms(link=None), {})
    assert (await outbox.wait_for(4))[3].body == "Code 123456 for Acme"


async def test_send_sms_is_overridable() -> None:
    outbox = OutboxSmsSender()
    seen: list[PasswordlessLoginSms] = []

    def override(original: SmsDelivery) -> SmsDelivery:
        original_send = original.send_sms

        async def send_sms(sms: PasswordlessLoginSms, user_context: dict[str, Any]) -> None:
            seen.append(sms)
            if not sms.phone_number.startswith("+1"):
                return  # e.g. this app texts only North America
            await original_send(sms, user_context)

        original.send_sms = send_sms  # type: ignore[method-assign]
        return original

    delivery = SmsDelivery.create(Settings(), SmsDeliveryConfig(sender=outbox, override=override))
    await delivery.send_sms(login_sms(), {})
    await delivery.send_sms(
        PasswordlessLoginSms("+442079460958", "1", None, 60_000, "x", "public"), {}
    )
    await delivery.background.drain(timeout=5)
    assert len(seen) == 2 and [m.to for m in outbox.sent] == ["+14155552671"]


def test_the_passwordless_emails_have_three_templates() -> None:
    renderer = EmailRenderer(Settings(app_name="Acme"))

    def email(code: str | None, link: str | None) -> PasswordlessLoginEmail:
        return PasswordlessLoginEmail("ada@example.com", code, link, 900_000, "abc", "public")

    code = renderer.render(email("123456", None))
    assert code.to == "ada@example.com" and code.subject == "Sign in to Acme"
    assert "123456" in code.text and "123456" in code.html and "href" not in code.html
    assert "15 minutes" in code.text
    link = renderer.render(email(None, LINK))
    assert LINK in link.text and "123456" not in link.text
    assert 'href="https://app.example/auth/verify?preAuthSessionId=abc&amp;tenantId=public' in (
        link.html
    )
    both = renderer.render(email("123456", LINK))
    assert "123456" in both.text and LINK in both.text and "123456" in both.html
    with pytest.raises(ValueError):
        renderer.render(email(None, None))
