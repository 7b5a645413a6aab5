"""SMTP over implicit TLS (`smtps://`) and STARTTLS (`smtp+starttls://`) against a real
aiosmtpd server with a self-signed certificate made here, and the password-change
notice delivered through it.

The client trusts the certificate the way an operator would: through OpenSSL's
SSL_CERT_FILE, not by turning verification off (a test proves it stays on)."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from doorkeep import Doorkeep, Settings
from doorkeep.delivery import RenderedEmail, SMTPSender
from doorkeep.serve.server import create_app
from doorkeep.testing import email_text, free_port

# smtps: aiosmtpd cannot see that the whole connection is TLS, and warns about AUTH.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

USER, SECRET = "mailer", "s3cret pass"
PASSWORD, NEW_PASSWORD = "correct horse battery", "analytical engine 1843"


@dataclass
class Certificate:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for 127.0.0.1 and localhost, made with `cryptography`."""
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "doorkeep test SMTP")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    paths = Certificate(folder / "cert.pem", folder / "key.pem")
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


@pytest.fixture
def trusted(certificate: Certificate, monkeypatch: pytest.MonkeyPatch) -> Certificate:
    """The test's certificate is the client's only trusted root (OpenSSL's SSL_CERT_FILE)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate.cert))
    return certificate


@dataclass
class Received:
    mail_from: str
    recipients: list[str]
    encrypted: bool
    authenticated: bool
    message: EmailMessage


class Mailbox:
    """An aiosmtpd handler and authenticator that keeps what arrives, and how."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.logins: list[tuple[str, str]] = []
        self._arrived = threading.Condition()

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        from aiosmtpd.smtp import AuthResult

        login, password = data.login.decode(), data.password.decode()
        self.logins.append((login, password))
        return AuthResult(success=(login, password) == (USER, SECRET))

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        encrypted = server.transport.get_extra_info("ssl_object") is not None
        received = Received(
            envelope.mail_from,
            list(envelope.rcpt_tos),
            encrypted,
            bool(session.authenticated),
            message_from_bytes(envelope.content, policy=default_policy),  # type: ignore[arg-type]
        )
        with self._arrived:
            self.received.append(received)
            self._arrived.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, count: int) -> list[Received]:
        with self._arrived:
            assert self._arrived.wait_for(lambda: len(self.received) >= count, 15)
            return list(self.received)


@dataclass
class Server:
    port: int
    mailbox: Mailbox


@pytest.fixture(params=["smtps", "smtp+starttls"])
def tls_server(request: pytest.FixtureRequest, certificate: Certificate) -> Iterator[Server]:
    """aiosmtpd with implicit TLS, or with STARTTLS required before anything else;
    authentication required, and only over TLS."""
    from aiosmtpd.controller import Controller

    mailbox = Mailbox()
    port = free_port()
    context = certificate.server_context()
    common = {"authenticator": mailbox, "auth_required": True}
    if request.param == "smtps":
        # The whole connection is TLS, which aiosmtpd's auth_require_tls cannot see.
        controller = Controller(
            mailbox,
            hostname="127.0.0.1",
            port=port,
            ssl_context=context,
            auth_require_tls=False,
            **common,
        )
    else:
        controller = Controller(
            mailbox,
            hostname="127.0.0.1",
            port=port,
            tls_context=context,
            require_starttls=True,
            auth_require_tls=True,
            **common,
        )
    controller.start()
    try:
        yield Server(port, mailbox)
    finally:
        controller.stop()


def url_of(server: Server, scheme: str) -> str:
    return f"{scheme}://{USER}:{SECRET.replace(' ', '%20')}@127.0.0.1:{server.port}"


def scheme_of(request: pytest.FixtureRequest) -> str:
    return str(request.node.callspec.params["tls_server"])


EMAIL = RenderedEmail(
    to="ada@example.com", subject="Hello over TLS", text="plain part", html="<p>html part</p>"
)


