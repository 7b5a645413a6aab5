"""Settings refuse nonsense at start-up (issue 16, part 2): every setting fed a wrong
type, an out-of-range value and a wrong-case enum (where each applies) — in-process
through the validator and `doorkeep migrate`/`serve`'s entry point, and a representative
set through `doorkeep serve` as a real process. Each refusal: one line, exit status 2,
no traceback, no secret."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import ValidationError

from doorkeep.cli import main
from doorkeep.config import (
    ServerSettings,
    Settings,
    SettingsError,
    describe_settings_error,
    env_name,
    mask_url,
)
from doorkeep.testing import free_port


@dataclass(frozen=True)
class Case:
    wrong_type: str  # text that is not what the setting takes
    out_of_range: str | None = None  # the right kind of value, outside the allowed range
    wrong_case: tuple[str, object] | None = None  # an enum in another case -> its value


SECONDS = Case("abc", "-5")
COUNT = Case("1.5x", "0")
BOOL = Case("maybe", None, ("YES", True))
# Every setting, one case each: a new setting without a case here fails the coverage test.
CASES: dict[str, Case] = {
    "database_url": Case("mysql://root:db-secret-pw@db/auth", "postgresql://db:99999/auth"),
    "app_name": Case(""),
    "api_domain": Case("ftp://example.com", "https://example.com:70000"),
    "website_domain": Case("example.com", "http://example.com:0x10"),
    "api_base_path": Case("auth"),
    "website_base_path": Case("auth pages"),
    "access_token_validity": SECONDS,
    "refresh_token_validity": Case("1e", "0"),
    "session_absolute_lifetime": SECONDS,
    "refresh_grace_seconds": Case("ten", "-1"),
    "signing_key_rotation_hours": Case("weekly", "0"),
    "password_min_length": COUNT,
    "password_max_length": COUNT,
    "reject_common_passwords": BOOL,
    "argon2_time_cost": COUNT,
    "argon2_memory_cost": Case("19 MiB", "0"),
    "argon2_parallelism": COUNT,
    "firebase_signer_key": Case("not base64 at all!"),
    "password_reset_token_lifetime": SECONDS,
    "password_reset_single_token": BOOL,
    "email_verification_token_lifetime": SECONDS,
    "legacy_provider_url": Case("ftp://legacy.example", "https://legacy.example:65536"),
    "login_identifier": Case("phone", None, ("UserName", "username")),
    "change_password_revoke": Case("everything", None, ("Others", "others")),
    "change_email_verify": BOOL,
    "change_email_fresh_seconds": Case("5m", "-300"),
    "notify_password_change": BOOL,
    "notify_email_change": BOOL,
    "smtp_url": Case("http://mailer:smtp-secret-pw@mail.example", "smtp://mail.example:99999"),
    "email_from": Case("nobody"),
    "email_retry_delays": Case("1,two,4", "1,-2"),
    "passwordless": Case("maybe", None, ("Email_Or_Phone", "email_or_phone")),
    "passwordless_flow": Case("carrier-pigeon", None, ("LINK", "link")),
    "passwordless_code_lifetime": SECONDS,
    "passwordless_max_code_input_attempts": COUNT,
    "sms_url": Case("https://AC1:sms-secret-pw@api.example", "twilio://AC1:tok@host:99999"),
    "sms_retry_delays": Case("soon", "-1"),
    "cookie_secure": Case("maybe", None, ("FALSE", False)),
    "cookie_same_site": Case("sideways", None, ("None", "none")),
    "cookie_domain": Case("https://example.com/"),
    "anti_csrf": Case("maybe", None, ("via_custom_header", "VIA_CUSTOM_HEADER")),
    "core_api_keys": Case("key with spaces that is long enough", "k" * 19),
    "rate_limits_enabled": BOOL,
    "redis_url": Case("http://redis.example", "redis://:redis-secret-pw@redis.example:99999"),
    "purge_interval_seconds": Case("hourly", "-1"),
    "metrics_enabled": BOOL,
    "audit_enabled": BOOL,
    "audit_retention_days": COUNT,
    "webhook_retry_delays": Case("5,soon", "5,-1"),
    # ServerSettings: what `doorkeep serve` reads.
    "host": Case(""),
    "port": Case("http", "70000"),
    "log_level": Case("loud", None, ("DEBUG", "debug")),
    "log_format": Case("xml", None, ("JSON", "json")),
}
SECRETS = ("db-secret-pw", "smtp-secret-pw", "sms-secret-pw", "redis-secret-pw")
SERVER_FIELDS = set(ServerSettings.model_fields)


def bad_values() -> Iterator[tuple[str, str, str]]:
    for field, case in CASES.items():
        yield field, "wrong type", case.wrong_type
        if case.out_of_range is not None:
            yield field, "out of range", case.out_of_range


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No DOORKEEP_* settings but a scratch database; logging restored afterwards
    (the commands configure it)."""
    for name in list(os.environ):
        if name.startswith("DOORKEEP_") and not name.startswith("DOORKEEP_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DOORKEEP_DATABASE_URL", f"sqlite:///{tmp_path}/settings.sqlite3")
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_every_setting_has_a_case() -> None:
    every = set(Settings.model_fields) | SERVER_FIELDS
    assert set(CASES) == every, f"add a Case for: {sorted(every - set(CASES))}"


