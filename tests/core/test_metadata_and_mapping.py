"""User metadata and user-ID mapping, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest

from doorkeep import Doorkeep
from doorkeep.core.emailpassword import SignInOk, SignUpOk
from doorkeep.core.idmapping import (
    CreateMappingOk,
    Mapping,
    MappingAlreadyExistsError,
    UnknownMappingError,
    UnknownSuperTokensUserIdError,
)
from doorkeep.core.metadata import InvalidMetadata


async def test_metadata_shallow_merge_and_null_deletes(dk: Doorkeep) -> None:
    md = dk.usermetadata
    assert await md.get_user_metadata("u1") == {}
    assert await md.update_user_metadata("u1", {"a": 1, "nested": {"x": 1}}) == {
        "a": 1,
        "nested": {"x": 1},
    }
    merged = await md.update_user_metadata("u1", {"a": None, "nested": {"y": 2}, "b": True})
    assert merged == {"nested": {"y": 2}, "b": True}  # shallow: nested objects are replaced
    assert await md.get_user_metadata("u1") == merged
    await md.clear_user_metadata("u1")
    assert await md.get_user_metadata("u1") == {}


async def test_concurrent_metadata_merges_keep_every_key(dk: Doorkeep) -> None:
    await asyncio.gather(
        *(dk.usermetadata.update_user_metadata("u1", {f"k{i}": i}) for i in range(10))
    )
    assert await dk.usermetadata.get_user_metadata("u1") == {f"k{i}": i for i in range(10)}


async def test_metadata_rejects_non_objects_and_writes_nothing(dk: Doorkeep) -> None:
    for bad in [[1, 2], "text", 5, {"n": float("nan")}]:
        with pytest.raises(InvalidMetadata):
            await dk.usermetadata.update_user_metadata("u1", bad)  # type: ignore[arg-type]
    assert await dk.usermetadata.get_user_metadata("u1") == {}


async def test_mapping_lifecycle_and_external_ids_everywhere(dk: Doorkeep) -> None:
    ada = await dk.emailpassword.sign_up("ada@example.com", "correct horse battery")
    assert isinstance(ada, SignUpOk)
    internal = ada.user.id
    mapping = dk.useridmapping
    assert isinstance(
        await mapping.create_user_id_mapping(internal, "legacy-1", "from v1"), CreateMappingOk
    )

    for lookup, kind in [(internal, "SUPERTOKENS"), ("legacy-1", "EXTERNAL"), ("legacy-1", "ANY")]:
        found = await mapping.get_user_id_mapping(lookup, kind)  # type: ignore[arg-type]
        assert isinstance(found, Mapping)
        assert (found.supertokens_user_id, found.external_user_id) == (internal, "legacy-1")
        assert found.external_user_id_info == "from v1"
    assert isinstance(await mapping.get_user_id_mapping(internal, "EXTERNAL"), UnknownMappingError)

    # Users come back under the external ID, and every function accepts either.
    signed_in = await dk.emailpassword.sign_in("ada@example.com", "correct horse battery")
    assert isinstance(signed_in, SignInOk) and signed_in.user.id == "legacy-1"
    by_external = await dk.get_user("legacy-1")
    by_internal = await dk.get_user(internal)
    assert by_external is not None and by_external == by_internal
    assert by_external.login_methods[0].recipe_user_id == "legacy-1"
    await dk.usermetadata.update_user_metadata("legacy-1", {"plan": "pro"})
    assert await dk.usermetadata.get_user_metadata(internal) == {"plan": "pro"}
    assert (
        await dk.emailpassword.update_email_or_password("legacy-1", password="new passphrase 2")
    ).status == "OK"

    await mapping.update_or_delete_user_id_mapping_info("legacy-1", None)
    found = await mapping.get_user_id_mapping("legacy-1")
    assert isinstance(found, Mapping) and found.external_user_id_info is None
    deleted = await mapping.delete_user_id_mapping("legacy-1")
    assert deleted.did_mapping_exist is True
    assert (await mapping.delete_user_id_mapping("legacy-1")).did_mapping_exist is False
    user = await dk.get_user(internal)
    assert user is not None and user.id == internal


async def test_mapping_conflicts_are_reported_not_raised(dk: Doorkeep) -> None:
    ada = await dk.emailpassword.sign_up("ada@example.com", "correct horse battery")
    bob = await dk.emailpassword.sign_up("bob@example.com", "correct horse battery")
    assert isinstance(ada, SignUpOk) and isinstance(bob, SignUpOk)
    mapping = dk.useridmapping
    assert isinstance(
        await mapping.create_user_id_mapping("no-such-user", "x"), UnknownSuperTokensUserIdError
    )
    await mapping.create_user_id_mapping(ada.user.id, "legacy-1")
    clash = await mapping.create_user_id_mapping(bob.user.id, "legacy-1")
    assert isinstance(clash, MappingAlreadyExistsError)
    assert (clash.does_supertokens_user_id_exist, clash.does_external_user_id_exist) == (
        False,
        True,
    )
    twice = await mapping.create_user_id_mapping(ada.user.id, "legacy-2")
    assert isinstance(twice, MappingAlreadyExistsError) and twice.does_supertokens_user_id_exist
    # An external ID equal to another user's own ID would be ambiguous.
    ambiguous = await mapping.create_user_id_mapping(bob.user.id, ada.user.id)
    assert (
        isinstance(ambiguous, MappingAlreadyExistsError) and ambiguous.does_external_user_id_exist
    )
