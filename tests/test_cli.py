"""`doorkeep users …` (issue 5, part 5): import with hashes, list, create, delete,
set-password — run through the real CLI entry point on a SQLite file."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import bcrypt
import pytest
from argon2 import PasswordHasher as Argon2Hasher
from argon2 import Type

from doorkeep import Doorkeep, Settings
from doorkeep.cli import main
from doorkeep.core.emailpassword import SignInOk

FIREBASE_KEY = (
    "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA=="
)
FIREBASE_HASH = (
    "$f_scrypt$lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ=="
    "$42xEC+ixf3L2lw==$m=14$r=8$s=Bw=="
)


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path}/cli.sqlite3"
    monkeypatch.setenv("DOORKEEP_DATABASE_URL", url)
    monkeypatch.setenv("DOORKEEP_FIREBASE_SIGNER_KEY", FIREBASE_KEY)
    return url


def in_process(url: str, work):  # type: ignore[no-untyped-def]
    async def run():  # type: ignore[no-untyped-def]
        async with Doorkeep(Settings(database_url=url, firebase_signer_key=FIREBASE_KEY)) as dk:
            return await work(dk)

    return asyncio.run(run())


def test_import_with_hashes_bad_lines_and_rerun(
    database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bcrypt_hash = bcrypt.hashpw(b"bcrypt password", bcrypt.gensalt(rounds=4)).decode()
    argon2i_hash = Argon2Hasher(type=Type.I, time_cost=1, memory_cost=8192).hash("argon2 password")
    lines = [
        {
            "email": "b@example.com",
            "passwordHash": bcrypt_hash,
            "externalUserId": "legacy-b",
            "emailVerified": True,
            "metadata": {"plan": "pro"},
        },
        {"email": "a@example.com", "passwordHash": argon2i_hash, "hashingAlgorithm": "argon2"},
        {
            "email": "f@example.com",
            "passwordHash": FIREBASE_HASH,
            "hashingAlgorithm": "firebase_scrypt",
        },
        "not json at all",
        {"passwordHash": bcrypt_hash},
        {"email": "x@example.com", "passwordHash": "$2b$broken"},
        {"email": "y@example.com", "passwordHash": bcrypt_hash, "tenantId": "nope"},
        {"email": "z@example.com", "passwordHash": bcrypt_hash, "emailVerified": "yes"},
        {"email": "c@example.com", "passwordHash": bcrypt_hash, "externalUserId": "legacy-b"},
    ]
    path = tmp_path / "users.jsonl"
    path.write_text(
        "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
    )

    assert main(["users", "import", str(path)]) == 1  # some lines failed
    out, err = capsys.readouterr()
    assert "3 imported, 0 already there (skipped), 6 failed" in out
    for number in (4, 5, 6, 7, 8, 9):
        assert f"line {number}:" in err
    assert "line 9: externalUserId 'legacy-b' is taken" in err

    async def check(dk: Doorkeep) -> None:
        assert await dk.core.public.users.count_users() == 3  # c@ was rolled back whole
        for email, password in [
            ("b@example.com", "bcrypt password"),
            ("a@example.com", "argon2 password"),
            ("f@example.com", "user1password"),
        ]:
            assert isinstance(await dk.emailpassword.sign_in(email, password), SignInOk), email
        b = await dk.get_user("legacy-b")
        assert b is not None and b.login_methods[0].verified is True
        assert await dk.usermetadata.get_user_metadata("legacy-b") == {"plan": "pro"}

    in_process(database, check)
    # Re-running is idempotent.
    assert main(["users", "import", str(path)]) == 1
    assert "0 imported, 3 already there (skipped), 6 failed" in capsys.readouterr().out


def test_create_list_set_password_delete(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["users", "create", "ada@example.com", "--password", "correct horse battery"]) == 0
    user_id = capsys.readouterr().out.strip()
    assert main(["users", "create", "ada@example.com", "--password", "correct horse battery"]) == 1
    assert "EMAIL_ALREADY_EXISTS_ERROR" in capsys.readouterr().err
    assert main(["users", "create", "bob@example.com", "--password", "short"]) == 1
    assert "at least 8 characters" in capsys.readouterr().err

    assert main(["users", "list"]) == 0
    listed = capsys.readouterr().out
    assert user_id in listed and "ada@example.com" in listed

    assert main(["users", "set-password", user_id, "--password", "a new passphrase"]) == 0
    capsys.readouterr()

    async def signs_in(dk: Doorkeep) -> bool:
        return isinstance(
            await dk.emailpassword.sign_in("ada@example.com", "a new passphrase"), SignInOk
        )

    assert in_process(database, signs_in)
    assert main(["users", "delete", user_id]) == 0
    assert main(["users", "delete", user_id]) == 1
    with pytest.raises(SystemExit) as usage:
        main(["users", "frobnicate"])
    assert usage.value.code == 2
