"""The user roles recipe: its claim validators word for word as SuperTokens' (reasons,
expiry, refetch), seed-style overrides reaching the session claims, and the JWT
recipe's OpenID discovery document."""

from __future__ import annotations

from typing import Any

import pytest

from doorkeep import Doorkeep
from doorkeep.core.common import now_ms
from doorkeep.core.context import UserContext
from doorkeep.recipes.userroles import (
    PermissionClaim,
    UnknownRole,
    UserRoleClaim,
    UserRolesConfig,
    UserRolesFunctions,
    UserRolesRecipe,
)
from doorkeep.recipes.userroles.claims import ArrayClaimValidator

NOW = 1_800_000_000_000


def payload(roles: list[str] | None, fetched_at: int = NOW) -> dict[str, Any]:
    return {} if roles is None else {"st-role": {"v": roles, "t": fetched_at}}


@pytest.mark.parametrize(
    ("validator", "roles", "reason"),
    [
        (UserRoleClaim.includes("admin"), ["admin", "x"], None),
        (
            UserRoleClaim.includes("admin"),
            ["x"],
            {"message": "wrong value", "expectedToInclude": "admin", "actualValue": ["x"]},
        ),
        (UserRoleClaim.excludes("banned"), ["x"], None),
        (
            UserRoleClaim.excludes("banned"),
            ["banned"],
            {"message": "wrong value", "expectedToNotInclude": "banned", "actualValue": ["banned"]},
        ),
        (UserRoleClaim.includes_all(["a", "b"]), ["b", "a", "c"], None),
        (
            UserRoleClaim.includes_all(["a", "b"]),
            ["a"],
            {"message": "wrong value", "expectedToInclude": ["a", "b"], "actualValue": ["a"]},
        ),
        (UserRoleClaim.includes_any(["a", "b"]), ["b"], None),
        (
            UserRoleClaim.includes_any(["a", "b"]),
            ["c"],
            {
                "message": "wrong value",
                "expectedToIncludeAtLeastOneOf": ["a", "b"],
                "actualValue": ["c"],
            },
        ),
        (UserRoleClaim.excludes_all(["a", "b"]), ["c"], None),
        (
            UserRoleClaim.excludes_all(["a", "b"]),
            ["c", "b"],
            {
                "message": "wrong value",
                "expectedToNotInclude": ["a", "b"],
                "actualValue": ["c", "b"],
            },
        ),
        (
            UserRoleClaim.includes("admin"),
            None,
            {"message": "value does not exist", "expectedToInclude": "admin", "actualValue": None},
        ),
    ],
)
def test_reasons_are_supertokens_own(
    validator: ArrayClaimValidator, roles: list[str] | None, reason: dict[str, Any] | None
) -> None:
    assert validator.key == "st-role"
    assert validator.reason(payload(roles), NOW) == reason


def test_max_age_makes_a_value_stale_and_refetched() -> None:
    fresh = UserRoleClaim.includes("admin", max_age_seconds=60)
    assert not fresh.should_refetch(payload(["admin"], NOW - 59_000), NOW)
    assert fresh.should_refetch(payload(["admin"], NOW - 61_000), NOW)
    assert fresh.reason(payload(["admin"], NOW - 61_000), NOW) == {
        "message": "expired",
        "ageInSeconds": 61.0,
        "maxAgeInSeconds": 60,
    }
    # Without a maximum age (SuperTokens' Python default) only a missing value is fetched.
    plain = UserRoleClaim.includes("admin")
    assert not plain.should_refetch(payload(["admin"], 0), NOW)
    assert plain.should_refetch(payload(None), NOW)
    assert PermissionClaim.includes("x").should_refetch(payload(["x"]), NOW)  # other key


