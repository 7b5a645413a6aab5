"""A doorkeep server with a real SMTP sink, and a real headless Chromium driven by Playwright.

Chromium is Debian's package (`/usr/bin/chromium`); Playwright only drives it. Without
it the browser tests skip with that reason, unless DOORKEEP_REQUIRE_BROWSER is set (CI).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from doorkeep import Doorkeep, Settings
from doorkeep.recipes.emailverification import EmailVerificationConfig
from doorkeep.serve.server import create_app
from doorkeep.testing import SmtpSink, email_text, free_port, serve_in_thread
from tests.optional import BROWSER, import_or_skip

_ROOT = Path(__file__).resolve().parents[3]
# The README's screenshots change only on request (DOORKEEP_UPDATE_SCREENSHOTS=1):
# an ordinary test run writes its own copies under build/, leaving the tree clean.
SCREENSHOTS = (
    _ROOT / "docs" / "screenshots"
    if os.environ.get("DOORKEEP_UPDATE_SCREENSHOTS") == "1"
    else _ROOT / "build" / "screenshots"
)
VIEWPORTS = {"desktop": (1280, 800), "phone": (390, 844)}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        reason = "browser tests need Debian's chromium (apt-get install chromium); CI installs it"
        if os.environ.get("DOORKEEP_REQUIRE_BROWSER"):
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="module")  # Playwright's sync loop must stop before async tests run
def browser() -> Iterator[Any]:
    executable = chromium_path()
    sync_api = import_or_skip("playwright.sync_api", BROWSER)
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@dataclass
class Site:
    url: str
    smtp: SmtpSink
    dk: Doorkeep

    def link_from_email(self, number: int, to: str) -> str:
        """The link in the `number`-th email (1-based), which must be addressed to `to`."""
        message = self.smtp.wait_for(number)[number - 1]
        assert message["To"] == to
        found = re.search(r"https?://\S+", email_text(message))
        assert found is not None
        link = found.group(0)
        assert link.startswith(self.url), link  # links point at this site
        return link


def site_settings(tmp_path: Path, smtp: SmtpSink, port: int, **overrides: Any) -> Settings:
    base = f"http://127.0.0.1:{port}"
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'pages.sqlite3'}",
        smtp_url=smtp.url,
        api_domain=base,
        website_domain=base,
        email_retry_delays=(0.2, 0.4),
        **overrides,
    )


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    with SmtpSink() as smtp:
        port = free_port()
        dk = Doorkeep(
            site_settings(tmp_path, smtp, port),
            emailverification=EmailVerificationConfig(mode="OPTIONAL"),
        )
        with serve_in_thread(create_app(dk), port=port) as url:
            yield Site(url, smtp, dk)


def token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


def screenshot(page: Any, name: str) -> None:
    """Save the page at its current viewport size into SCREENSHOTS."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{size['width']}x{size['height']}.png"))
