"""`doorkeep users create --phone/--passwordless`, `users list` showing each login
method, and `users import` of passwordless users (no hash), through the real CLI
entry point on a SQLite file (issue 17, item 8)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from doorkeep.cli import main


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path}/cli.sqlite3"
    monkeypatch.setenv("DOORKEEP_DATABASE_URL", url)
    return url


def test_create_passwordless_users_and_list_their_login(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["users", "create", "--phone", "+1 (415) 555-2671"]) == 0
    phone_id = capsys.readouterr().out.strip()
    assert main(["users", "create", "Ada@Example.com", "--passwordless"]) == 0
    email_id = capsys.readouterr().out.strip()
    assert main(["users", "create", "bob@example.com", "--password", "correct horse battery"]) == 0
    capsys.readouterr()

    assert main(["users", "create", "--phone", "+14155552671"]) == 1
    assert "already" in capsys.readouterr().err
    assert main(["users", "create", "--phone", "12"]) == 1
    assert "invalid" in capsys.readouterr().err
    assert main(["users", "create", "x@example.com", "--passwordless", "--password", "p"]) == 2
    assert main(["users", "create"]) == 2
    capsys.readouterr()

    assert main(["users", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert f"{phone_id}\t+14155552671 (passwordless)\t" in lines[0] + "\t"
    assert lines[1].startswith(f"{email_id}\tada@example.com (passwordless)\t")
    assert "\tbob@example.com (emailpassword)\t" in lines[2]


def test_import_takes_passwordless_users_without_a_hash(
    database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [
        {"recipeId": "passwordless", "phoneNumber": "+1 415 555 2671", "externalUserId": "p1"},
        {"recipeId": "passwordless", "email": "Ada@Example.com", "emailVerified": True},
        {"recipeId": "passwordless", "email": "both@example.com", "phoneNumber": "+442079460958"},
        # The same email as an email/password user too: the recipes' addresses are apart.
        {"email": "ada@example.com", "passwordHash": "$2b$04$" + "a" * 53},
        {"recipeId": "passwordless", "phoneNumber": "+14155552671"},  # the same number again
        {"recipeId": "passwordless", "email": "x@example.com", "passwordHash": "$2b$04$x"},
        {"recipeId": "passwordless"},
        {"recipeId": "passwordless", "phoneNumber": "12345"},
        {"recipeId": "thirdparty", "email": "t@example.com"},
    ]
    source = tmp_path / "users.jsonl"
    source.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    assert main(["users", "import", str(source)]) == 1
    captured = capsys.readouterr()
    assert "4 imported, 1 already there (skipped), 4 failed" in captured.out
    for number, reason in (
        (6, "has no passwordHash"),
        (7, "needs an email or a phoneNumber"),
        (8, "phoneNumber: not a valid"),
        (9, "recipeId must be"),
    ):
        assert f"line {number}: " in captured.err and reason in captured.err

    assert main(["users", "import", str(source)]) == 1  # a re-run skips who is there
    assert "0 imported, 5 already there (skipped), 4 failed" in capsys.readouterr().out
    assert main(["users", "list"]) == 0
    listed = capsys.readouterr().out
    assert "p1\t+14155552671 (passwordless)" in listed
    assert (
        "ada@example.com (passwordless)" in listed and "ada@example.com (emailpassword)" in listed
    )
    assert "both@example.com (passwordless)" in listed
