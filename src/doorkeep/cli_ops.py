"""The operations commands of `doorkeep` (issue 20), registered by cli.py:

    doorkeep audit verify                  walk the audit chain; name the first bad row
    doorkeep audit list --user ID          a user's recent security activity
    doorkeep webhooks add URL --events …   register an endpoint (prints its ID and secret)
    doorkeep webhooks list                 the endpoints
    doorkeep webhooks deliveries [--pending] [--endpoint ID] [--event ID]
    doorkeep webhooks replay DELIVERY_ID…  deliver again (or --event ID: every delivery of it)

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
    """Register `audit` and `webhooks` on the `doorkeep` parser's subcommands."""
    _add_audit(commands, run_with, add_app_option)
    _add_webhooks(commands, run_with, add_app_option)


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


# -- webhooks -------------------------------------------------------------------------------


def _add_webhooks(commands: Any, run_with: RunWith, add_app_option: AddAppOption) -> None:
    webhooks = commands.add_parser(
        "webhooks", help="webhook endpoints and deliveries", description="Webhooks."
    ).add_subparsers(dest="webhooks", required=True, metavar="COMMAND")
    adding = webhooks.add_parser("add", help="register an endpoint (prints its ID and secret)")
    adding.add_argument("url", help="where to POST events (http:// or https://)")
    adding.add_argument(
        "--events",
        default="*",
        help="comma-separated event types, e.g. user.created,session.revoked (default: *, all)",
    )
    adding.add_argument("--app-id", default=PUBLIC, help=f"the app (default: {PUBLIC})")
    listing = webhooks.add_parser("list", help="the endpoints")
    deliveries = webhooks.add_parser("deliveries", help="deliveries, newest first")
    deliveries.add_argument("--endpoint", help="of this endpoint only (default: every endpoint)")
    deliveries.add_argument("--event", help="of this event only (default: every event)")
    deliveries.add_argument(
        "--pending", action="store_true", help="not delivered yet only (default: all)"
    )
    deliveries.add_argument("--limit", type=int, default=50, help="at most this many (default: 50)")
    replaying = webhooks.add_parser("replay", help="deliver again")
    replaying.add_argument("delivery_ids", nargs="*", type=int, help="deliveries by ID")
    replaying.add_argument("--event", help="every delivery of this event ID (default: none)")
    handlers = {
        adding: _webhooks_add,
        listing: _webhooks_list,
        deliveries: _webhooks_deliveries,
        replaying: _webhooks_replay,
    }
    for parser, work in handlers.items():
        add_app_option(parser)
        parser.set_defaults(run=_runner(run_with, work))


def _runner(
    run_with: RunWith, work: Callable[[Doorkeep, argparse.Namespace], Awaitable[int]]
) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        async def bound(dk: Doorkeep) -> int:
            return await work(dk, args)

        return run_with(args, bound)

    return run


async def _webhooks_add(dk: Doorkeep, args: argparse.Namespace) -> int:
    events = [part.strip() for part in args.events.split(",") if part.strip()]
    try:
        endpoint = await dk.webhooks.add_endpoint(args.url, events, app_id=args.app_id)
    except ValueError as exc:
        print(f"not added: {exc}", file=sys.stderr)
        return 2
    print(f"id\t{endpoint.id}\nsecret\t{endpoint.secret}")
    return 0


async def _webhooks_list(dk: Doorkeep, args: argparse.Namespace) -> int:
    for endpoint in await dk.webhooks.list_endpoints():
        state = "enabled" if endpoint.enabled else "disabled"
        events = ",".join(endpoint.event_types)
        print(f"{endpoint.id}\t{endpoint.app_id}\t{state}\t{endpoint.url}\t{events}")
    return 0


async def _webhooks_deliveries(dk: Doorkeep, args: argparse.Namespace) -> int:
    found = await dk.webhooks.deliveries(
        endpoint_id=args.endpoint, event_id=args.event, pending=args.pending, limit=args.limit
    )
    for d in found:
        status = "-" if d.last_status is None else str(d.last_status)
        print(
            f"{d.id}\t{d.state}\t{d.event_type}\t{d.event_id}\tattempts={d.attempts}\t"
            f"status={status}\tdelivered={_when(d.delivered_at)}\t{d.last_error or ''}".rstrip()
        )
    return 0


async def _webhooks_replay(dk: Doorkeep, args: argparse.Namespace) -> int:
    if not args.delivery_ids and not args.event:
        print("give delivery IDs or --event ID", file=sys.stderr)
        return 2
    count = await dk.webhooks.replay(args.delivery_ids, event_id=args.event)
    print(f"{count} deliveries queued again")
    return 0 if count else 1
