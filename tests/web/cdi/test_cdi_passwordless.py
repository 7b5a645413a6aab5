"""The passwordless CDI over doorkeep's core on SQLite and PostgreSQL (issue 17, item 5):
codes created, resent, checked, consumed, listed and removed as supertokens-python
calls them; PUT /recipe/user for passwordless users; /users, /user/id and
/users/by-accountinfo returning them; bad input a 400, never a 500."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from doorkeep import Doorkeep, Settings
from doorkeep.serve.server import create_app

PHONE = "+14155552671"
PL = {"rid": "passwordless"}


@pytest.fixture
async def core(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    dk = Doorkeep(Settings(database_url=database_url))
    transport = httpx.ASGITransport(app=create_app(dk), client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://core") as http:
        yield http
    await dk.close()


async def new_code(core: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    answer = await core.post("/public/recipe/signinup/code", json=body, headers=PL)
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()
    assert data["status"] == "OK", data
    return data


async def consume(core: httpx.AsyncClient, code: dict[str, Any], **override: Any) -> Any:
    body = {
        "preAuthSessionId": code["preAuthSessionId"],
        "deviceId": code["deviceId"],
        "userInputCode": code["userInputCode"],
        **override,
    }
    return (await core.post("/public/recipe/signinup/code/consume", json=body, headers=PL)).json()


async def test_sign_up_then_in_by_code_and_by_link(core: httpx.AsyncClient) -> None:
    code = await new_code(core, email="Ada@Example.com")
    assert set(code) == {
        "status",
        "preAuthSessionId",
        "codeId",
        "deviceId",
        "userInputCode",
        "linkCode",
        "timeCreated",
        "codeLifetime",
    }
    assert code["codeLifetime"] == 900_000
    first = await consume(core, code)
    assert first["status"] == "OK" and first["createdNewUser"] is True
    assert first["consumedDevice"] == {
        "preAuthSessionId": code["preAuthSessionId"],
        "failedCodeInputAttemptCount": 0,
        "email": "ada@example.com",
    }
    user = first["user"]
    assert first["recipeUserId"] == user["id"]
    assert user["emails"] == ["ada@example.com"] and user["phoneNumbers"] == []
    assert user["loginMethods"][0]["recipeId"] == "passwordless"

    link = await new_code(core, email="ada@example.com")
    second = (
        await core.post(
            "/public/recipe/signinup/code/consume",
            json={"preAuthSessionId": link["preAuthSessionId"], "linkCode": link["linkCode"]},
        )
    ).json()
    assert second["status"] == "OK" and second["createdNewUser"] is False
    assert second["user"]["id"] == user["id"]
    assert (await consume(core, code))["status"] == "RESTART_FLOW_ERROR"  # single use


async def test_wrong_and_expired_codes_answer_with_the_counts(core: httpx.AsyncClient) -> None:
    code = await new_code(core, phoneNumber="+1 415 555 2671")
    wrong = "000000" if code["userInputCode"] != "000000" else "111111"
    checked = (
        await core.post(
            "/public/recipe/signinup/code/check",
            json={
                "preAuthSessionId": code["preAuthSessionId"],
                "deviceId": code["deviceId"],
                "userInputCode": wrong,
            },
        )
    ).json()
    assert checked == {
        "status": "INCORRECT_USER_INPUT_CODE_ERROR",
        "failedCodeInputAttemptCount": 1,
        "maximumCodeInputAttempts": 5,
    }
    right = (
        await core.post(
            "/public/recipe/signinup/code/check",
            json={
                "preAuthSessionId": code["preAuthSessionId"],
                "deviceId": code["deviceId"],
                "userInputCode": code["userInputCode"],
            },
        )
    ).json()
    assert right == {
        "status": "OK",
        "consumedDevice": {
            "preAuthSessionId": code["preAuthSessionId"],
            "failedCodeInputAttemptCount": 1,
            "phoneNumber": PHONE,
        },
    }
    statuses = [(await consume(core, code, userInputCode=wrong))["status"] for _ in range(4)]
    assert statuses == ["INCORRECT_USER_INPUT_CODE_ERROR"] * 3 + ["RESTART_FLOW_ERROR"]


async def test_ten_concurrent_consumes_over_http_sign_in_once(core: httpx.AsyncClient) -> None:
    code = await new_code(core, email="race@example.com")
    answers = await asyncio.gather(*(consume(core, code) for _ in range(10)))
    assert sorted(a["status"] for a in answers) == ["OK"] + ["RESTART_FLOW_ERROR"] * 9


async def test_resend_list_and_remove(core: httpx.AsyncClient) -> None:
    code = await new_code(core, email="ada@example.com")
    again = await new_code(core, deviceId=code["deviceId"])
    assert again["preAuthSessionId"] == code["preAuthSessionId"]
    used = await core.post(
        "/public/recipe/signinup/code",
        json={"deviceId": code["deviceId"], "userInputCode": again["userInputCode"]},
    )
    assert used.json() == {"status": "USER_INPUT_CODE_ALREADY_USED_ERROR"}

    for query in (
        {"email": "ada@example.com"},
        {"deviceId": code["deviceId"]},
        {"preAuthSessionId": code["preAuthSessionId"]},
    ):
        listed = (await core.get("/public/recipe/signinup/codes", params=query)).json()
        [device] = listed["devices"]
        assert device["preAuthSessionId"] == code["preAuthSessionId"]
        assert device["email"] == "ada@example.com"
        assert [c["codeId"] for c in device["codes"]] == [code["codeId"], again["codeId"]]

    removed = await core.post(
        "/public/recipe/signinup/code/remove", json={"codeId": code["codeId"]}
    )
    assert removed.json() == {"status": "OK"}
    listed = await core.get("/public/recipe/signinup/codes", params={"email": "ada@example.com"})
    assert [c["codeId"] for c in listed.json()["devices"][0]["codes"]] == [again["codeId"]]
    await core.post("/public/recipe/signinup/codes/remove", json={"email": "ada@example.com"})
    empty = await core.get("/public/recipe/signinup/codes", params={"email": "ada@example.com"})
    assert empty.json() == {"status": "OK", "devices": []}
    phone = await new_code(core, phoneNumber=PHONE)
    await core.post(
        "/public/recipe/signinup/code/remove",
        json={"preAuthSessionId": phone["preAuthSessionId"]},
    )
    gone = await core.get("/public/recipe/signinup/codes", params={"phoneNumber": PHONE})
    assert gone.json()["devices"] == []
    restart = await core.post("/public/recipe/signinup/code", json={"deviceId": code["deviceId"]})
    assert restart.json() == {"status": "RESTART_FLOW_ERROR"}


async def test_put_recipe_user_goes_to_the_users_recipe(core: httpx.AsyncClient) -> None:
    ada = (await consume(core, await new_code(core, email="ada@example.com")))["user"]
    bob = (await consume(core, await new_code(core, phoneNumber=PHONE)))["user"]
    signed_up = await core.post(
        "/recipe/signup", json={"email": "ep@example.com", "password": "validPass123"}
    )
    ep_user = signed_up.json()["user"]

    async def put(body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
        return (
            await core.put("/recipe/user", json=body, headers=PL if headers is None else headers)
        ).json()

    assert await put({"recipeUserId": ada["id"], "email": "ada@new.example"}) == {"status": "OK"}
    assert await put({"recipeUserId": bob["id"], "email": "ada@new.example"}) == {
        "status": "EMAIL_ALREADY_EXISTS_ERROR"
    }
    assert await put({"recipeUserId": ada["id"], "phoneNumber": PHONE}) == {
        "status": "PHONE_NUMBER_ALREADY_EXISTS_ERROR"
    }
    # null deletes, absent leaves as is; a passwordless user keeps one of the two.
    assert await put({"recipeUserId": bob["id"], "email": "bob@example.com"}) == {"status": "OK"}
    assert await put({"recipeUserId": bob["id"], "phoneNumber": None}) == {"status": "OK"}
    refused = await core.put("/recipe/user", json={"recipeUserId": bob["id"], "email": None})
    # The core's words, newline included: the SDK's own tests match them.
    assert refused.status_code == 400
    assert refused.text == "You cannot clear both email and phone number of a user\n"
    bob_now = (await core.get("/user/id", params={"userId": bob["id"]})).json()["user"]
    assert bob_now["emails"] == ["bob@example.com"] and bob_now["phoneNumbers"] == []
    assert await put({"recipeUserId": "nobody", "email": "x@example.com"}) == {
        "status": "UNKNOWN_USER_ID_ERROR"
    }
    # An emailpassword user: its own update without the header, unknown to passwordless.
    assert await put({"recipeUserId": ep_user["id"], "phoneNumber": PHONE}) == {
        "status": "UNKNOWN_USER_ID_ERROR"
    }
    assert await put({"recipeUserId": ep_user["id"], "email": "ep2@example.com"}, {}) == {
        "status": "OK"
    }


async def test_user_lookups_show_passwordless_users(core: httpx.AsyncClient) -> None:
    by_phone = (await consume(core, await new_code(core, phoneNumber=PHONE)))["user"]
    by_email = (await consume(core, await new_code(core, email="ada@example.com")))["user"]
    await core.post("/recipe/signup", json={"email": "ada@example.com", "password": "validPass1"})

    found = await core.get(
        "/public/users/by-accountinfo",
        params={"phoneNumber": PHONE, "doUnionOfAccountInfo": "false"},
    )
    assert [u["id"] for u in found.json()["users"]] == [by_phone["id"]]
    [method] = found.json()["users"][0]["loginMethods"]
    assert method["phoneNumber"] == PHONE and method["verified"] is True
    both = await core.get(
        "/public/users/by-accountinfo",
        params={"email": "ada@example.com", "doUnionOfAccountInfo": "false"},
    )
    recipes = sorted(u["loginMethods"][0]["recipeId"] for u in both.json()["users"])
    assert recipes == ["emailpassword", "passwordless"]
    listed = await core.get("/public/users", params={"includeRecipeIds": "passwordless"})
    assert [u["id"] for u in listed.json()["users"]] == [by_phone["id"], by_email["id"]]
    one = (await core.get("/user/id", params={"userId": by_phone["id"]})).json()
    assert one["user"]["phoneNumbers"] == [PHONE]
    counted = await core.get("/users/count", params={"includeRecipeIds": "passwordless"})
    assert counted.json()["count"] == 2


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/recipe/signinup/code", {}),
        ("/recipe/signinup/code", {"email": "not an email"}),
        ("/recipe/signinup/code", {"phoneNumber": "123"}),
        ("/recipe/signinup/code", {"email": 5}),
        ("/recipe/signinup/code", {"email": "a@example.com", "phoneNumber": PHONE}),
        ("/recipe/signinup/code/consume", {"preAuthSessionId": "x"}),
        ("/recipe/signinup/code/consume", {"linkCode": "x"}),
        ("/recipe/signinup/code/check", {"preAuthSessionId": "x", "deviceId": 1}),
        ("/recipe/signinup/codes/remove", {}),
    ],
)
async def test_bad_input_is_a_400(core: httpx.AsyncClient, path: str, body: Any) -> None:
    answer = await core.post(path, json=body)
    assert answer.status_code == 400, answer.text
    listing = await core.get("/recipe/signinup/codes")
    assert listing.status_code == 400


async def test_codes_of_unknown_devices_restart_the_flow(core: httpx.AsyncClient) -> None:
    bogus = {"preAuthSessionId": "x", "deviceId": "not base64!", "userInputCode": "123456"}
    assert (await core.post("/recipe/signinup/code/consume", json=bogus)).json() == {
        "status": "RESTART_FLOW_ERROR"
    }
    link = {"preAuthSessionId": "x", "linkCode": "y"}
    assert (await core.post("/recipe/signinup/code/check", json=link)).json() == {
        "status": "RESTART_FLOW_ERROR"
    }
