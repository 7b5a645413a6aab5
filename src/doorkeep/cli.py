"""The `doorkeep` command: `serve`, `migrate`, and `users` (import, list, create, delete,
set-password). Exit codes: 0 done, 1 something failed, 2 wrong usage."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import importlib
import os
import sys
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from doorkeep.app import Doorkeep
from doorkeep.config import Settings
from doorkeep.core.common import FieldError, Status
from doorkeep.core.emailpassword import SignUpOk
from doorkeep.flows.importer import ImportReport, import_users


def load_instance(spec: str | None) -> Doorkeep:
    """The instance named by `module:attribute`, or one configured from the environment."""
    if not spec:
        return Doorkeep(Settings.from_env())
    module_name, _, attribute = spec.partition(":")
    if not attribute:
        raise SystemExit(f"--app must look like module:attribute, not {spec!r}")
    sys.path.insert(0, os.getcwd())
    instance = getattr(importlib.import_module(module_name), attribute)
    if not isinstance(instance, Doorkeep):
        raise SystemExit(f"{spec} is a {type(instance).__name__}, not a Doorkeep instance")
    return instance


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from doorkeep.web.server import create_app

    app = create_app(load_instance(args.app))
    uvicorn.run(
        app, host=args.host, port=args.port, loop="auto", http="auto", log_level=args.log_level
    )
    return 0


def _migrate(args: argparse.Namespace) -> int:
    dk = load_instance(args.app)

    async def run() -> None:
        await dk.core.db.migrate()
        await dk.core.db.dispose()

    asyncio.run(run())
    print(f"database is at the newest schema: {dk.settings.database_url}")
    return 0


def _run_with(args: argparse.Namespace, work: Callable[[Doorkeep], Awaitable[int]]) -> int:
    dk = load_instance(args.app)

    async def run() -> int:
        async with dk:
            return await work(dk)

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
            report = await import_users(dk, read(lines), progress=progress)
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
            print(f"{user.id}\t{user.password_login_identifier or ''}\t{joined}")
        return 0

    return _run_with(args, work)


def _password(args: argparse.Namespace) -> str:
    return args.password if args.password is not None else getpass.getpass("Password: ")


def _users_create(args: argparse.Namespace) -> int:
    async def work(dk: Doorkeep) -> int:
        result = await dk.emailpassword.sign_up(args.email, _password(args))
        if isinstance(result, SignUpOk):
            print(result.user.id)
            return 0
        print(f"not created: {_describe(result)}", file=sys.stderr)
        return 1

    return _run_with(args, work)


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
    users = commands.add_parser("users", help="manage users").add_subparsers(
        dest="users", required=True
    )
    importing = users.add_parser("import", help="import users from a JSON Lines file with hashes")
    importing.add_argument("file")
    listing = users.add_parser("list", help="list users")
    listing.add_argument("--limit", type=int, default=100)
    creating = users.add_parser("create", help="create an email/password user")
    creating.add_argument("email")
    creating.add_argument("--password", help="default: asked without echo")
    deleting = users.add_parser("delete", help="delete a user and everything theirs")
    deleting.add_argument("user_id")
    setting = users.add_parser("set-password", help="set a user's password")
    setting.add_argument("user_id")
    setting.add_argument("--password", help="default: asked without echo")
    handlers = {
        importing: _users_import,
        listing: _users_list,
        creating: _users_create,
        deleting: _users_delete,
        setting: _users_set_password,
    }
    for parser, handler in handlers.items():
        parser.add_argument("--app", help="use your own configured instance, as module:attribute")
        parser.set_defaults(run=handler)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="doorkeep", description="Self-hosted authentication.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP server")
    serve.add_argument("--host", default=os.environ.get("DOORKEEP_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("DOORKEEP_PORT", "3567")))
    serve.add_argument("--app", help="serve your own configured instance, as module:attribute")
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(run=_serve)

    migrate = commands.add_parser("migrate", help="bring the database schema up to date")
    migrate.add_argument("--app", help="use your own configured instance, as module:attribute")
    migrate.set_defaults(run=_migrate)
    _add_users_commands(commands)

    args = parser.parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    raise SystemExit(main())
