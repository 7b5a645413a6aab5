"""The `doorkeep` command: `serve`, `migrate`."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import sys
from collections.abc import Sequence

from doorkeep.app import Doorkeep
from doorkeep.config import Settings


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

    args = parser.parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    raise SystemExit(main())
