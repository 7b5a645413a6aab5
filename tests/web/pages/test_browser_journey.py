"""The whole journey through the prebuilt pages in a real headless Chromium, with the
emails delivered by a real SMTP server: sign up, verify, sign in, change password,
change email through verification, sign out, reset the password, sign in again.
Once with the enhancement script, once with JavaScript disabled, and a keyboard-only
sign-in."""

from __future__ import annotations

from typing import Any

import pytest

from tests.optional import BROWSER, import_or_skip
from tests.web.pages.conftest import Site, screenshot

expect = import_or_skip("playwright.sync_api", BROWSER).expect

EMAIL = "ada@example.com"
NEW_EMAIL = "ada.lovelace@example.com"
FIRST, SECOND, THIRD = "analytical-engine-1843", "difference-engine-1822", "bernoulli-numbers-7"


def fill(page: Any, **values: str) -> None:
    for name, value in values.items():
        page.fill(f"#dk-{name}", value)


def sign_in(page: Any, site: Site, email: str, password: str) -> None:
    page.goto(f"{site.url}/auth/login")
    fill(page, email=email, password=password)
    page.click("button:has-text('Sign in')")


def error_of(page: Any, field: str) -> Any:
    return page.locator(f"#dk-{field}-error")


def test_the_whole_journey(browser: Any, site: Site) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()

    # Sign up: lands on "check your inbox"; the verification email arrives by SMTP.
    page.goto(f"{site.url}/auth/register")
    expect(page.locator("html")).to_have_attribute("data-dk-enhanced", "true")
    fill(page, email=EMAIL, password=FIRST, confirm_password="something-else-9")
    page.click("button:has-text('Create account')")
    # The script shows the error next to its field, without leaving the page.
    expect(error_of(page, "confirm_password")).to_have_text("Passwords do not match.")
    expect(page.locator("#dk-confirm_password")).to_have_attribute("aria-invalid", "true")
    assert page.url.endswith("/auth/register")
    fill(page, password=FIRST, confirm_password=FIRST)
    page.click("button:has-text('Create account')")
    page.wait_for_url("**/auth/verify-email/sent")
    expect(page.locator("main")).to_contain_text(f"We sent a verification link to {EMAIL}")

    # Follow the link, confirm: the address is verified and the account page says so.
    page.goto(site.link_from_email(1, EMAIL))
    page.click("button:has-text('Verify my email')")
    expect(page.locator("[data-form-notice]")).to_have_text(f"{EMAIL} is verified.")
    page.goto(f"{site.url}/auth/account")
    expect(page.locator(".dk-facts")).to_contain_text(f"{EMAIL} verified")

    # Sign out, then sign in with the first password.
    page.click("button:has-text('Sign out')")
    page.wait_for_url("**/auth/login?notice=signed-out")
    expect(page.locator("[data-form-notice]")).to_have_text("You are signed out.")
    sign_in(page, site, EMAIL, FIRST)
    page.wait_for_url("**/auth/account")

    # Change password: a wrong current password is an error next to that field.
    page.goto(f"{site.url}/auth/change-password")
    fill(page, current_password="not-my-password", new_password=SECOND)
    fill(page, confirm_new_password=SECOND)
    page.click("button:has-text('Change password')")
    expect(error_of(page, "current_password")).to_have_text("Your current password is not right.")
    fill(page, current_password=FIRST, new_password=SECOND, confirm_new_password=SECOND)
    page.click("button:has-text('Change password')")
    # Default revoke="all": this session ends too, and the user signs in again.
    page.wait_for_url("**/auth/login?notice=password-changed-signed-out")
    sign_in(page, site, EMAIL, FIRST)
    expect(page.locator("[data-form-message]")).to_contain_text("is not right")
    sign_in(page, site, EMAIL, SECOND)
    page.wait_for_url("**/auth/account")

    # Change email through verification: the old address works until the link is used.
    page.goto(f"{site.url}/auth/change-email")
    fill(page, email=NEW_EMAIL)
    page.click("button:has-text('Change email')")
    expect(page.locator("[data-form-notice]")).to_contain_text(f"We sent a link to {NEW_EMAIL}")
    page.goto(f"{site.url}/auth/account")
    expect(page.locator(".dk-facts")).to_contain_text(EMAIL)
    page.goto(site.link_from_email(2, NEW_EMAIL))
    page.click("button:has-text('Verify my email')")
    expect(page.locator("[data-form-notice]")).to_have_text(f"{NEW_EMAIL} is verified.")
    page.goto(f"{site.url}/auth/account")
    expect(page.locator(".dk-facts")).to_contain_text(f"{NEW_EMAIL} verified")

    # Sign out; forget the password; reset it from the emailed link.
    page.click("button:has-text('Sign out')")
    page.wait_for_url("**/auth/login?notice=signed-out")
    page.click("text=Forgot your password?")
    fill(page, email=NEW_EMAIL)
    page.click("button:has-text('Email me a link')")
    expect(page.locator("[data-form-notice]")).to_contain_text("If an account exists")
    page.goto(site.link_from_email(3, NEW_EMAIL))
    fill(page, password=THIRD, confirm_password=THIRD)
    page.click("button:has-text('Change password')")
    page.wait_for_url("**/auth/login?notice=password-reset")

    # Only the newest password and the newest address sign in.
    sign_in(page, site, EMAIL, THIRD)
    expect(page.locator("[data-form-message]")).to_contain_text("is not right")
    sign_in(page, site, NEW_EMAIL, SECOND)
    expect(page.locator("[data-form-message]")).to_contain_text("is not right")
    sign_in(page, site, NEW_EMAIL, THIRD)
    page.wait_for_url("**/auth/account")
    expect(page.locator(".dk-facts")).to_contain_text(NEW_EMAIL)
    context.close()