async def test_sends_over_tls_with_authentication(
    tls_server: Server, trusted: Certificate, request: pytest.FixtureRequest
) -> None:
    """Fails if `smtps` is not implicit TLS or `smtp+starttls` does not upgrade
    (mutant: `use_tls=False, start_tls=None` for both): the server refuses AUTH and
    mail before TLS."""
    sender = SMTPSender(url_of(tls_server, scheme_of(request)), "doorkeep <no-reply@example.com>")
    await sender.send(EMAIL)
    [received] = tls_server.mailbox.wait_for(1)
    assert received.encrypted and received.authenticated
    assert tls_server.mailbox.logins == [(USER, SECRET)]  # the URL's %-escapes decoded
    assert received.mail_from == "no-reply@example.com"
    assert received.recipients == ["ada@example.com"]
    assert received.message["Subject"] == "Hello over TLS"
    assert email_text(received.message).strip() == "plain part"


async def test_an_untrusted_certificate_is_refused(
    tls_server: Server, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: Any
) -> None:
    """The certificate is checked: with an empty trust store the send fails and nothing
    (least of all the password) reaches the server. Fails if verification is off
    (mutant: `validate_certs=False` passed to `aiosmtplib.send`)."""
    empty = tmp_path / "no-roots.pem"
    empty.write_text("")
    monkeypatch.setenv("SSL_CERT_FILE", str(empty))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))
    sender = SMTPSender(url_of(tls_server, scheme_of(request)), "no-reply@example.com")
    with pytest.raises(Exception, match=r"(?i)certificate"):
        await sender.send(EMAIL)
    assert tls_server.mailbox.logins == [] and tls_server.mailbox.received == []


async def test_starttls_is_required_not_opportunistic(
    certificate: Certificate, trusted: Certificate
) -> None:
    """`smtp+starttls://` against a server that offers no STARTTLS must not fall back to
    plain text with the password. Fails if STARTTLS is optional (mutant:
    `start_tls=None` for smtp+starttls)."""
    from aiosmtpd.controller import Controller

    mailbox = Mailbox()
    port = free_port()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=mailbox,
        auth_require_tls=False,  # this server would take a password in the clear
    )
    controller.start()
    try:
        sender = SMTPSender(url_of(Server(port, mailbox), "smtp+starttls"), "no-reply@example.com")
        with pytest.raises(Exception, match=r"(?i)starttls|tls"):
            await sender.send(EMAIL)
    finally:
        controller.stop()
    assert mailbox.logins == [] and mailbox.received == []


async def test_the_password_change_notice_is_sent_over_tls(
    tls_server: Server, trusted: Certificate, request: pytest.FixtureRequest, database_url: str
) -> None:
    """Checklist 34 (password): with `notify_password_change`, changing the password
    emails the account's address a notice naming the app, with no link and no password.
    Fails if the notice is not sent (mutant: the `notify` call removed from
    `ChangePassword.change_password`)."""
    settings = Settings(
        database_url=database_url,
        app_name="Acme",
        smtp_url=url_of(tls_server, scheme_of(request)),
        email_from="Acme <security@acme.example>",
        notify_password_change=True,
        email_retry_delays=(0.2,),
    )
    async with Doorkeep(settings) as dk:
        transport = httpx.ASGITransport(app=create_app(dk))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            form = {
                "formFields": [
                    {"id": "email", "value": "ada@example.com"},
                    {"id": "password", "value": PASSWORD},
                ]
            }
            signed_up = await client.post("/auth/signup", json=form)
            access = signed_up.headers["st-access-token"]
            changed = await client.post(
                "/auth/user/password/change",
                json={"oldPassword": PASSWORD, "newPassword": NEW_PASSWORD},
                headers={"authorization": f"Bearer {access}"},
            )
            assert changed.json()["status"] == "OK", changed.text
        # Delivery runs in the background on this loop: wait for it without blocking it.
        [notice] = await asyncio.to_thread(tls_server.mailbox.wait_for, 1)
    assert notice.encrypted and notice.recipients == ["ada@example.com"]
    message = notice.message
    assert message["To"] == "ada@example.com"
    assert message["From"] == "Acme <security@acme.example>"
    assert message["Subject"] == "Your Acme password was changed"
    text = email_text(message)
    assert "The password of your account was just changed." in text
    assert PASSWORD not in text and NEW_PASSWORD not in text
    assert "http" not in text  # a notice, not a link to click
    html = message.get_body(preferencelist=("html",))
    assert html is not None and "The password of your account was just changed." in str(
        html.get_content()
    )
