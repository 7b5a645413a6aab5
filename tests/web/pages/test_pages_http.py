"""The pages over plain HTTP: form security (CSRF token + Origin), headers, options
(read-only, disabled pages, templates, styles), redirects and accessibility markup."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from doorkeep import Doorkeep, Settings
from doorkeep.serve.server import create_app
from doorkeep.testing import free_port, serve_in_thread
from doorkeep.web.pages import PagesConfig

PASSWORD = "analytical-engine-1843"


def serve(tmp_path: Path, pages: PagesConfig | None = None, **settings: Any) -> Any:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    dk = Doorkeep(
        Settings(
            database_url=f"sqlite:///{tmp_path / 'pages.sqlite3'}",
            api_domain=base,
            website_domain=base,
            **settings,
        ),
        pages=pages,
    )
    return serve_in_thread(create_app(dk), port=port)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[httpx.Client]:
    with serve(tmp_path) as url, httpx.Client(base_url=url) as http:
        yield http


def csrf_token(client: httpx.Client, path: str) -> str:
    html = client.get(path).text
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None, html
    return found.group(1)


def sign_up(client: httpx.Client, email: str = "ada@example.com") -> httpx.Response:
    token = csrf_token(client, "/auth/register")
    form = {"csrf_token": token, "email": email, "password": PASSWORD, "confirm_password": PASSWORD}
    return client.post("/auth/register", data=form)


def user_count(client: httpx.Client, email: str) -> bool:
    answer = client.get("/auth/emailpassword/email/exists", params={"email": email})
    return bool(answer.json()["exists"])


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(
    client: httpx.Client,
) -> None:
    csrf_token(client, "/auth/register")  # the browser has the cookie, the attacker not the value
    form = {"email": "eve@example.com", "password": PASSWORD, "confirm_password": PASSWORD}
    refused = client.post("/auth/register", data=form)
    assert refused.status_code == 403
    assert "expired or came from another site" in refused.text
    wrong = client.post("/auth/register", data={**form, "csrf_token": "guessed"})
    assert wrong.status_code == 403
    assert not user_count(client, "eve@example.com")


def test_a_form_token_is_bound_to_the_session_it_was_rendered_for(
    client: httpx.Client,
) -> None:
    signed_out_token = csrf_token(client, "/auth/login")
    assert sign_up(client).status_code == 303
    stale = client.post(
        "/auth/change-email", data={"csrf_token": signed_out_token, "email": "new@example.com"}
    )
    assert stale.status_code == 403
    fresh = csrf_token(client, "/auth/change-email")
    assert fresh != signed_out_token
    changed = client.post(
        "/auth/change-email",
        data={"csrf_token": fresh, "email": "new@example.com"},
        headers={"accept": "application/json"},
    )
    assert changed.status_code == 200 and "We sent a link" in changed.json()["notice"]


def test_changing_email_from_a_stale_session_asks_for_the_current_password(
    tmp_path: Path,
) -> None:
    with (
        serve(tmp_path, change_email_fresh_seconds=0, change_email_verify=False) as url,
        httpx.Client(base_url=url) as client,
    ):
        assert sign_up(client).status_code == 303
        page = client.get("/auth/change-email")
        assert 'name="current_password"' in page.text and "Needed to change your email" in page.text
        json = {"accept": "application/json"}
        form = {"csrf_token": csrf_token(client, "/auth/change-email"), "email": "new@example.com"}
        missing = client.post("/auth/change-email", data=form, headers=json)
        assert missing.status_code == 400
        assert "current password" in missing.json()["errors"]["current_password"]
        wrong = client.post(
            "/auth/change-email", data={**form, "current_password": "not it"}, headers=json
        )
        assert wrong.status_code == 400
        assert wrong.json()["errors"] == {"current_password": "Your current password is not right."}
        assert user_count(client, "ada@example.com") and not user_count(client, "new@example.com")
        right = client.post("/auth/change-email", data={**form, "current_password": PASSWORD})
        assert right.status_code == 303 and "notice=email-changed" in right.headers["location"]
        assert user_count(client, "new@example.com") and not user_count(client, "ada@example.com")


def test_a_cross_site_post_is_refused_even_with_a_token(client: httpx.Client) -> None:
    token = csrf_token(client, "/auth/register")
    form = {"csrf_token": token, "email": "eve@example.com", "password": PASSWORD}
    form["confirm_password"] = PASSWORD
    for headers in ({"origin": "https://evil.example"}, {"sec-fetch-site": "cross-site"}):
        assert client.post("/auth/register", data=form, headers=headers).status_code == 403
    assert not user_count(client, "eve@example.com")
    same_site = client.post("/auth/register", data=form, headers={"origin": str(client.base_url)})
    assert same_site.status_code == 303
    assert user_count(client, "eve@example.com")


def test_every_page_carries_the_security_headers(client: httpx.Client) -> None:
    sign_up(client)
    for path in (
        "/auth/login",
        "/auth/register",
        "/auth/forgot-password",
        "/auth/reset-password?token=x",
        "/auth/verify-email?token=x",
        "/auth/verify-email/sent",
        "/auth/account",
        "/auth/change-password",
        "/auth/change-email",
        "/",
    ):
        response = client.get(path)
        assert response.status_code in (200, 400), path
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp, path
        assert "frame-ancestors 'none'" in csp and response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"
        # No inline script or style, no external resource: the CSP holds and pages work offline.
        assert "<script>" not in response.text and "style=" not in response.text
        assert not re.search(r'(src|href)="https?://', response.text), path


def test_the_csrf_cookie_is_httponly_and_samesite(client: httpx.Client) -> None:
    cookie = client.get("/auth/login").headers["set-cookie"]
    assert cookie.startswith("dk_csrf=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_secure_sites_use_a_host_prefixed_csrf_cookie(tmp_path: Path) -> None:
    with serve(tmp_path, cookie_secure=True) as url, httpx.Client(base_url=url) as http:
        cookie = http.get("/auth/login").headers["set-cookie"]
    assert cookie.startswith("__Host-dk_csrf=") and "Secure" in cookie and "Path=/" in cookie


def test_pages_that_need_a_session_send_visitors_to_sign_in(client: httpx.Client) -> None:
    for path in ("/auth/account", "/auth/change-password", "/auth/change-email"):
        response = client.get(path)
        assert response.status_code == 303
        assert response.headers["location"] == f"/auth/login?redirect_to={path.replace('/', '%2F')}"


def test_sign_in_goes_only_to_local_redirects(client: httpx.Client) -> None:
    sign_up(client)
    client.cookies.clear()
    for asked, landed in [
        ("/auth/change-email", "/auth/change-email"),
        ("https://evil.example/", "/auth/account"),
        ("//evil.example/", "/auth/account"),
        ("/\\evil.example", "/auth/account"),
    ]:
        token = csrf_token(client, "/auth/login")
        form = {"csrf_token": token, "email": "ada@example.com", "password": PASSWORD}
        response = client.post("/auth/login", data={**form, "redirect_to": asked})
        assert response.status_code == 303 and response.headers["location"] == landed, asked


def test_sign_in_messages_do_not_tell_whether_the_account_exists(client: httpx.Client) -> None:
    sign_up(client)
    client.cookies.clear()
    answers = []
    for email in ("ada@example.com", "nobody@example.com"):
        token = csrf_token(client, "/auth/login")
        form = {"csrf_token": token, "email": email, "password": "wrong-password-1"}
        response = client.post("/auth/login", data=form, headers={"accept": "application/json"})
        answers.append((response.status_code, response.json()))
    assert answers[0] == answers[1]
    assert answers[0][1]["message"] == "That combination of email and password is not right."

    forgot = []
    for email in ("ada@example.com", "nobody@example.com"):
        token = csrf_token(client, "/auth/forgot-password")
        response = client.post(
            "/auth/forgot-password",
            data={"csrf_token": token, "email": email},
            headers={"accept": "application/json"},
        )
        forgot.append((response.status_code, response.json()))
    assert forgot[0] == forgot[1] and forgot[0][1]["ok"] is True


def test_field_errors_come_back_by_field_in_json(client: httpx.Client) -> None:
    token = csrf_token(client, "/auth/register")
    form = {"csrf_token": token, "email": "not-an-email", "password": "short"}
    form["confirm_password"] = "other"
    response = client.post("/auth/register", data=form, headers={"accept": "application/json"})
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {"email", "password", "confirm_password"}
    assert errors["email"] == "Email is invalid"


def test_read_only_pages_answer_get_only(tmp_path: Path) -> None:
    with (
        serve(tmp_path, PagesConfig(read_only=True)) as url,
        httpx.Client(base_url=url) as http,
    ):
        token = csrf_token(http, "/auth/register")
        form = {"csrf_token": token, "email": "ada@example.com", "password": PASSWORD}
        refused = http.post("/auth/register", data={**form, "confirm_password": PASSWORD})
        assert refused.status_code == 405 and "read-only" in refused.text
        assert not user_count(http, "ada@example.com")


def test_a_disabled_page_is_not_served(tmp_path: Path) -> None:
    config = PagesConfig(disabled=frozenset({"signup"}))
    with serve(tmp_path, config) as url, httpx.Client(base_url=url) as http:
        assert http.get("/auth/register").status_code == 404
        assert "Create an account" not in http.get("/auth/login").text
    with pytest.raises(ValueError, match="unknown pages"):
        PagesConfig(disabled=frozenset({"nope"}))


def test_a_template_can_be_replaced_and_styles_set(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "change_password.html").write_text(
        '{% extends "base.html" %}{% block heading %}Our own page{% endblock %}'
    )
    config = PagesConfig(template_path=templates, styles={"primary": "#7a1fa2", "radius": "2px"})
    with serve(tmp_path, config) as url, httpx.Client(base_url=url) as http:
        sign_up(http)
        assert "<h1>Our own page</h1>" in http.get("/auth/change-password").text
        assert "<h1>Sign in</h1>" in http.get("/auth/login").text  # others stay built in
        theme = http.get("/auth/static/theme.css")
        assert theme.headers["content-type"].startswith("text/css")
        assert "--dk-primary: #7a1fa2;" in theme.text and "--dk-radius: 2px;" in theme.text
    with pytest.raises(ValueError, match="characters"):
        PagesConfig(styles={"primary": "red;} body{display:none"})


def test_inputs_have_labels_and_autocomplete(client: httpx.Client) -> None:
    sign_up(client)
    expected = {
        "/auth/login": {"email": "username", "password": "current-password"},
        "/auth/register": {"email": "email", "password": "new-password"},
        "/auth/change-password": {
            "current_password": "current-password",
            "new_password": "new-password",
            "confirm_new_password": "new-password",
        },
        "/auth/change-email": {"email": "email"},
    }
    for path, fields in expected.items():
        html = client.get(path).text
        for name, autocomplete in fields.items():
            assert f'<label for="dk-{name}">' in html, (path, name)
            tag = re.search(rf'<input id="dk-{name}"[^>]*>', html)
            assert tag is not None, (path, name)
            assert f'autocomplete="{autocomplete}"' in tag.group(0), (path, name)


def test_username_mode_offers_username_and_optional_email(tmp_path: Path) -> None:
    with (
        serve(tmp_path, login_identifier="username") as url,
        httpx.Client(base_url=url) as http,
    ):
        html = http.get("/auth/register").text
        assert '<label for="dk-email">Username</label>' in html
        assert '<label for="dk-actualEmail">Email (optional)</label>' in html
        token = csrf_token(http, "/auth/register")
        form = {"csrf_token": token, "email": "ada_l", "actualEmail": ""}
        created = http.post(
            "/auth/register", data={**form, "password": PASSWORD, "confirm_password": PASSWORD}
        )
        # No email to verify: straight to the account, which shows the username.
        assert created.status_code == 303 and created.headers["location"] == "/auth/account"
        assert "ada_l" in http.get("/auth/account").text


def test_malformed_posts_get_a_clear_error(client: httpx.Client) -> None:
    token = csrf_token(client, "/auth/login")
    assert (
        client.post(
            "/auth/login", content=b"{}", headers={"content-type": "application/json"}
        ).status_code
        == 415
    )
    huge = {"csrf_token": token, "email": "a" * 20_000, "password": "x"}
    assert client.post("/auth/login", data=huge).status_code == 413
    assert client.put("/auth/login").status_code == 405
    assert client.post("/auth/account").status_code == 405  # the account page only shows
    no_session = client.post("/auth/change-email", data={"csrf_token": token, "email": "x@y.z"})
    assert no_session.status_code == 303  # sign in first
    assert no_session.headers["location"] == "/auth/login"