def test_the_core_journey_without_javascript(browser: Any, site: Site) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{site.url}/auth/register")
    assert page.locator("html").get_attribute("data-dk-enhanced") is None  # no script ran
    fill(page, email=EMAIL, password=FIRST, confirm_password="typo-in-confirmation")
    page.click("button:has-text('Create account')")
    # The server renders the page again with the error by the field, keeping the email.
    expect(error_of(page, "confirm_password")).to_have_text("Passwords do not match.")
    expect(page.locator("#dk-email")).to_have_value(EMAIL)
    fill(page, password=FIRST, confirm_password=FIRST)
    page.click("button:has-text('Create account')")
    page.wait_for_url("**/auth/verify-email/sent")

    page.goto(site.link_from_email(1, EMAIL))
    page.click("button:has-text('Verify my email')")
    expect(page.locator("[data-form-notice]")).to_have_text(f"{EMAIL} is verified.")

    page.goto(f"{site.url}/auth/change-password")
    fill(page, current_password=FIRST, new_password=SECOND, confirm_new_password=SECOND)
    page.click("button:has-text('Change password')")
    page.wait_for_url("**/auth/login?notice=password-changed-signed-out")
    sign_in(page, site, EMAIL, FIRST)
    expect(page.locator("[data-form-message]")).to_contain_text("is not right")
    sign_in(page, site, EMAIL, SECOND)
    page.wait_for_url("**/auth/account")
    context.close()


def test_keyboard_only_sign_in(browser: Any, site: Site) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{site.url}/auth/register")
    fill(page, email=EMAIL, password=FIRST, confirm_password=FIRST)
    page.click("button:has-text('Create account')")
    page.wait_for_url("**/auth/verify-email/sent")
    page.click("button:has-text('Sign out')")
    page.wait_for_url("**/auth/login?notice=signed-out")

    # From the top of the page, Tab reaches the email field, then the password field.
    page.locator("body").focus()
    for _ in range(6):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "dk-email":
            break
    assert page.evaluate("document.activeElement.id") == "dk-email"
    page.keyboard.type(EMAIL)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "dk-password"
    page.keyboard.type(FIRST)
    page.keyboard.press("Enter")
    page.wait_for_url("**/auth/account")
    expect(page.locator("h1")).to_have_text("Your account")
    context.close()


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_screenshots_of_every_page(browser: Any, site: Site, viewport: str) -> None:
    from tests.web.pages.conftest import VIEWPORTS

    width, height = VIEWPORTS[viewport]
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    shots = [
        ("home", "/"),
        ("sign-in", "/auth/login"),
        ("sign-up", "/auth/register"),
        ("forgot-password", "/auth/forgot-password"),
    ]
    for name, path in shots:
        page.goto(site.url + path)
        expect(page.locator("h1")).to_be_visible()
        screenshot(page, name)

    page.goto(f"{site.url}/auth/login")
    fill(page, email=EMAIL, password="wrong-password-1")
    page.click("button:has-text('Sign in')")
    expect(page.locator("[data-form-message]")).to_be_visible()
    screenshot(page, "sign-in-error")

    page.goto(f"{site.url}/auth/register")
    fill(page, email=EMAIL, password=FIRST, confirm_password=FIRST)
    page.click("button:has-text('Create account')")
    page.wait_for_url("**/auth/verify-email/sent")
    screenshot(page, "verify-email-sent")
    verify_link = site.link_from_email(1, EMAIL)
    page.goto(verify_link)
    screenshot(page, "verify-email")
    for name, path in [
        ("account", "/auth/account"),
        ("change-password", "/auth/change-password"),
        ("change-email", "/auth/change-email"),
    ]:
        page.goto(site.url + path)
        expect(page.locator("h1")).to_be_visible()
        screenshot(page, name)

    page.click("button:has-text('Sign out')")
    page.wait_for_url("**/auth/login?notice=signed-out")
    page.goto(f"{site.url}/auth/forgot-password")
    fill(page, email=EMAIL)
    page.click("button:has-text('Email me a link')")
    page.goto(site.link_from_email(2, EMAIL))
    expect(page.locator("#dk-password")).to_be_visible()
    screenshot(page, "reset-password")
    context.close()