@pytest.mark.parametrize(("field", "kind", "value"), list(bad_values()))
def test_each_bad_value_is_one_line_and_exit_status_2(
    field: str,
    kind: str,
    value: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = ServerSettings if field in SERVER_FIELDS else Settings
    environ = {env_name(field): value}
    with pytest.raises(SettingsError) as refused:
        model.from_env(environ)
    message = str(refused.value)
    assert "\n" not in message and message.startswith(env_name(field)), message
    assert not any(secret in message for secret in SECRETS), message
    if field in ("core_api_keys", "firebase_signer_key"):
        assert value not in message  # never echoed

    monkeypatch.setenv(env_name(field), value)
    status = main(["serve"] if model is ServerSettings else ["migrate"])
    err = capsys.readouterr().err
    assert status == 2, (kind, err)
    assert err.count("\n") == 1 and env_name(field) in err, err
    assert "Traceback" not in err and not any(secret in err for secret in SECRETS), err


@pytest.mark.parametrize(
    ("field", "given", "expected"),
    [(field, *case.wrong_case) for field, case in CASES.items() if case.wrong_case],
)
def test_enums_and_booleans_in_any_case(field: str, given: str, expected: object) -> None:
    model = ServerSettings if field in SERVER_FIELDS else Settings
    assert getattr(model.from_env({env_name(field): given}), field) == expected


def test_same_site_none_in_any_case_makes_cookies_secure() -> None:
    """Issue 16: DOORKEEP_COOKIE_SAME_SITE=None (capital N) sent SameSite=None cookies
    without Secure. Mutant tried: no case folding -> 'None' refused... or accepted raw."""
    settings = Settings.from_env({"DOORKEEP_COOKIE_SAME_SITE": "None"})
    assert settings.cookie_same_site == "none" and settings.secure_cookies
    assert Settings(cookie_same_site="NONE").secure_cookies  # in code too
    with pytest.raises(ValidationError):
        Settings(cookie_same_site="none", cookie_secure=False)


def test_the_issue_examples_each_in_one_line() -> None:
    examples = {
        "DOORKEEP_ANTI_CSRF": "maybe",
        "DOORKEEP_CHANGE_PASSWORD_REVOKE": "everything",
        "DOORKEEP_LOGIN_IDENTIFIER": "phone",
        "DOORKEEP_ACCESS_TOKEN_VALIDITY": "-5",
        "DOORKEEP_COOKIE_SAME_SITE": "sideways",
        "DOORKEEP_SMTP_URL": "http://mailer:smtp-secret-pw@mail.example",
    }
    for name, value in examples.items():
        with pytest.raises(SettingsError, match=f"^{name}="):
            Settings.from_env({name: value})
    with pytest.raises(SettingsError) as all_at_once:
        Settings.from_env(examples)
    assert len(all_at_once.value.problems) == len(examples)
    assert "\n" not in str(all_at_once.value)


def test_unknown_names_are_refused_with_a_hint() -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"DOORKEEP_DATABSE_URL": "sqlite:///x.sqlite3"})
    assert str(refused.value) == (
        "DOORKEEP_DATABSE_URL is not a doorkeep setting (did you mean DOORKEEP_DATABASE_URL?)"
    )
    with pytest.raises(SettingsError, match=r"^DOORKEEP_FROBNICATE is not a doorkeep setting$"):
        Settings.from_env({"DOORKEEP_FROBNICATE": "1"})
    # The server's own names, and the test suite's, are known.
    names = {"DOORKEEP_PORT": "1", "DOORKEEP_LOG_FORMAT": "json", "DOORKEEP_TEST_X": "1"}
    Settings.from_env(names)
    with pytest.raises(ValidationError) as in_code:
        Settings(databse_url="sqlite:///x.sqlite3")  # type: ignore[call-arg]
    assert describe_settings_error(in_code.value) == (
        "databse_url is not a setting (did you mean database_url?)"
    )