def test_validators_refuse_what_cannot_be_a_name() -> None:
    for bad in ("", None, 5):
        with pytest.raises(ValueError):
            UserRoleClaim.includes(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        UserRoleClaim.includes_all("admin")  # a string is not a list of roles
    with pytest.raises(ValueError):
        UserRoleClaim.includes_any([])


async def test_an_override_of_get_roles_for_user_reaches_the_session(dk: Doorkeep) -> None:
    """The claims are built from the overridable functions (seed style), so a role
    granted by an override (say, from another system) is in the session's token."""

    def override(original: UserRolesFunctions) -> UserRolesFunctions:
        original_get = original.get_roles_for_user

        async def get_roles_for_user(
            tenant_id: str, user_id: str, user_context: UserContext
        ) -> list[str]:
            found = await original_get(tenant_id, user_id, user_context)
            return [*found, "auditor"] if user_id.endswith("@corp") else found

        original.get_roles_for_user = get_roles_for_user  # type: ignore[method-assign]
        return original

    roles = UserRolesRecipe(
        dk.core.public, dk.session, UserRolesConfig(override_functions=override)
    )
    await roles.create_new_role_or_add_permissions("auditor", ["read"])
    await roles.create_new_role_or_add_permissions("editor", ["write"])
    await roles.add_role_to_user("public", "ada@corp", "editor")
    new = await dk.session.create_new_session("ada@corp")
    claims = new.access_token.claims or {}
    assert claims["st-role"]["v"] == ["auditor", "editor"]
    assert claims["st-perm"]["v"] == ["read", "write"]
    plain = await dk.session.create_new_session("bob")
    assert (plain.access_token.claims or {})["st-role"]["v"] == []


async def test_the_recipe_api_speaks_supertokens_names(dk: Doorkeep) -> None:
    roles = dk.userroles
    assert await roles.create_new_role_or_add_permissions("admin", ["a", "b"]) is True
    assert await roles.get_permissions_for_role("admin") == ["a", "b"]
    assert await roles.remove_permissions_from_role("admin", ["a"]) is None
    assert await roles.get_roles_that_have_permission("b") == ["admin"]
    assert await roles.add_role_to_user("public", "u1", "admin") is False
    assert await roles.get_roles_for_user("public", "u1") == ["admin"]
    assert await roles.get_users_that_have_role("public", "admin") == ["u1"]
    assert await roles.remove_user_role("public", "u1", "admin") is True
    assert await roles.get_all_roles() == ["admin"]
    assert await roles.delete_role("admin") is True
    assert await roles.get_permissions_for_role("admin") == UnknownRole("admin")


async def test_openid_discovery_names_the_issuer_and_its_keys(dk: Doorkeep) -> None:
    settings = dk.settings
    issuer = settings.api_domain.rstrip("/") + settings.api_base_path.rstrip("/")
    jwt = dk.jwt
    document = (await jwt.get_open_id_discovery_configuration()).to_json()
    assert document["issuer"] == issuer
    assert document["jwks_uri"] == f"{issuer}/jwt/jwks.json"
    token = await jwt.create_jwt({"sub": "ada"}, 60)
    assert isinstance(token, str)
    kids = {key["kid"] for key in (await jwt.get_jwks())["keys"]}
    assert any(kid.startswith("s-") for kid in kids)  # the static key signed it


class FakeSession:
    """What a validator uses of a Session: the payload, and fetching the claim again."""

    def __init__(self, payload: dict[str, Any], fresh_roles: list[str]) -> None:
        self.access_token_payload = payload
        self.fresh_roles = fresh_roles
        self.fetched: list[str] = []

    async def fetch_and_set_claim(self, key: str) -> bool:
        self.fetched.append(key)
        self.access_token_payload = {key: {"v": self.fresh_roles, "t": now_ms()}}
        return True


@pytest.mark.parametrize(
    ("payload", "max_age", "check_database", "refetched"),
    [
        (lambda now: {"st-role": {"v": ["admin"], "t": now}}, None, False, False),
        (lambda now: {"st-role": {"v": ["admin"], "t": now - 3_600_000}}, None, False, False),
        (lambda now: {"st-role": {"v": ["admin"], "t": now - 61_000}}, 60, False, True),
        (lambda now: {"st-role": {"v": ["admin"], "t": now - 30_000}}, 60, False, False),
        (lambda now: {}, None, False, True),
        (lambda now: {"st-role": {"v": "admin", "t": now}}, None, False, True),  # not a list
        (lambda now: {"st-role": {"v": ["admin"], "t": now}}, None, True, True),
    ],
)
async def test_check_reads_the_token_unless_missing_stale_or_told(
    payload: Any, max_age: float | None, check_database: bool, refetched: bool
) -> None:
    """Mutant tried: the hot path ignoring `max_age_seconds` keeps the stale value (the
    third case is not fetched again)."""
    session = FakeSession(payload(now_ms()), fresh_roles=["admin"])
    validator = UserRoleClaim.includes("admin", max_age_seconds=max_age)
    assert await validator.check(session, check_database=check_database) is None  # type: ignore[arg-type]
    assert session.fetched == (["st-role"] if refetched else [])


async def test_a_fresh_value_without_the_role_fails_without_a_fetch() -> None:
    session = FakeSession({"st-role": {"v": ["viewer"], "t": now_ms()}}, fresh_roles=["admin"])
    reason = await UserRoleClaim.includes("admin").check(session, check_database=False)  # type: ignore[arg-type]
    assert reason == {
        "message": "wrong value",
        "expectedToInclude": "admin",
        "actualValue": ["viewer"],
    }
    assert session.fetched == []
