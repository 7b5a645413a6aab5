"""`doorkeep roles …` (issue 19 item 5) through the real CLI entry point on a SQLite
file: what each command prints, its exit code, and what the database then holds."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from doorkeep import Doorkeep, Settings
from doorkeep.cli import main
from doorkeep.core.emailpassword import SignUpOk


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """The commands configure logging for their process; put the test run's back."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path}/cli.sqlite3"
    monkeypatch.setenv("DOORKEEP_DATABASE_URL", url)
    return url


def in_process(url: str, work: Callable[[Doorkeep], Awaitable[Any]]) -> Any:
    async def run() -> Any:
        async with Doorkeep(Settings(database_url=url)) as dk:
            return await work(dk)

    return asyncio.run(run())


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["roles", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_roles_from_creation_to_deletion(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    async def new_user(dk: Doorkeep) -> str:
        created = await dk.emailpassword.sign_up("ada@example.com", "correct horse battery")
        assert isinstance(created, SignUpOk)
        return created.user.id

    user_id = in_process(database, new_user)

    assert run(capsys, "create", "admin", "users:read") == (0, "created admin\n", "")
    assert run(capsys, "create", "admin")[1] == "admin exists: permissions added\n"
    assert run(capsys, "grant", "admin", "users:write")[0] == 0
    assert run(capsys, "create", "viewer")[0] == 0
    assert run(capsys, "list") == (0, "admin\tusers:read,users:write\nviewer\t\n", "")

    assert run(capsys, "assign", user_id, "admin") == (
        0,
        f"{user_id} now has admin in public\n",
        "",
    )
    assert run(capsys, "assign", user_id, "admin")[1] == f"{user_id} already had admin in public\n"
    assert run(capsys, "list", "--user", user_id) == (0, "admin\n", "")
    assert run(capsys, "list", "--users-of", "admin") == (0, f"{user_id}\n", "")
    assert run(capsys, "list", "--user", user_id, "--tenant", "public")[1] == "admin\n"

    assert run(capsys, "revoke", "admin", "users:read")[0] == 0
    assert run(capsys, "revoke", "admin", "--all")[0] == 0
    assert run(capsys, "list")[1] == "admin\t\nviewer\t\n"
    assert run(capsys, "unassign", user_id, "admin")[0] == 0
    status, _, err = run(capsys, "unassign", user_id, "admin")
    assert status == 1 and err == f"{user_id} does not have admin in public\n"

    assert run(capsys, "assign", user_id, "viewer")[0] == 0
    assert run(capsys, "delete", "viewer")[0] == 0
    assert run(capsys, "list", "--user", user_id) == (0, "", "")  # the assignment went with it

    async def stored(dk: Doorkeep) -> tuple[list[str], list[str]]:
        roles = dk.core.public.roles
        return await roles.all_roles(), await roles.roles_for_user("public", user_id)

    assert in_process(database, stored) == (["admin"], [])


@pytest.mark.parametrize(
    ("argv", "status", "message"),
    [
        (["delete", "ghost"], 1, "no role ghost\n"),
        (["grant", "ghost", "x"], 1, "no role ghost: create it first (doorkeep roles create)\n"),
        (["revoke", "ghost", "x"], 1, "no role ghost\n"),
        (["revoke", "ghost"], 2, "name the permissions to revoke, or --all\n"),
        (["assign", "u1", "ghost"], 1, "no role ghost: create it first (doorkeep roles create)\n"),
        (["unassign", "u1", "ghost"], 1, "no role ghost\n"),
        (["list", "--users-of", "ghost"], 1, "no role ghost\n"),
        (["create", " "], 2, "doorkeep roles: role cannot be an empty string\n"),
        (["create", "x" * 256], 2, "doorkeep roles: role is longer than 255 characters\n"),
    ],
)
def test_what_the_commands_refuse_in_one_line(
    database: str,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    status: int,
    message: str,
) -> None:
    assert run(capsys, *argv) == (status, "", message)


def test_assigning_in_a_tenant_that_does_not_exist(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "create", "admin")
    status, out, err = run(capsys, "assign", "u1", "admin", "--tenant", "nope")
    assert (status, out) == (1, "") and err == "tenant 'nope' does not exist\n"


def test_usage_errors_exit_2(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["roles", "grant", "admin"])  # no permission named
    assert raised.value.code == 2
    with pytest.raises(SystemExit) as raised:
        main(["roles", "list", "--user", "u1", "--users-of", "admin"])
    assert raised.value.code == 2
