"""User roles in the core, on SQLite and PostgreSQL: roles and permissions per app,
roles of a user per tenant, and the database doing the clean-up."""

from __future__ import annotations

import asyncio

import pytest

from doorkeep import Doorkeep
from doorkeep.core.emailpassword import SignUpOk
from doorkeep.core.roles import InvalidRoleName, RoleClaims, RoleService, UnknownRole
from doorkeep.core.tenants import save_tenant


def roles_of(dk: Doorkeep) -> RoleService:
    return dk.core.public.roles


async def new_user(dk: Doorkeep, email: str) -> str:
    created = await dk.core.public.emailpassword.sign_up("public", email, "validPass123")
    assert isinstance(created, SignUpOk)
    return created.user.id


async def test_roles_and_their_permissions(dk: Doorkeep) -> None:
    roles = roles_of(dk)
    assert await roles.create_role_or_add_permissions("editor", ["write", "read"]) is True
    assert await roles.create_role_or_add_permissions("editor", ["publish", "read"]) is False
    assert await roles.create_role_or_add_permissions("viewer", ["read"]) is True
    assert await roles.permissions_of("editor") == ["publish", "read", "write"]
    assert await roles.roles_with_permission("read") == ["editor", "viewer"]
    assert await roles.roles_with_permission("nothing") == []
    assert await roles.all_roles() == ["editor", "viewer"]

    assert await roles.remove_permissions("editor", ["publish", "absent"]) is None
    assert await roles.permissions_of("editor") == ["read", "write"]
    assert await roles.remove_permissions("editor", None) is None  # None: all of them
    assert await roles.permissions_of("editor") == []
    assert await roles.roles_with_permission("read") == ["viewer"]

    assert await roles.permissions_of("ghost") == UnknownRole("ghost")
    assert await roles.remove_permissions("ghost", ["x"]) == UnknownRole("ghost")
    assert await roles.delete_role("viewer") is True
    assert await roles.delete_role("viewer") is False
    assert await roles.all_roles() == ["editor"]


async def test_roles_of_a_user_are_per_tenant(dk: Doorkeep) -> None:
    roles = roles_of(dk)
    await save_tenant(dk.core.db, "public", "acme")
    for role in ("admin", "editor"):
        await roles.create_role_or_add_permissions(role, [])
    assert await roles.add_role_to_user("public", "u1", "admin") is False
    assert await roles.add_role_to_user("public", "u1", "admin") is True  # already had it
    assert await roles.add_role_to_user("acme", "u1", "editor") is False
    assert await roles.add_role_to_user("public", "u2", "admin") is False
    assert await roles.add_role_to_user("public", "u1", "nobody") == UnknownRole("nobody")

    assert await roles.roles_for_user("public", "u1") == ["admin"]
    assert await roles.roles_for_user("acme", "u1") == ["editor"]
    assert await roles.users_with_role("public", "admin") == ["u1", "u2"]
    assert await roles.users_with_role("acme", "admin") == []
    assert await roles.users_with_role("public", "nobody") == UnknownRole("nobody")

    assert await roles.remove_user_role("public", "u1", "admin") is True
    assert await roles.remove_user_role("public", "u1", "admin") is False
    assert await roles.remove_user_role("public", "u1", "nobody") == UnknownRole("nobody")
    assert await roles.roles_for_user("public", "u1") == []
    assert await roles.roles_for_user("acme", "u1") == ["editor"]
    with pytest.raises(ValueError, match="tenant"):
        await roles.add_role_to_user("no-such-tenant", "u1", "admin")


async def test_claim_values_are_the_roles_and_the_union_of_their_permissions(
    dk: Doorkeep,
) -> None:
    roles = roles_of(dk)
    await roles.create_role_or_add_permissions("editor", ["write", "read"])
    await roles.create_role_or_add_permissions("viewer", ["read", "comment"])
    await roles.create_role_or_add_permissions("idle", ["sleep"])
    await roles.add_role_to_user("public", "u1", "viewer")
    await roles.add_role_to_user("public", "u1", "editor")
    assert await roles.claims_for("public", "u1") == RoleClaims(
        ["editor", "viewer"], ["comment", "read", "write"]
    )
    assert await roles.claims_for("public", "nobody") == RoleClaims([], [])


async def test_deleting_a_role_or_a_user_removes_assignments(dk: Doorkeep) -> None:
    """The clean-up is the database's cascade: `delete_user` and `delete_role` have no
    code for assignments (mutants tried in migration 0009: dropping ondelete="CASCADE"
    from user_roles' key to users, or from its key to roles, makes the deletion fail
    with a foreign-key error)."""
    roles = roles_of(dk)
    ada = await new_user(dk, "ada@example.com")
    await roles.create_role_or_add_permissions("admin", ["all"])
    await roles.create_role_or_add_permissions("editor", [])
    for role in ("admin", "editor"):
        await roles.add_role_to_user("public", ada, role)
    await roles.add_role_to_user("public", "not-a-user", "editor")

    assert await roles.delete_role("admin") is True
    assert await roles.roles_for_user("public", ada) == ["editor"]
    assert await roles.roles_with_permission("all") == []

    assert await dk.core.public.delete_user(ada) is True
    assert await roles.roles_for_user("public", ada) == []
    # An ID no user holds keeps its role (SuperTokens allows such assignments).
    assert await roles.users_with_role("public", "editor") == ["not-a-user"]


async def test_a_mapped_user_is_found_by_either_id(dk: Doorkeep) -> None:
    roles = roles_of(dk)
    internal = await new_user(dk, "grace@example.com")
    await dk.core.public.idmapping.create(internal, "legacy-7")
    await roles.create_role_or_add_permissions("admin", ["all"])
    assert await roles.add_role_to_user("public", "legacy-7", "admin") is False
    assert await roles.add_role_to_user("public", internal, "admin") is True  # the same user
    assert await roles.roles_for_user("public", internal) == ["admin"]
    assert await roles.claims_for("public", "legacy-7") == RoleClaims(["admin"], ["all"])
    assert await roles.users_with_role("public", "admin") == ["legacy-7"]  # as callers name it
    # Stored under doorkeep's own ID, so the user's deletion still cascades.
    await dk.core.public.delete_user("legacy-7")
    assert await roles.users_with_role("public", "admin") == []


async def test_concurrent_grants_of_one_role_add_one_row(dk: Doorkeep) -> None:
    roles = roles_of(dk)
    await roles.create_role_or_add_permissions("admin", [])
    results = await asyncio.gather(
        *(roles.add_role_to_user("public", "u1", "admin") for _ in range(8))
    )
    assert sorted(results) == [False] + [True] * 7  # exactly one grant was new
    assert await roles.users_with_role("public", "admin") == ["u1"]


@pytest.mark.parametrize("bad", ["", "   ", "x" * 256, 5, None])
async def test_bad_names_are_refused_and_change_nothing(dk: Doorkeep, bad: object) -> None:
    roles = roles_of(dk)
    with pytest.raises(InvalidRoleName):
        await roles.create_role_or_add_permissions(bad, [])  # type: ignore[arg-type]
    with pytest.raises(InvalidRoleName):
        await roles.create_role_or_add_permissions("ok", ["fine", bad])  # type: ignore[list-item]
    assert await roles.all_roles() == []
    assert await roles.create_role_or_add_permissions("  padded  ", []) is True
    assert await roles.all_roles() == ["padded"]  # as SuperTokens' core trims names
