"""Loading an instance and opening its database, for the `doorkeep` command: every
failure becomes a `StartupError` — one line with every secret masked, and the exit
status (2: the settings or the command line are wrong; 1: something at run time is)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import re
import sys
from collections.abc import Callable, Mapping
from urllib.parse import unquote, urlsplit

from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.engine import Connection

from doorkeep.app import Doorkeep
from doorkeep.config import (
    Settings,
    SettingsError,
    describe_settings_error,
    mask_url,
    unknown_env_names,
)

EXIT_RUNTIME = 1
EXIT_USAGE = 2
OPEN_TIMEOUT_S = 15.0  # asyncpg alone would wait 60 s for a host that does not answer
# Modules that come with an extra of doorkeep's, and the extra.
_EXTRAS = {"redis": "redis", "fastapi": "fastapi", "flask": "flask", "a2wsgi": "flask"}
_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)[^@\s]+@")


class StartupError(Exception):
    """A failure to report in one line (secrets masked) and exit with `status`."""

    def __init__(self, message: str, status: int = EXIT_RUNTIME) -> None:
        super().__init__(mask_secrets(message))
        self.status = status


def mask_secrets(message: str) -> str:
    """`message` with the password of every URL in it replaced by ***."""
    return _URL_PASSWORD.sub(r"\1***@", message)


def select_one(conn: Connection) -> object:
    """One database round trip."""
    return conn.execute(text("SELECT 1")).scalar()


def check_environment(environ: Mapping[str, str] | None = None) -> None:
    """Refuse DOORKEEP_* names that no setting has (a misspelt name must not be ignored)."""
    problems = unknown_env_names(os.environ if environ is None else environ)
    if problems:
        raise StartupError("; ".join(problems), EXIT_USAGE)


def load_instance(spec: str | None) -> Doorkeep:
    """The instance named by `module:attribute`, or one configured from the environment."""
    if not spec:
        try:
            settings = Settings.from_env()
        except SettingsError as exc:
            raise StartupError(f"invalid settings: {exc}", EXIT_USAGE) from None
        return _constructed("setting up doorkeep", lambda: Doorkeep(settings))
    check_environment()
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise StartupError(f"--app must look like module:attribute, not {spec!r}", EXIT_USAGE)
    sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name + ".").startswith(exc.name + "."):
            raise StartupError(
                f"--app {spec}: no module named {exc.name!r} in {os.getcwd()} "
                "or the installed packages",
                EXIT_USAGE,
            ) from None
        raise _failure(f"--app {spec}: importing {module_name}", exc) from None
    except Exception as exc:
        raise _failure(f"--app {spec}: importing {module_name}", exc) from None
    instance = getattr(module, attribute, None)
    if not isinstance(instance, Doorkeep):
        what = "nothing" if instance is None else f"a {type(instance).__name__}"
        raise StartupError(f"--app {spec}: {module_name}.{attribute} is {what}, not a Doorkeep")
    return instance


def _constructed(what: str, make: Callable[[], Doorkeep]) -> Doorkeep:
    try:
        return make()
    except Exception as exc:
        raise _failure(what, exc) from None


def _failure(what: str, exc: Exception) -> StartupError:
    """`what` failed because of `exc`, as one line: settings and missing extras are
    usage errors (2), anything else a run-time one (1)."""
    if isinstance(exc, SettingsError) or (
        isinstance(exc, ValidationError) and exc.title in ("Settings", "ServerSettings")
    ):
        return StartupError(f"{what}: invalid settings: {describe_settings_error(exc)}", EXIT_USAGE)
    missing = (exc.name or "").partition(".")[0] if isinstance(exc, ImportError) else ""
    if missing in _EXTRAS:
        extra = _EXTRAS[missing]
        needs = " (DOORKEEP_REDIS_URL is set)" if extra == "redis" else ""
        return StartupError(
            f"{what}: {missing} is not installed{needs}: pip install 'doorkeep[{extra}]'",
            EXIT_USAGE,
        )
    return StartupError(f"{what} failed: {reason(exc)}")


def reason(exc: BaseException) -> str:
    """The first line of the innermost cause of `exc`, with its type when it says little."""
    while True:
        inner = getattr(exc, "orig", None) or exc.__cause__
        if not isinstance(inner, BaseException) or inner is exc:
            break
        exc = inner
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    message = re.sub(r"^<class '[\w.]+'>: ", "", message)  # SQLAlchemy's asyncpg adapter
    if isinstance(exc, TimeoutError) and not message:
        return "no answer in time"
    if not message or isinstance(exc, SyntaxError | LookupError):
        message = f"{type(exc).__name__}: {message}".rstrip(": ")
    return message if len(message) <= 300 else message[:297] + "..."


async def open_instance(dk: Doorkeep, *, start: bool = True) -> None:
    """Reach the database, then (with `start`) migrate it and make a signing key
    (`dk.start()`); each failure a StartupError naming the database, masked."""
    url = dk.settings.database_url
    shown = mask_url(url)
    try:
        async with asyncio.timeout(OPEN_TIMEOUT_S):
            await dk.core.db.run(select_one)
    except Exception as exc:
        await _dispose(dk)
        raise StartupError(
            f"cannot open the database {shown}: {_scrubbed(reason(exc), url)}{_hint(url, exc)}"
        ) from None
    if not start:
        return
    try:
        await dk.start()
    except Exception as exc:
        await _dispose(dk)
        raise StartupError(
            f"starting on the database {shown} failed: {_scrubbed(reason(exc), url)}"
            f"{_hint(url, exc)}"
        ) from None


async def migrate_database(dk: Doorkeep) -> None:
    """Bring the schema up to date (the database must answer first)."""
    await open_instance(dk, start=False)
    url = dk.settings.database_url
    try:
        await dk.core.db.migrate()
    except Exception as exc:
        raise StartupError(
            f"migrating the database {mask_url(url)} failed: "
            f"{_scrubbed(reason(exc), url)}{_hint(url, exc)}"
        ) from None
    finally:
        await _dispose(dk)


def _hint(url: str, exc: BaseException) -> str:
    said = reason(exc)
    if url.startswith("sqlite") and "unable to open database file" in said:
        return " (does its directory exist, and may doorkeep write there?)"
    if "does not exist" in said and "database" in said:
        name = urlsplit(url).path.lstrip("/")
        return f" (create it first, e.g. createdb {name})"
    if "locate revision" in said or "No such revision" in said:
        return " (was it migrated by a newer doorkeep?)"
    return ""


def _scrubbed(message: str, url: str) -> str:
    """`message` without the URL's password, should a driver have quoted it."""
    password = urlsplit(url).password
    if password and len(password) >= 4:
        for form in {password, unquote(password)}:
            message = message.replace(form, "***")
    return mask_secrets(message)


async def _dispose(dk: Doorkeep) -> None:
    with contextlib.suppress(Exception):
        await dk.core.db.dispose()
