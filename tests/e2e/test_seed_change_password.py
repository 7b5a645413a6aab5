"""Seed 000 (SuperTokens' hand-written /change-password) and 003 (piccolo_api's form),
as doorkeep's built-in `POST /auth/user/password/change`, over HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from doorkeep import Doorkeep, Settings
from doorkeep.ratelimit import Limit, RateLimitConfig
from doorkeep.recipes.emailpassword import EmailPasswordConfig, EmailPasswordFunctions
from doorkeep.serve.server import create_app
from doorkeep.testing import serve_in_thread

PASSWORD = "correct horse battery"
NEW = "a brand new passphrase"


def fields(**values: object) -> dict[str, object]:
    return {"formFields": [{"id": k, "value": v} for k, v in values.items()]}


def bearer(response: httpx.Response) -> dict[str, str]:
    return {"authorization": f"Bearer {response.headers['st-access-token']}"}


def refresh_ok(client: httpx.Client, signed_in: httpx.Response) -> bool:
    token = signed_in.headers["st-refresh-token"]
    return (
        client.post(
            "/auth/session/refresh", headers={"authorization": f"Bearer {token}"}
        ).status_code
        == 200
    )


def test_seed_000_change_password_revokes_every_session(database_url: str) -> None:
    sign_in_calls: list[str] = []

    def count_sign_ins(original: EmailPasswordFunctions) -> EmailPasswordFunctions:
        original_sign_in = original.sign_in

        async def sign_in(email: str, password: str, tenant_id: str, user_context: dict[str, Any]):  # type: ignore[no-untyped-def]
            sign_in_calls.append(email)
            return await original_sign_in(email, password, tenant_id, user_context)

        original.sign_in = sign_in  # type: ignore[method-assign]
        return original

    dk = Doorkeep(
        Settings(database_url=database_url),
        emailpassword=EmailPasswordConfig(override_functions=count_sign_ins),
    )
    with serve_in_thread(create_app(dk)) as url, httpx.Client(base_url=url) as client:
        # Step 1: the route is protected by a session.
        assert (
            client.post(
                "/auth/user/password/change", json={"oldPassword": PASSWORD, "newPassword": NEW}
            ).status_code
            == 401
        )
        device = client.post(
            "/auth/signup", json=fields(email="ada@example.com", password=PASSWORD)
        )
        other_device = client.post(
            "/auth/signin", json=fields(email="ada@example.com", password=PASSWORD)
        )
        auth = bearer(device)

        # Step 2: the old password is checked with the recipe's sign-in function.
        calls_before = len(sign_in_calls)
        wrong = client.post(
            "/auth/user/password/change",
            json={"oldPassword": "nope nope", "newPassword": NEW},
            headers=auth,
        )
        assert wrong.json() == {"status": "WRONG_CREDENTIALS_ERROR"}
        assert len(sign_in_calls) == calls_before + 1  # the override ran
        for body, field, message in [
            (
                {"oldPassword": PASSWORD, "newPassword": "short"},
                "newPassword",
                "Password must be at least 8 characters long.",
            ),
            (
                {"oldPassword": PASSWORD, "newPassword": PASSWORD},
                "newPassword",
                "The new password must differ from the old one.",
            ),
            (
                {"oldPassword": PASSWORD, "newPassword": 12345678},
                "newPassword",
                "Password must be a string.",
            ),
            (
                {"oldPassword": PASSWORD, "newPassword": "x" * 10_000},
                "newPassword",
                "Password must be at most 128 characters long.",
            ),
            ({"newPassword": NEW}, "oldPassword", "Please enter your current password."),
        ]:
            response = client.post("/auth/user/password/change", json=body, headers=auth)
            assert response.json() == {
                "status": "FIELD_ERROR",
                "formFields": [{"id": field, "error": message}],
            }, body

        changed = client.post(
            "/auth/user/password/change",
            json={"oldPassword": PASSWORD, "newPassword": NEW},
            headers=auth,
        )
        assert changed.json() == {"status": "OK"}

        # Step 3: every session is revoked, the current one included (its tokens cleared).
        assert changed.headers["front-token"] == "remove"
        # The instance that revoked them refuses their access tokens at once, and no
        # session can be refreshed anywhere.
        assert client.get("/sessioninfo", headers=auth).status_code == 401
        assert client.get("/sessioninfo", headers=bearer(other_device)).status_code == 401
        assert not refresh_ok(client, device)
        assert not refresh_ok(client, other_device)
        old = client.post("/auth/signin", json=fields(email="ada@example.com", password=PASSWORD))
        assert old.json() == {"status": "WRONG_CREDENTIALS_ERROR"}
        assert (
            client.post("/auth/signin", json=fields(email="ada@example.com", password=NEW)).json()[
                "status"
            ]
            == "OK"
        )


def test_seed_003_form_post_with_confirmation(database_url: str) -> None:
    with (
        serve_in_thread(create_app(Doorkeep(Settings(database_url=database_url)))) as url,
        httpx.Client(base_url=url) as client,
    ):
        auth = bearer(
            client.post("/auth/signup", json=fields(email="ada@example.com", password=PASSWORD))
        )
        mismatch = client.post(
            "/auth/user/password/change",
            data={
                "current_password": PASSWORD,
                "new_password": NEW,
                "confirm_new_password": NEW + "!",
            },
            headers=auth,
        )
        assert mismatch.json() == {
            "status": "FIELD_ERROR",
            "formFields": [{"id": "confirmNewPassword", "error": "Passwords do not match."}],
        }
        ok = client.post(
            "/auth/user/password/change",
            data={"current_password": PASSWORD, "new_password": NEW, "confirm_new_password": NEW},
            headers=auth,
        )
        assert ok.json() == {"status": "OK"}
        assert (
            client.post("/auth/signin", json=fields(email="ada@example.com", password=NEW)).json()[
                "status"
            ]
            == "OK"
        )
        for bad in (b"not json", b"[1]"):
            assert client.post(
                "/auth/user/password/change",
                content=bad,
                headers={**auth, "content-type": "application/json"},
            ).status_code in (400, 401)


@pytest.mark.parametrize("mode", ["others", "none"])
def test_revocation_modes(database_url: str, mode: str) -> None:
    settings = Settings(database_url=database_url, change_password_revoke=mode)  # type: ignore[arg-type]
    with (
        serve_in_thread(create_app(Doorkeep(settings))) as url,
        httpx.Client(base_url=url) as client,
    ):
        device = client.post(
            "/auth/signup", json=fields(email="ada@example.com", password=PASSWORD)
        )
        other_device = client.post(
            "/auth/signin", json=fields(email="ada@example.com", password=PASSWORD)
        )
        changed = client.post(
            "/auth/user/password/change",
            json={"oldPassword": PASSWORD, "newPassword": NEW},
            headers=bearer(device),
        )
        assert changed.json() == {"status": "OK"} and "front-token" not in changed.headers
        assert refresh_ok(client, device)  # this device stays signed in
        assert refresh_ok(client, other_device) is (mode == "none")


def test_failed_attempts_are_rate_limited_per_user(database_url: str) -> None:
    limits = RateLimitConfig(change_password_per_user=Limit(3, 300))
    dk = Doorkeep(Settings(database_url=database_url), rate_limits=limits)
    with (
        serve_in_thread(create_app(dk)) as url,
        httpx.Client(base_url=url) as client,
    ):
        auth = bearer(
            client.post("/auth/signup", json=fields(email="ada@example.com", password=PASSWORD))
        )
        for _ in range(3):
            wrong = client.post(
                "/auth/user/password/change",
                json={"oldPassword": "wrong guess", "newPassword": NEW},
                headers=auth,
            )
            assert wrong.json() == {"status": "WRONG_CREDENTIALS_ERROR"}
        limited = client.post(
            "/auth/user/password/change",
            json={"oldPassword": PASSWORD, "newPassword": NEW},
            headers=auth,
        )
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
        assert limited.json()["status"] == "TOO_MANY_ATTEMPTS_ERROR"
        # Even the right password waits: attempts are counted before they are checked.
        assert (
            client.post(
                "/auth/signin", json=fields(email="ada@example.com", password=PASSWORD)
            ).json()["status"]
            == "OK"
        )


def test_a_step_of_the_flow_can_be_overridden(database_url: str) -> None:
    """The README's example: wrap one step, keep the rest."""
    from doorkeep import FlowsConfig
    from doorkeep.core.common import FieldError
    from doorkeep.flows.change_password import ChangePassword

    def forbid_product_name(original: ChangePassword) -> ChangePassword:
        original_validate = original.validate

        async def validate(
            old: object, new: object, confirm: object, tenant_id: str
        ) -> FieldError | None:
            if isinstance(new, str) and "doorkeep" in new.lower():
                return FieldError.one("newPassword", "Please don't use the product's name.")
            return await original_validate(old, new, confirm, tenant_id)

        original.validate = validate  # type: ignore[method-assign]
        return original

    dk = Doorkeep(
        Settings(database_url=database_url),
        flows=FlowsConfig(override_change_password=forbid_product_name),
    )
    with serve_in_thread(create_app(dk)) as url, httpx.Client(base_url=url) as client:
        auth = bearer(
            client.post("/auth/signup", json=fields(email="ada@example.com", password=PASSWORD))
        )
        refused = client.post(
            "/auth/user/password/change",
            json={"oldPassword": PASSWORD, "newPassword": "doorkeep forever 1"},
            headers=auth,
        )
        assert refused.json() == {
            "status": "FIELD_ERROR",
            "formFields": [{"id": "newPassword", "error": "Please don't use the product's name."}],
        }
        # The original steps still run: a weak password is still refused.
        weak = client.post(
            "/auth/user/password/change",
            json={"oldPassword": PASSWORD, "newPassword": "short"},
            headers=auth,
        )
        assert (
            weak.json()["formFields"][0]["error"] == "Password must be at least 8 characters long."
        )
