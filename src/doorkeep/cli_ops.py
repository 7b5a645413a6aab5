"""The operations commands of `doorkeep` (issue 20), registered by cli.py:

    doorkeep audit verify                  walk the audit chain; name the first bad row
    doorkeep audit list --user ID          a user's recent security activity

Exit codes as the other commands: 0 done, 1 something failed (a broken chain), 2 usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from doorkeep.core.common import PUBLIC

if TYPE_CHECKING:
    from doorkeep.app import Doorkeep

RunWith = Callable[[argparse.Namespace, Callable[["Doorkeep"], Awaitable[int]]], int]
AddAppOption = Callable[[argparse.ArgumentParser], None]


def add_ops_commands(commands: Any, run_with: RunWith, add_app_option: AddAppOption) -> None:
    """Register `audit` on the `doorkeep` parser's subcommands."""
    _add_audit(commands, run_with, add_app_option)


def _when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")


# -- audit ----------------------------------------------------------------------------------


def _add_audit(commands: Any, run_with: RunWith, add_app_option: AddAppOption) -> None:
    audit = commands.add_parser(
        "audit", help="the audit trail", description="The audit trail of security events."
    ).add_subparsers(dest="audit", required=True, metavar="COMMAND")
    verify = audit.add_parser("verify", help="check the chain of digests; name the first bad row")
    listing = audit.add_parser("list", help="a user's recent security activity, newest first")
    listing.add_argument("--user", required=True, help="the user's ID (required, no default)")
    listing.add_argument("--app-id", default=PUBLIC, help=f"the app (default: {PUBLIC})")
    listing.add_argument("--limit", type=int, default=20, help="at most this many (default: 20)")

    def verifying(args: argparse.Namespace) -> int:
        return run_with(args, _verify)

    def listing_(args: argparse.Namespace) -> int:
        async def work(dk: Doorkeep) -> int:
            await dk.audit.flush()
            for entry in await dk.audit.recent(args.app_id, args.user, args.limit):
                where = f"{entry.ip or '-'} {entry.user_agent or ''}".rstrip()
                print(f"{entry.id}\t{_when(entry.time)}\t{entry.kind}\t{entry.outcome}\t{where}")
            return 0

        return run_with(args, work)

    for parser, handler in ((verify, verifying), (listing, listing_)):
        add_app_option(parser)
        parser.set_defaults(run=handler)


async def _verify(dk: Doorkeep) -> int:
    verdict = await dk.audit.verify()
    if verdict.ok:
        print(f"audit trail intact: {verdict.rows} rows verified")
        return 0
    print(f"audit trail broken at row {verdict.bad_row}: {verdict.reason}", file=sys.stderr)
    return 1
