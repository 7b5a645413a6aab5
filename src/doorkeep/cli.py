"""The `doorkeep` command: `serve`, `migrate`, `users` (import, list, create, delete,
set-password) and `roles` (cli_roles.py). Exit codes: 0 done, 1 something failed, 2
wrong usage or settings.

Every failure to start is one line on stderr (no traceback, secrets masked): see
`doorkeep.startup`. Settings come from `DOORKEEP_*` variables (`doorkeep.config`);
`serve`'s options override `DOORKEEP_HOST`, `DOORKEEP_PORT`, `DOORKEEP_LOG_LEVEL` and
`DOORKEEP_LOG_FORMAT`."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any, NoReturn

from doorkeep.app import Doorkeep
from doorkeep.cli_ops import add_ops_commands
from doorkeep.cli_roles import add_roles_commands
from doorkeep.config import ServerSettings, SettingsError, mask_url, set_listening_origin
from doorkeep.core.common import PUBLIC, FieldError, Status
from doorkeep.core.emailpassword import SignUpOk
from doorkeep.core.passwordless import SignInUpOk
from doorkeep.core.users import User
from doorkeep.flows.importer import ImportReport, import_users
from doorkeep.logs import configure_logging
from doorkeep.startup import (
    EXIT_RUNTIME,
    EXIT_USAGE,
    StartupError,
    load_instance,
    migrate_database,
    open_instance,
)

if TYPE_CHECKING:
    from doorkeep.serve.listeners import ServePlan

log = logging.getLogger("doorkeep")
_SERVER = ServerSettings.model_fields
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}

__all__ = ["load_instance", "main"]


def _server_settings(args: argparse.Namespace) -> ServerSettings:
    """DOORKEEP_HOST/PORT/LOG_LEVEL/LOG_FORMAT, overridden by the options given."""
    given = {name: getattr(args, name) for name in _SERVER if getattr(args, name, None) is not None}
    try:
        return ServerSettings.from_env(**given)
    except SettingsError as exc:
        problems = [_as_option(problem, given) for problem in exc.problems]
        raise StartupError(f"invalid settings: {'; '.join(problems)}", EXIT_USAGE) from None


def _as_option(problem: str, given: dict[str, Any]) -> str:
    """Name a problem with an option the way it was given: `--log-level=...`."""
    for name in given:
        if problem.startswith(f"{name}="):
            return "--" + name.replace("_", "-") + problem[len(name) :]
    return problem


def listening_origin(host: str, port: int) -> str:
    """The origin a browser on this machine reaches `serve` at (links in emails)."""
    host = _WILDCARDS.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    server_settings = _server_settings(args)
    configure_logging(server_settings.log_level, server_settings.log_format)
    origin = listening_origin(server_settings.host, server_settings.port)
    set_listening_origin(origin)  # the default of api_domain and website_domain
    dk = load_instance(args.app)
    _warn_about_domains(dk, server_settings.host)
    plan = _plan_serving(args, dk, server_settings)
    config = uvicorn.Config(
        plan.app,
        host=server_settings.host,
        port=server_settings.port,
        log_config=None,  # configure_logging did it, for uvicorn too
        log_level=server_settings.log_level,
        lifespan="on",
        forwarded_allow_ips=args.forwarded_allow_ips,  # None: $FORWARDED_ALLOW_IPS/127.0.0.1
    )

    class Server(uvicorn.Server):
        async def serve(self, sockets: Any = None) -> None:
            await open_instance(dk)  # fail here in one line, not in the lifespan
            log.info("doorkeep %s serving %s", _version(), origin)
            log.info("database %s", mask_url(dk.settings.database_url))
            log.info("%s", plan.description)
            await super().serve(sockets)

    server = Server(config)
    server.run(sockets=plan.sockets)
    return 0 if server.started else EXIT_RUNTIME


def _plan_serving(args: argparse.Namespace, dk: Doorkeep, settings: ServerSettings) -> ServePlan:
    """Where the core API goes (serve/listeners.py): a usage error or an unbindable port
    is a StartupError."""
    from doorkeep.serve.listeners import plan_serving

    try:
        return plan_serving(dk, settings.host, settings.port, args.core_host, args.core_port)
    except ValueError as exc:
        raise StartupError(str(exc), EXIT_USAGE) from None
    except OSError as exc:
        raise StartupError(f"cannot listen: {exc}") from None


def _warn_about_domains(dk: Doorkeep, host: str) -> None:
    if host not in _WILDCARDS:
        return
    for name in ("website_domain", "api_domain"):
        if name not in dk.settings.model_fields_set:
            log.warning(
                "%s defaults to %s, which only this machine reaches: set DOORKEEP_%s",
                name,
                getattr(dk.settings, name),
                name.upper(),
            )


def _migrate(args: argparse.Namespace) -> int:
    _configure_quiet_logging()
    dk = load_instance(args.app)
    asyncio.run(migrate_database(dk))
    print(f"database is at the newest schema: {mask_url(dk.settings.database_url)}")
    return 0


def _configure_quiet_logging() -> None:
    """Commands other than serve log warnings only (console emails among them)."""
    configure_logging("warning", _server_settings(argparse.Namespace()).log_format)


def _run_with(args: argparse.Namespace, work: Callable[[Doorkeep], Awaitable[int]]) -> int:
    _configure_quiet_logging()
    dk = load_instance(args.app)

    async def run() -> int:
        await open_instance(dk)
        try:
            return await work(dk)
        finally:
            await dk.close()

    return asyncio.run(run())


def _users_import(args: argparse.Namespace) -> int:
    try:
        total = max(os.path.getsize(args.file), 1)
    except OSError as exc:
        print(f"cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2

    async def work(dk: Doorkeep) -> int:
        done = 0  # bytes read so far

        def read(lines: Iterable[bytes]) -> Iterator[bytes]:
            nonlocal done
            for raw in lines:
                done += len(raw)
                yield raw

        def progress(line: int, report: ImportReport) -> None:
            share = min(done / total, 1.0)
            bar = "#" * int(share * 30)
            print(
                f"\r[{bar:<30}] {share:4.0%}  line {line}: {report.imported} imported, "
                f"{report.skipped} already there, {len(report.failed)} failed",
                end="",
                file=sys.stderr,
                flush=True,
            )

        # Bytes, so that the bar knows how far into the file it is (lines are decoded
        # one by one; a line that is not UTF-8 fails alone). The CLI runs alone on its
        # loop: blocking line reads hold nothing up.
        with open(args.file, "rb") as lines:  # noqa: ASYNC230
            report = await import_users(dk.core.public, read(lines), progress=progress)
        print("", file=sys.stderr)
        for number, reason in report.failed:
            print(f"line {number}: {reason}", file=sys.stderr)
        print(
            f"{report.imported} imported, {report.skipped} already there (skipped), "
            f"{len(report.failed)} failed"
        )
        return 1 if report.failed else 0

    return _run_with(args, work)


def _users_list(args: argparse.Namespace) -> int:
    async def work(dk: Doorkeep) -> int:
        users, _ = await dk.core.public.users.list_users(limit=args.limit)
        for user in users:
            joined = datetime.fromtimestamp(user.time_joined / 1000, UTC).isoformat(
                timespec="seconds"
            )
            print(f"{user.id}\t{_login_of(user)}\t{joined}")
        return 0

    return _run_with(args, work)


def _login_of(user: User) -> str:
    """What the user signs in with, and how: `ada@example.com (emailpassword)`,
    `+14155552671 (passwordless)`."""
    method = user.login_methods[0]
    identifier = method.email or method.username or method.phone_number or ""
    return f"{identifier} ({method.recipe_id})"


def _password(args: argparse.Namespace) -> str:
    return args.password if args.password is not None else getpass.getpass("Password: ")


def _users_create(args: argparse.Namespace) -> int:
    async def work(dk: Doorkeep) -> int:
        if args.passwordless or args.phone:
            return await _create_passwordless(dk, args)
        if not args.email:
            print("give the user's email (or --phone, or --passwordless)", file=sys.stderr)
            return 2
        result = await dk.emailpassword.sign_up(args.email, _password(args))
        if isinstance(result, SignUpOk):
            print(result.user.id)
            return 0
        print(f"not created: {_describe(result)}", file=sys.stderr)
        return 1

    return _run_with(args, work)


async def _create_passwordless(dk: Doorkeep, args: argparse.Namespace) -> int:
    """A passwordless user (no password: they sign in with codes or links)."""
    if args.password is not None:
        print("a passwordless user has no password: drop --password", file=sys.stderr)
        return 2
    result = await dk.core.public.passwordless.sign_in_up(
        PUBLIC, email=args.email, phone_number=args.phone
    )
    if isinstance(result, SignInUpOk) and result.created_new_recipe_user:
        print(result.user.id)
        return 0
    reason = "a passwordless user already has it" if result.status == "OK" else _describe(result)
    print(f"not created: {reason}", file=sys.stderr)
    return 1


def _users_delete(args: argparse.Namespace) -> int:
    async def work(dk: Doorkeep) -> int:
        if await dk.delete_user(args.user_id):
            print(f"deleted {args.user_id}")
            return 0
        print(f"no user {args.user_id}", file=sys.stderr)
        return 1

    return _run_with(args, work)


def _users_set_password(args: argparse.Namespace) -> int:
    async def work(dk: Doorkeep) -> int:
        result = await dk.emailpassword.update_email_or_password(
            args.user_id, password=_password(args)
        )
        if result.status == "OK":
            print(f"password of {args.user_id} changed")
            return 0
        print(f"not changed: {_describe(result)}", file=sys.stderr)
        return 1

    return _run_with(args, work)


def _describe(result: Status) -> str:
    if isinstance(result, FieldError):
        return "; ".join(message for _, message in result.fields)
    return result.status


def _add_users_commands(commands: Any) -> None:
    users = commands.add_parser(
        "users", help="manage users", description="Manage users on the configured database."
    ).add_subparsers(dest="users", required=True, metavar="COMMAND")
    importing = users.add_parser("import", help="import users from a JSON Lines file with hashes")
    importing.add_argument("file", help="JSON Lines file, one user a line")
    listing = users.add_parser("list", help="list users")
    listing.add_argument("--limit", type=int, default=100, help="at most this many (default: 100)")
    creating = users.add_parser(
        "create",
        help="create an email/password user, or a passwordless one (--phone, --passwordless)",
    )
    creating.add_argument("email", nargs="?", help="the new user's email")
    creating.add_argument(
        "--phone",
        help="a passwordless user with this phone number, E.164 (default: an email user)",
    )
    creating.add_argument(
        "--passwordless",
        action="store_true",
        help="a passwordless user with this email (default: one with a password)",
    )
    creating.add_argument("--password", help="default: asked without echo")
    deleting = users.add_parser("delete", help="delete a user and everything theirs")
    deleting.add_argument("user_id", help="the user's ID")
    setting = users.add_parser("set-password", help="set a user's password")
    setting.add_argument("user_id", help="the user's ID")
    setting.add_argument("--password", help="default: asked without echo")
    handlers = {
        importing: _users_import,
        listing: _users_list,
        creating: _users_create,
        deleting: _users_delete,
        setting: _users_set_password,
    }
    for parser, handler in handlers.items():
        _add_app_option(parser)
        parser.set_defaults(run=handler)


def _add_app_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--app",
        metavar="MODULE:ATTRIBUTE",
        help="use your own configured Doorkeep instance "
        "(default: one configured from DOORKEEP_* variables)",
    )


def _default(name: str) -> str:
    return f"default: $DOORKEEP_{name.upper()} or {_SERVER[name].default}"


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line (argparse prints the whole usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="doorkeep",
        description="Self-hosted authentication.",
        epilog="Settings come from DOORKEEP_* environment variables (see the docs).",
    )
    parser.add_argument("--version", action="version", version=f"doorkeep {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the HTTP server")
    serve.add_argument("--host", help=f"address to listen on ({_default('host')})")
    serve.add_argument("--port", type=int, help=f"port to listen on ({_default('port')})")
    serve.add_argument(
        "--log-level",
        dest="log_level",
        metavar="LEVEL",
        help=f"critical, error, warning, info, debug or trace ({_default('log_level')})",
    )
    serve.add_argument(
        "--log-format",
        dest="log_format",
        metavar="FORMAT",
        help=f"text, or json: one object a line ({_default('log_format')})",
    )
    serve.add_argument(
        "--core-port",
        type=int,
        metavar="PORT",
        help="serve the core API (CDI) alone on this port, and not on --port; without "
        "DOORKEEP_CORE_API_KEYS it answers direct loopback callers only (default: the CDI "
        "is on --port and needs a key)",
    )
    serve.add_argument(
        "--core-host",
        metavar="ADDRESS",
        help="address of --core-port (default: 127.0.0.1; another needs API keys)",
    )
    serve.add_argument(
        "--forwarded-allow-ips",
        metavar="IPS",
        help="comma-separated proxies whose X-Forwarded-For/-Proto are believed: client "
        "addresses (per-IP limits) come from them (default: $FORWARDED_ALLOW_IPS or 127.0.0.1)",
    )
    _add_app_option(serve)
    serve.set_defaults(run=_serve)

    migrate = commands.add_parser("migrate", help="bring the database schema up to date")
    _add_app_option(migrate)
    migrate.set_defaults(run=_migrate)
    _add_users_commands(commands)
    add_ops_commands(commands, _run_with, _add_app_option)  # audit, webhooks (cli_ops.py)
    add_roles_commands(commands, _run_with, _add_app_option)
    return parser


def _version() -> str:
    try:
        return version("doorkeep")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except StartupError as exc:
        print(f"doorkeep: {exc}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
