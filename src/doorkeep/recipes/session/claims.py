"""Claims: values a recipe keeps in every session's access token (email verification's
`st-ev`, user roles' `st-role` and `st-perm`), registered with the session recipe.

A claim builds its value when a session is created and checks a request's session
in `get_session`. The session recipe knows claims only through this registry, so it
imports none of the recipes that register one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from doorkeep.core.context import UserContext

if TYPE_CHECKING:
    from doorkeep.recipes.session.request import Session


class SessionClaim(Protocol):
    key: str  # its key in the access-token payload, e.g. "st-ev"

    async def value_for(
        self, user_id: str, recipe_user_id: str, tenant_id: str, user_context: UserContext
    ) -> object:
        """The claim's value in a new session's access token (anything JSON can carry)."""

    async def validate(self, session: Session) -> None:
        """Return when the session satisfies the claim; else raise SessionError (403)."""


class ClaimValidator(Protocol):
    """A route's requirement on a claim, e.g. `UserRoleClaim.includes("admin")`, given to
    `get_session(claims=[...])` and every face's `claims=` (verify_session, session_of,
    @requires_session, Flask's @verify_session)."""

    @property
    def key(self) -> str:
        """The claim's key: the `id` of its entry in `claimValidationErrors`."""

    async def check(self, session: Session, *, check_database: bool) -> Mapping[str, Any] | None:
        """None if the session meets the requirement, else SuperTokens' `reason`. It reads
        the token; it may fetch the value again (`session.fetch_and_set_claim`) when the
        value is missing or stale, or when `check_database`."""


class ClaimRegistry:
    """The claims of one session recipe, as tuples ready for the hot path: a request
    that checks no claim loops over an empty tuple, and nothing else."""

    __slots__ = ("at_creation", "checked", "checked_by_default")

    def __init__(self) -> None:
        self.at_creation: tuple[SessionClaim, ...] = ()  # valued in every new session
        self.checked: tuple[SessionClaim, ...] = ()  # what a route that asks for claims checks
        self.checked_by_default: tuple[SessionClaim, ...] = ()  # ... and one that does not say

    def register(
        self, claim: SessionClaim, *, add_at_creation: bool, check_by_default: bool
    ) -> None:
        if add_at_creation:
            self.at_creation += (claim,)
        self.checked += (claim,)
        if check_by_default:
            self.checked_by_default += (claim,)

    def find(self, key: str) -> SessionClaim | None:
        """The registered claim with this key (to value it again), or None."""
        return next((claim for claim in self.checked if claim.key == key), None)
