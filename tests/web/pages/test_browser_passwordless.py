"""Passwordless pages in a real headless Chromium (Debian's, driven by Playwright), emails
through a real SMTP server and SMS into the outbox: code sign-in with JavaScript on and
off, the magic-link page (on another browser, and without JavaScript), resend with its
cool-down; screenshots of each page at the desktop and phone sizes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from doorkeep.ratelimit import Limit, RateLimitConfig
from tests.e2e.passwordless_stack import Stack, new_email, new_phone, passwordless_stack
from tests.optional import BROWSER, import_or_skip
from tests.web.pages.conftest import VIEWPORTS, screenshot

expect = import_or_skip("playwright.sync_api", BROWSER).expect

COOL_DOWN = 3  # seconds between resends in these tests (30 by default)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Stack]:
    limits = RateLimitConfig(passwordless_resend_per_device=Limit(1, COOL_DOWN))
    with passwordless_stack(
        f"sqlite:///{tmp_path / 'pages.sqlite3'}", doorkeep_options={"rate_limits": limits}
    ) as stack:
        yield stack


def ask(page: Any, site: Stack, contact: str) -> None:
    page.goto(f"{site.url}/auth/login")
    page.click("text=Sign in without a password")
    page.wait_for_url("**/auth/login/passwordless")
    page.fill("#dk-contact", contact)
    page.click("button:has-text('Continue')")
    page.wait_for_url("**/auth/login/passwordless/check")


def wrong_code(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def test_code_sign_in_with_javascript(browser: Any, site: Stack) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    email = new_email()
    ask(page, site, email)
    expect(page.locator("html")).to_have_attribute("data-dk-enhanced", "true")
    expect(page.locator("h1")).to_have_text("Check your inbox")
    expect(page.locator("main")).to_contain_text(f"We sent a code and a link to {email}")
    # The script holds the resend button through the cool-down, and counts it down.
    resend = page.locator("button[data-dk-cool-down]")
    expect(resend).to_be_disabled()
    expect(page.locator("[data-dk-cool-down-hint]")).to_be_visible()
    code = site.wait_for(email, 1).code
    assert code is not None
    page.fill("#dk-code", wrong_code(code))
    page.click("button:has-text('Sign in')")
    # The error appears next to the field, in place.
    expect(page.locator("#dk-code-error")).to_have_text("That code is not right. 4 tries left.")
    assert page.url.endswith("/auth/login/passwordless/check")
    page.fill("#dk-code", code)
    page.click("button:has-text('Sign in')")
    page.wait_for_url("**/auth/account")
    expect(page.locator(".dk-facts")).to_contain_text(email)
    context.close()


def test_code_sign_in_without_javascript(browser: Any, site: Stack) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    phone = new_phone()
    ask(page, site, phone)
    assert page.locator("html").get_attribute("data-dk-enhanced") is None  # no script ran
    expect(page.locator("h1")).to_have_text("Check your phone")
    # Without the script the button stays, and the server refuses an early resend.
    page.click("button:has-text('Send a new code')")
    expect(page.locator("[data-form-message]")).to_contain_text("You can ask for a new message in")
    code = site.wait_for(phone, 1).code
    assert code is not None
    page.fill("#dk-code", wrong_code(code))
    page.click("button:has-text('Sign in')")
    expect(page.locator("#dk-code-error")).to_have_text("That code is not right. 4 tries left.")
    page.fill("#dk-code", code)
    page.click("button:has-text('Sign in')")
    page.wait_for_url("**/auth/account")
    expect(page.locator(".dk-facts")).to_contain_text(phone)
    context.close()


def test_the_magic_link_signs_in_the_browser_that_opens_it(browser: Any, site: Stack) -> None:
    asking = browser.new_context()
    email = new_email()
    ask(asking.new_page(), site, email)
    link = site.wait_for(email, 1).link
    assert link is not None and "#" in link

    # Without JavaScript, on the browser that asked: the page explains and offers the code.
    no_js = asking.browser.new_context(java_script_enabled=False)
    no_js.add_cookies(asking.cookies())
    page = no_js.new_page()
    page.goto(link)
    expect(page.locator("main")).to_contain_text("This link needs JavaScript")
    expect(page.locator("form[data-dk-link-form]")).to_be_hidden()
    expect(page.locator("#dk-code")).to_be_visible()
    no_js.close()

    # Another browser (no cookie): the page shows a button; opening it spent nothing.
    other = browser.new_context()
    page = other.new_page()
    page.goto(link)
    button = page.locator("form[data-dk-link-form] button")
    expect(button).to_be_visible()
    assert not any(c["name"] == "sAccessToken" for c in other.cookies())
    button.click()
    page.wait_for_url("**/auth/account")
    expect(page.locator(".dk-facts")).to_contain_text(email)
    # The asking browser's attempt was spent with the link: it starts again.
    first = asking.new_page()
    first.goto(f"{site.url}/auth/login/passwordless/check")
    first.wait_for_url("**/auth/login/passwordless?notice=restart")
    other.close()
    asking.close()


def test_resend_after_the_cool_down(browser: Any, site: Stack) -> None:
    context = browser.new_context()
    page = context.new_page()
    email = new_email()
    ask(page, site, email)
    resend = page.locator("button[data-dk-cool-down]")
    expect(resend).to_be_disabled()
    expect(resend).to_be_enabled(timeout=(COOL_DOWN + 3) * 1000)
    expect(page.locator("[data-dk-cool-down-hint]")).to_be_hidden()
    resend.click()
    expect(page.locator("[data-form-notice]")).to_have_text(f"We sent a new message to {email}.")
    expect(resend).to_be_disabled()  # the next cool-down has begun
    newest = site.wait_for(email, 2).code
    assert newest is not None
    page.fill("#dk-code", newest)
    page.click("button:has-text('Sign in')")
    page.wait_for_url("**/auth/account")
    context.close()


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_screenshots_of_the_passwordless_pages(browser: Any, site: Stack, viewport: str) -> None:
    width, height = VIEWPORTS[viewport]
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    email = new_email()
    page.goto(f"{site.url}/auth/login/passwordless")
    expect(page.locator("h1")).to_be_visible()
    screenshot(page, "passwordless-start")
    page.fill("#dk-contact", email)
    page.click("button:has-text('Continue')")
    page.wait_for_url("**/auth/login/passwordless/check")
    screenshot(page, "passwordless-check")
    code = site.wait_for(email, 1).code
    assert code is not None
    page.fill("#dk-code", wrong_code(code))
    page.click("button:has-text('Sign in')")
    expect(page.locator("#dk-code-error")).to_be_visible()
    screenshot(page, "passwordless-check-error")
    link = site.wait_for(email, 1).link
    other = browser.new_context(viewport={"width": width, "height": height})
    landing = other.new_page()
    landing.goto(link)
    expect(landing.locator("form[data-dk-link-form] button")).to_be_visible()
    screenshot(landing, "passwordless-link")
    other.close()
    page.fill("#dk-code", code)
    page.click("button:has-text('Sign in')")
    page.wait_for_url("**/auth/account")
    page.goto(f"{site.url}/auth/change-phone")
    expect(page.locator("h1")).to_be_visible()
    screenshot(page, "passwordless-change-phone")
    context.close()
