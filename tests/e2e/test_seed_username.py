"""Seed 004: username login with an optional email, over HTTP, with the field
conventions the seed's frontend uses (`email` carries the username, `actualEmail`
the optional address)."""

from __future__ import annotations

import asyncio
import re

import httpx

from doorkeep import Doorkeep, Settings
from doorkeep.core.emailpassword import SignUpOk, UsernameAlreadyExistsError
from doorkeep.serve.server import create_app
from doorkeep.testing import SmtpSink, email_text, serve_in_thread

PASSWORD = "correct horse battery"


def fields(**values: object) -> dict[str, object]:
    return {"formFields": [{"id": k, "value": v} for k, v in values.items()]}


def field_error(field: str, message: str) -> dict[str, object]:
    return {"status": "FIELD_ERROR", "formFields": [{"id": field, "error": message}]}


def test_seed_004_username_with_optional_email(database_url: str) -> None:
    with SmtpSink() as smtp:
        settings = Settings(
            database_url=database_url, login_identifier="username", smtp_url=smtp.url
        )
        with (
            serve_in_thread(create_app(Doorkeep(settings))) as url,
            httpx.Client(base_url=url) as client,
        ):
            # Sign up with a username and an optional real email.
            ada = client.post(
                "/auth/signup",
                json=fields(email="Ada_L", password=PASSWORD, actualEmail="ada@example.com"),
            )
            assert ada.json()["status"] == "OK"
            login = ada.json()["user"]["loginMethods"][0]
            assert login["username"] == "ada_l" and login["email"] == "ada@example.com"
            # ...or without one.
            bob = client.post("/auth/signup", json=fields(email="bob", password=PASSWORD))
            assert bob.json()["status"] == "OK" and bob.json()["user"]["emails"] == []

            # The seed's validators and messages.
            assert client.post(
                "/auth/signup", json=fields(email="ab", password=PASSWORD)
            ).json() == field_error("email", "Usernames must be at least 3 characters long.")
            assert client.post(
                "/auth/signup", json=fields(email="a b!", password=PASSWORD)
            ).json() == field_error(
                "email", "Username must contain only alphanumeric, underscore or hyphen characters."
            )
            assert client.post(
                "/auth/signup", json=fields(email="ADA_L", password=PASSWORD)
            ).json() == field_error(
                "email", "This username already exists. Please sign in instead."
            )
            taken = client.post(
                "/auth/signup",
                json=fields(email="carol", password=PASSWORD, actualEmail="ADA@example.com"),
            )
            assert taken.json() == field_error(
                "actualEmail", "Email already in use. Please sign in, or use another email"
            )
            assert client.post(
                "/auth/signup", json=fields(email="carol", password=PASSWORD, actualEmail="nope")
            ).json() == (field_error("actualEmail", "Email is invalid"))

            # Sign in with the username or with the email.
            for identifier in ("ada_l", "ADA_L", "ada@example.com"):
                signed_in = client.post(
                    "/auth/signin", json=fields(email=identifier, password=PASSWORD)
                )
                assert signed_in.json()["status"] == "OK", identifier
                assert signed_in.json()["user"]["id"] == ada.json()["user"]["id"]
            assert (
                client.post("/auth/signin", json=fields(email="bob", password=PASSWORD)).json()[
                    "status"
                ]
                == "OK"
            )
            assert client.post(
                "/auth/signin", json=fields(email="ada_l", password="wrong password")
            ).json() == {"status": "WRONG_CREDENTIALS_ERROR"}

            # Password reset by username goes to the real email, never to the username.
            assert client.post(
                "/auth/user/password/reset/token", json=fields(email="ada_l")
            ).json() == {"status": "OK"}
            message = smtp.wait_for(1)[0]
            assert message["To"] == "ada@example.com"
            token = re.search(r"token=([^&\s]+)", email_text(message))
            assert token is not None
            reset = client.post(
                "/auth/user/password/reset",
                json={
                    "method": "token",
                    "token": token.group(1),
                    **fields(password="a brand new passphrase"),
                },
            )
            assert reset.json() == {"status": "OK"}
            assert (
                client.post(
                    "/auth/signin", json=fields(email="ada_l", password="a brand new passphrase")
                ).json()["status"]
                == "OK"
            )
            # A user without an email is told to contact support.
            no_email = client.post("/auth/user/password/reset/token", json=fields(email="bob"))
            assert (
                no_email.json()["status"] == "GENERAL_ERROR"
                and "contact support" in no_email.json()["message"]
            )
            # Unknown usernames look like known ones.
            assert client.post(
                "/auth/user/password/reset/token", json=fields(email="nobody")
            ).json() == {"status": "OK"}


async def test_usernames_are_unique_per_tenant_under_concurrency(database_url: str) -> None:
    settings = Settings(database_url=database_url, login_identifier="username")
    async with Doorkeep(settings) as dk:
        core = dk.core.public.emailpassword
        variants = ["Racer", "racer", "RACER", " racer "]
        results = await asyncio.gather(
            *(
                core.sign_up("public", None, f"{PASSWORD} {i}", username=variants[i % 4])
                for i in range(20)
            )
        )
        assert sum(isinstance(r, SignUpOk) for r in results) == 1
        assert sum(isinstance(r, UsernameAlreadyExistsError) for r in results) == 19
        assert await dk.core.public.users.count_users() == 1