def test_none_auto_and_lists_from_text() -> None:
    settings = Settings.from_env(
        {
            "DOORKEEP_SESSION_ABSOLUTE_LIFETIME": "none",
            "DOORKEEP_COOKIE_SECURE": "auto",
            "DOORKEEP_SMTP_URL": "",
            "DOORKEEP_ANTI_CSRF": "none",  # one of its choices, not "unset"
            "DOORKEEP_EMAIL_RETRY_DELAYS": " 0.5, 1 ,",
            "DOORKEEP_CORE_API_KEYS": f"{'a' * 20},{'b' * 24}",
            "DOORKEEP_API_DOMAIN": "https://api.example.com/",
        }
    )
    assert settings.session_absolute_lifetime is None and settings.cookie_secure is None
    assert settings.smtp_url is None and settings.anti_csrf == "NONE"
    assert settings.email_retry_delays == (0.5, 1.0)
    assert settings.core_api_keys == ("a" * 20, "b" * 24)
    assert settings.api_domain == "https://api.example.com"  # links add their own slash


def test_across_fields() -> None:
    for values in (
        {"password_min_length": 20, "password_max_length": 10},
        {"argon2_memory_cost": 16, "argon2_parallelism": 4},
    ):
        with pytest.raises(ValidationError) as refused:
            Settings(**values)  # type: ignore[arg-type]
        assert "\n" not in describe_settings_error(refused.value)


def test_a_frozen_value_that_reads_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOORKEEP_APP_NAME", "from the environment")
    settings = Settings(app_name="from code")
    assert Settings().app_name == "doorkeep" and settings.app_name == "from code"
    with pytest.raises(ValidationError):
        settings.app_name = "changed"  # type: ignore[misc]
    changed = settings.with_overrides(access_token_validity=60)
    assert (changed.app_name, changed.access_token_validity) == ("from code", 60)
    assert changed.model_fields_set == {"app_name", "access_token_validity"}
    with pytest.raises(ValidationError):
        settings.with_overrides(access_token_validity=-1)  # checked like a new one
    assert Settings.from_env(app_name="override").app_name == "override"  # over the env


def test_urls_are_masked() -> None:
    assert mask_url("postgresql://dk:p%40ss@db:5432/auth") == "postgresql://dk:***@db:5432/auth"
    assert mask_url("sqlite:////var/lib/doorkeep.sqlite3") == "sqlite:////var/lib/doorkeep.sqlite3"
    assert mask_url("redis://h/0?password=x&db=1") == "redis://h/0?password=***&db=1"
    assert mask_url("smtp://mail.example:25") == "smtp://mail.example:25"


SERVE_EXAMPLES = {  # one of each kind of check (the in-process test has them all)
    "DOORKEEP_ANTI_CSRF": "maybe",
    "DOORKEEP_ACCESS_TOKEN_VALIDITY": "abc",
    "DOORKEEP_REFRESH_TOKEN_VALIDITY": "-5",
    "DOORKEEP_COOKIE_SAME_SITE": "sideways",
    "DOORKEEP_SMTP_URL": "http://mailer:smtp-secret-pw@mail.example",
    "DOORKEEP_DATABASE_URL": "mysql://root:db-secret-pw@db/auth",
    "DOORKEEP_DATABSE_URL": "sqlite:///x.sqlite3",
    "DOORKEEP_PORT": "99999",
    "DOORKEEP_LOG_FORMAT": "xml",
}


def test_doorkeep_serve_refuses_each_in_one_line(tmp_path: Path) -> None:
    """The real command, as its own process: exit 2, one line, no traceback, no secret."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("DOORKEEP_")}
    base["DOORKEEP_DATABASE_URL"] = f"sqlite:///{tmp_path}/serve.sqlite3"
    command = [sys.executable, "-m", "doorkeep.cli", "serve"]
    port = ["--port", str(free_port())]  # (an option overrides DOORKEEP_PORT)
    processes = {
        name: subprocess.Popen(
            command if name == "DOORKEEP_PORT" else [*command, *port],
            env={**base, name: value},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, value in SERVE_EXAMPLES.items()
    }
    for name, process in processes.items():
        try:
            out, err = process.communicate(timeout=60)  # a server that started: no refusal
        finally:
            process.kill()
        assert process.returncode == 2, (name, err)
        assert err.count("\n") == 1 and name in err and not out, (name, err)
        assert "Traceback" not in err and not any(s in err for s in SECRETS), err
