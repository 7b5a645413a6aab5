"""`doorkeep users …` (issue 5, part 5): import with hashes, list, create, delete,
set-password — run through the real CLI entry point on a SQLite file."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import bcrypt
import pytest
from argon2 import PasswordHasher as Argon2Hasher
from argon2 import Type
from sqlalchemy.engine import make_url

from doorkeep import Doorkeep, Settings
from doorkeep.cli import build_parser, main
from doorkeep.core.emailpassword import SignInOk
from doorkeep.testing import free_port
from tests.conftest import POSTGRES_URL

FIREBASE_KEY = (
    "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA=="
)
FIREBASE_HASH = (
    "$f_scrypt$lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ=="
    "$42xEC+ixf3L2lw==$m=14$r=8$s=Bw=="
)


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


# --- start-up failures (issue 16, part 2): one or two lines, no traceback, no password ----

PG_SECRET = "pg-secret-pw"
REDIS_MISSING = """
import sys

class NotInstalled:  # what Python says when the redis extra is not installed
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "redis":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, NotInstalled())
from doorkeep.cli import main
sys.exit(main(sys.argv[1:]))
"""


def future_schema(path: Path) -> str:
    """A SQLite file whose schema a newer doorkeep made (a revision this one lacks)."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
        conn.execute("INSERT INTO alembic_version VALUES ('9999_from_the_future')")
    return f"sqlite:///{path}"


def start_up_failures(tmp_path: Path) -> dict[str, tuple[list[str], dict[str, str], int, str]]:
    """name -> (arguments, DOORKEEP_* variables, exit status, what stderr must say)."""
    closed = f"postgresql://postgres:{PG_SECRET}@127.0.0.1:{free_port()}/test"
    (tmp_path / "a_file").write_text("not a directory")
    not_a_dir = f"sqlite:///{tmp_path}/a_file/doorkeep.sqlite3"
    sqlite = f"sqlite:///{tmp_path}/ok.sqlite3"
    failures = {
        "serve, database unreachable": (["serve"], {"DATABASE_URL": closed}, 1, "cannot open"),
        "migrate, database unreachable": (["migrate"], {"DATABASE_URL": closed}, 1, "[Errno 111]"),
        "users, database unreachable": (["users", "list"], {"DATABASE_URL": closed}, 1, "***"),
        "serve, SQLite path unwritable": (["serve"], {"DATABASE_URL": not_a_dir}, 1, "directory"),
        "migrate, SQLite path unwritable": (["migrate"], {"DATABASE_URL": not_a_dir}, 1, "open"),
        "migrate, schema from the future": (
            ["migrate"],
            {"DATABASE_URL": future_schema(tmp_path / "future1.sqlite3")},
            1,
            "newer doorkeep",
        ),
        "serve, schema from the future": (
            ["serve"],
            {"DATABASE_URL": future_schema(tmp_path / "future2.sqlite3")},
            1,
            "9999_from_the_future",
        ),
        "serve --app nosuchmod:dk": (
            ["serve", "--app", "nosuchmod:dk"],
            {"DATABASE_URL": sqlite},
            2,
            "no module named 'nosuchmod'",
        ),
        "serve, redis extra missing": (
            ["-c", REDIS_MISSING, "serve"],
            {"DATABASE_URL": sqlite, "REDIS_URL": "redis://127.0.0.1:6379/0"},
            2,
            "pip install 'doorkeep[redis]'",
        ),
        "serve, bad setting": (["serve"], {"ANTI_CSRF": "maybe"}, 2, "DOORKEEP_ANTI_CSRF"),
    }
    if POSTGRES_URL:
        missing = make_url(POSTGRES_URL).set(password=PG_SECRET, database="doorkeep_no_such_db")
        url = missing.render_as_string(hide_password=False)
        failures["migrate, database missing"] = (
            ["migrate"],
            {"DATABASE_URL": url},
            1,
            'database "doorkeep_no_such_db" does not exist',
        )
    return failures


def test_start_up_failures_are_short(tmp_path: Path) -> None:
    """Each failure: its exit status, at most two lines on stderr, no traceback and no
    password. Mutant tried: main() without its StartupError handler -> tracebacks here."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("DOORKEEP_")}
    port = ["--port", str(free_port())]
    failures = start_up_failures(tmp_path)
    processes = {}
    for name, (args, variables, _, _) in failures.items():
        command = args if args[0] == "-c" else ["-m", "doorkeep.cli", *args]
        processes[name] = subprocess.Popen(
            [sys.executable, *command, *(port if "serve" in args else [])],
            env={**base, **{f"DOORKEEP_{k}": v for k, v in variables.items()}},
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    for name, (_, _, status, says) in failures.items():
        process = processes[name]
        try:
            out, err = process.communicate(timeout=120)  # a server that started: no failure
        finally:
            process.kill()
        assert process.returncode == status, (name, err)
        assert 1 <= len(err.splitlines()) <= 2 and says in err, (name, err)
        assert "Traceback" not in err and PG_SECRET not in err + out, (name, err)


def test_migrate_prints_the_database_url_masked(
    postgres_database: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # PostgreSQL here trusts local connections: the password is carried, not checked.
    url = make_url(postgres_database).set(password=PG_SECRET)
    monkeypatch.setenv("DOORKEEP_DATABASE_URL", url.render_as_string(hide_password=False))
    assert main(["migrate"]) == 0
    out, err = capsys.readouterr()
    assert out.strip().endswith(url.render_as_string(hide_password=True))
    assert "postgres:***@" in out and PG_SECRET not in out + err


def test_version_and_every_option_has_help_with_its_default(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as shown:
        main(["--version"])
    assert shown.value.code == 0
    assert capsys.readouterr().out.strip() == f"doorkeep {version('doorkeep')}"

    def parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
        yield parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in dict.fromkeys(action.choices.values()):
                    yield from parsers(sub)

    options = 0
    for parser in parsers(build_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
                continue
            assert action.help, (parser.prog, action.dest)
            if action.option_strings and not isinstance(action, argparse._VersionAction):
                options += 1
                assert "default" in action.help, (parser.prog, action.option_strings)
    assert options >= 12
    with pytest.raises(SystemExit) as usage:
        main(["serve", "--port", "many"])
    assert usage.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1  # one line, not the whole usage
