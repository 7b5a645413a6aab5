"""`doorkeep roles`: create, delete and list roles, grant and revoke their permissions,
assign and unassign them to users (per tenant). Through the user roles recipe, so its
overrides apply. Exit codes as `doorkeep`'s: 0 done, 1 refused (unknown role, user or
tenant), 2 wrong usage (a name that cannot be a role).

    doorkeep roles create admin users:read users:write
    doorkeep roles assign 6f1c...e2 admin
    doorkeep roles list --user 6f1c...e2
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from doorkeep.app import Doorkeep
from doorkeep.core.common import PUBLIC
from doorkeep.core.roles import InvalidRoleName, UnknownRole

RunWith = Callable[[argparse.Namespace, Callable[[Doorkeep], Awaitable[int]]], int]
Work = Callable[[Doorkeep, argparse.Namespace], Awaitable[int]]

REFUSED, USAGE = 1, 2
_ROLE = "the role's name"


def _refused(message: str) -> int:
    print(message, file=sys.stderr)
    return REFUSED


async def _create(dk: Doorkeep, args: argparse.Namespace) -> int:
    created = await dk.userroles.create_new_role_or_add_permissions(args.role, args.permissions)
    print(f"created {args.role}" if created else f"{args.role} exists: permissions added")
    return 0


async def _delete(dk: Doorkeep, args: argparse.Namespace) -> int:
    if await dk.userroles.delete_role(args.role):
        print(f"deleted {args.role} (and every assignment of it)")
        return 0
    return _refused(f"no role {args.role}")


async def _list(dk: Doorkeep, args: argparse.Namespace) -> int:
    roles = dk.userroles
    if args.user is not None:
        for role in await roles.get_roles_for_user(args.tenant, args.user):
            print(role)
        return 0
    if args.users_of is not None:
        users = await roles.get_users_that_have_role(args.tenant, args.users_of)
        if isinstance(users, UnknownRole):
            return _refused(f"no role {args.users_of}")
        for user_id in users:
            print(user_id)
        return 0
    for role in await roles.get_all_roles():
        permissions = await roles.get_permissions_for_role(role)
        names = [] if isinstance(permissions, UnknownRole) else permissions
        print(f"{role}\t{','.join(names)}")
    return 0


async def _grant(dk: Doorkeep, args: argparse.Namespace) -> int:
    if isinstance(await dk.userroles.get_permissions_for_role(args.role), UnknownRole):
        return _refused(f"no role {args.role}: create it first (doorkeep roles create)")
    await dk.userroles.create_new_role_or_add_permissions(args.role, args.permissions)
    print(f"{args.role} may now {', '.join(args.permissions)}")
    return 0


async def _revoke(dk: Doorkeep, args: argparse.Namespace) -> int:
    if not args.permissions and not args.all:
        print("name the permissions to revoke, or --all", file=sys.stderr)
        return USAGE
    permissions = None if args.all else args.permissions
    if isinstance(
        await dk.userroles.remove_permissions_from_role(args.role, permissions), UnknownRole
    ):
        return _refused(f"no role {args.role}")
    revoked = "every permission" if permissions is None else ", ".join(permissions)
    print(f"revoked from {args.role}: {revoked}")
    return 0


async def _assign(dk: Doorkeep, args: argparse.Namespace) -> int:
    try:
        result = await dk.userroles.add_role_to_user(args.tenant, args.user_id, args.role)
    except ValueError as exc:  # an unknown tenant
        if isinstance(exc, InvalidRoleName):
            raise
        return _refused(str(exc))
    if isinstance(result, UnknownRole):
        return _refused(f"no role {args.role}: create it first (doorkeep roles create)")
    print(f"{args.user_id} {'already had' if result else 'now has'} {args.role} in {args.tenant}")
    return 0


async def _unassign(dk: Doorkeep, args: argparse.Namespace) -> int:
    result = await dk.userroles.remove_user_role(args.tenant, args.user_id, args.role)
    if isinstance(result, UnknownRole):
        return _refused(f"no role {args.role}")
    if not result:
        return _refused(f"{args.user_id} does not have {args.role} in {args.tenant}")
    print(f"{args.user_id} no longer has {args.role} in {args.tenant} (from their next refresh)")
    return 0


def _runner(run_with: RunWith, work: Work) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        async def job(dk: Doorkeep) -> int:
            try:
                return await work(dk, args)
            except InvalidRoleName as exc:
                print(f"doorkeep roles: {exc}", file=sys.stderr)
                return USAGE

        return run_with(args, job)

    return run


def add_roles_commands(
    commands: Any, run_with: RunWith, add_app_option: Callable[[argparse.ArgumentParser], None]
) -> None:
    """Add `doorkeep roles ...` to the command's subparsers."""
    roles = commands.add_parser(
        "roles",
        help="manage roles and permissions",
        description="Roles with permissions, given to users per tenant.",
    ).add_subparsers(dest="roles", required=True, metavar="COMMAND")

    create = roles.add_parser("create", help="create a role (with permissions)")
    create.add_argument("role", help=_ROLE)
    create.add_argument("permissions", nargs="*", metavar="PERMISSION", help="its permissions")
    delete = roles.add_parser("delete", help="delete a role and every assignment of it")
    delete.add_argument("role", help=_ROLE)
    listing = roles.add_parser(
        "list", help="roles and their permissions, a user's roles, or a role's users"
    )
    which = listing.add_mutually_exclusive_group()
    which.add_argument(
        "--user", metavar="USER_ID", help="the roles of this user (default: every role)"
    )
    which.add_argument(
        "--users-of",
        dest="users_of",
        metavar="ROLE",
        help="the users of this role (default: every role)",
    )
    grant = roles.add_parser("grant", help="give a role permissions")
    grant.add_argument("role", help=_ROLE)
    grant.add_argument("permissions", nargs="+", metavar="PERMISSION", help="permissions to give")
    revoke = roles.add_parser("revoke", help="take permissions from a role")
    revoke.add_argument("role", help=_ROLE)
    revoke.add_argument("permissions", nargs="*", metavar="PERMISSION", help="permissions to take")
    revoke.add_argument(
        "--all", action="store_true", help="every permission of the role (default: those named)"
    )
    assign = roles.add_parser("assign", help="give a user a role")
    unassign = roles.add_parser("unassign", help="take a role from a user")
    for parser in (assign, unassign):
        parser.add_argument("user_id", metavar="USER_ID", help="the user (an external ID works)")
        parser.add_argument("role", help=_ROLE)
    for parser in (listing, assign, unassign):
        parser.add_argument("--tenant", default=PUBLIC, help=f"tenant (default: {PUBLIC})")

    handlers: dict[argparse.ArgumentParser, Work] = {
        create: _create,
        delete: _delete,
        listing: _list,
        grant: _grant,
        revoke: _revoke,
        assign: _assign,
        unassign: _unassign,
    }
    for parser, work in handlers.items():
        add_app_option(parser)
        parser.set_defaults(run=_runner(run_with, work))