def test_devices_are_listed_and_the_others_signed_out(browser: Any, site: Site) -> None:
    """Checklist 20 in the browser: the account page lists the user's signed-in devices,
    "Sign out other devices" ends the other one, whose next visit is refused (sent to
    sign in). And checklist 16: no session token ever appears in a URL the browsers
    requested (navigations, redirects, scripts, styles).
    Fails if the list shows only this device (mutant: `account` lists the current
    handle alone) or if the others stay signed in (mutant: `sign_out_other_devices`
    revokes nothing)."""
    requested: list[str] = []
    laptop, phone = browser.new_context(), browser.new_context()
    for context in (laptop, phone):
        context.on("request", lambda request: requested.append(request.url))
    on_laptop, on_phone = laptop.new_page(), phone.new_page()
    signed_in_devices = ".dk-devices:not(.dk-activity) li"  # not the recent-activity list
    devices = on_laptop.locator(signed_in_devices)
    other_devices_button = on_laptop.locator("button:has-text('Sign out other devices')")

    on_laptop.goto(f"{site.url}/auth/register")
    fill(on_laptop, email=EMAIL, password=FIRST, confirm_password=FIRST)
    on_laptop.click("button:has-text('Create account')")
    on_laptop.wait_for_url("**/auth/verify-email/sent")
    on_laptop.goto(f"{site.url}/auth/account")
    expect(devices).to_have_count(1)
    expect(devices.first).to_contain_text("this device")
    expect(other_devices_button).to_have_count(0)  # nothing else to sign out

    sign_in(on_phone, site, EMAIL, FIRST)
    on_phone.wait_for_url("**/auth/account")
    expect(on_phone.locator(signed_in_devices)).to_have_count(2)

    on_laptop.reload()
    expect(devices).to_have_count(2)
    expect(devices.filter(has_text="this device")).to_have_count(1)
    tokens = {c["value"] for ctx in (laptop, phone) for c in ctx.cookies() if len(c["value"]) > 16}
    other_devices_button.click()
    on_laptop.wait_for_url("**/auth/account?notice=others-signed-out")
    expect(on_laptop.locator("[data-form-notice]")).to_have_text(
        "Your other devices are signed out."
    )
    expect(devices).to_have_count(1)
    expect(devices.first).to_contain_text("this device")

    # The phone's session is gone: its next visit is refused and it is asked to sign in.
    on_phone.goto(f"{site.url}/auth/account")
    on_phone.wait_for_url("**/auth/login**")
    expect(on_phone.locator("h1")).not_to_have_text("Your account")
    on_laptop.goto(f"{site.url}/auth/account")  # this device is still signed in
    expect(on_laptop.locator("h1")).to_have_text("Your account")

    assert any("/auth/account" in url for url in requested)
    assert len(tokens) >= 4  # both devices' access and refresh tokens were watched
    assert [url for url in requested for token in tokens if token in url] == []
    laptop.close()
    phone.close()
