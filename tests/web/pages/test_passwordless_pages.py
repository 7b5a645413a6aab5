"""The passwordless pages over plain HTTP (no JavaScript), with emails through a real SMTP
server and SMS into the outbox: ask for a code, type it (wrong, then right), resend with
its cool-down, another address, the magic-link page (a button, never a sign-in on GET;
it signs in the browser that opens it), change the phone number, and that none of it is
served while passwordless is off."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from doorkeep.ratelimit import Limit, RateLimitConfig
from tests.e2e.passwordless_stack import new_email, new_phone, passwordless_stack


def csrf_token(client: httpx.Client, path: str) -> str:
    html = client.get(path).text
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None, html
    return found.group(1)


def post(client: httpx.Client, path: str, form_page: str, **fields: str) -> httpx.Response:
    return client.post(path, data={"csrf_token": csrf_token(client, form_page), **fields})


def ask_for_code(client: httpx.Client, contact: str) -> httpx.Response:
    return post(client, "/auth/login/passwordless", "/auth/login/passwordless", contact=contact)


def test_code_sign_in_without_javascript(tmp_path: Path) -> None:
    limits = RateLimitConfig(passwordless_resend_per_device=Limit(1, 30))
    with (
        passwordless_stack(
            f"sqlite:///{tmp_path / 'pages.sqlite3'}", doorkeep_options={"rate_limits": limits}
        ) as stack,
        httpx.Client(base_url=stack.url) as client,
    ):
        login = client.get("/auth/login")
        assert 'href="/auth/login/passwordless"' in login.text
        empty = ask_for_code(client, "  ")
        assert empty.status_code == 400 and "Please fill this in." in empty.text
        bad = ask_for_code(client, "not a contact")
        assert bad.status_code == 400 and "country code" in bad.text

        email = new_email()
        asked = ask_for_code(client, email)
        assert asked.status_code == 303
        assert asked.headers["location"] == "/auth/login/passwordless/check"
        device_cookie = next(
            c for c in asked.headers.get_list("set-cookie") if c.startswith("dk_pl=")
        )
        assert "HttpOnly" in device_cookie and "SameSite=Lax" in device_cookie
        check = client.get("/auth/login/passwordless/check")
        assert "Check your inbox" in check.text and email in check.text
        # The resend waits for the cool-down; the page says how long.
        assert re.search(r"ask for a new code in <span data-dk-seconds>(2\d|30)</span>", check.text)
        early = post(client, "/auth/login/passwordless/resend", "/auth/login/passwordless/check")
        assert early.status_code == 429 and "You can ask for a new message in" in early.text

        code = stack.wait_for(email, 1).code
        assert code is not None
        wrong = "000000" if code != "000000" else "111111"
        typo = post(
            client, "/auth/login/passwordless/check", "/auth/login/passwordless/check", code=wrong
        )
        assert typo.status_code == 400 and "That code is not right. 4 tries left." in typo.text
        right = post(
            client,
            "/auth/login/passwordless/check",
            "/auth/login/passwordless/check",
            code=f" {code[:3]} {code[3:]} ",  # spaces as people type them
        )
        assert right.status_code == 303 and right.headers["location"] == "/auth/account"
        assert "sAccessToken" in client.cookies
        account = client.get("/auth/account")
        assert email in account.text and "Change password" not in account.text
        # The attempt is over: its cookie is cleared, and the check page starts again.
        assert client.get("/auth/login/passwordless/check").headers["location"] == (
            "/auth/login/passwordless"
        )


def test_the_magic_link_page_needs_a_click_and_signs_in_another_browser(tmp_path: Path) -> None:
    with passwordless_stack(
        f"sqlite:///{tmp_path / 'pages.sqlite3'}", passwordless="phone", flow="link"
    ) as stack:
        phone = new_phone()
        with httpx.Client(base_url=stack.url) as asking:
            assert ask_for_code(asking, phone).status_code == 303
            check = asking.get("/auth/login/passwordless/check")
            assert "Check your phone" in check.text and 'name="code"' not in check.text
        link = stack.wait_for(phone, 1).link
        assert link is not None
        path_and_query, link_code = link.removeprefix(stack.url).split("#")
        with httpx.Client(base_url=stack.url) as other:  # another device: no cookie at all
            # GET (what a mail scanner does) shows a button and spends nothing.
            for _ in range(2):
                landing = other.get(path_and_query)
                assert landing.status_code == 200 and "data-dk-link-form" in landing.text
                assert "sAccessToken" not in other.cookies
            assert "needs JavaScript" in landing.text  # the explanation the script hides
            token = re.search(r'name="csrf_token" value="([^"]+)"', landing.text)
            assert token is not None
            pre_auth = re.search(r'name="pre_auth_session_id" value="([^"]+)"', landing.text)
            assert pre_auth is not None
            form = {
                "csrf_token": token.group(1),
                "pre_auth_session_id": pre_auth.group(1),
                "tenant_id": "public",
            }
            incomplete = other.post("/auth/verify", data={**form, "link_code": ""})
            assert incomplete.status_code == 400 and "only JavaScript can read" in incomplete.text
            signed_in = other.post("/auth/verify", data={**form, "link_code": link_code})
            assert signed_in.status_code == 303 and signed_in.headers["location"] == "/auth/account"
            assert phone in other.get("/auth/account").text
            # The link works once (a new form token: the old one was for the signed-out visit).
            fresh = re.search(r'name="csrf_token" value="([^"]+)"', other.get(path_and_query).text)
            assert fresh is not None
            form["csrf_token"] = fresh.group(1)
            again = other.post("/auth/verify", data={**form, "link_code": link_code})
            assert again.status_code == 400 and "invalid, used or expired" in again.text


def test_change_phone_number_page(tmp_path: Path) -> None:
    with (
        passwordless_stack(
            f"sqlite:///{tmp_path / 'pages.sqlite3'}", rate_limits_enabled=False
        ) as stack,
        httpx.Client(base_url=stack.url) as client,
    ):
        old, new = new_phone(), new_phone()
        assert ask_for_code(client, old).status_code == 303
        code = stack.wait_for(old, 1).code
        assert code is not None
        post(client, "/auth/login/passwordless/check", "/auth/login/passwordless/check", code=code)
        assert "Add an email" in client.get("/auth/account").text
        sent = post(client, "/auth/change-phone", "/auth/change-phone", phone_number=new)
        assert sent.status_code == 303 and sent.headers["location"] == "/auth/change-phone"
        step_2 = client.get("/auth/change-phone")
        assert f"We texted a code to <strong>{new}</strong>" in step_2.text
        sms = stack.wait_for(new, 1)
        assert sms.code is not None
        done = post(client, "/auth/change-phone", "/auth/change-phone", code=sms.code)
        assert done.status_code == 303
        assert done.headers["location"] == "/auth/account?notice=phone-changed"
        account = client.get(done.headers["location"])
        assert "Your phone number was changed." in account.text and new in account.text


def test_nothing_passwordless_is_served_while_it_is_off(tmp_path: Path) -> None:
    with (
        passwordless_stack(f"sqlite:///{tmp_path / 'pages.sqlite3'}", passwordless="off") as stack,
        httpx.Client(base_url=stack.url) as client,
    ):
        assert "passwordless" not in client.get("/auth/login").text
        for path in ("/auth/login/passwordless", "/auth/verify", "/auth/change-phone"):
            assert client.get(path).status_code == 404, path
        answer = client.post("/auth/signinup/code", json={"email": new_email()})
        assert answer.status_code == 404
