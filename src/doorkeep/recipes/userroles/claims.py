"""The `st-role` and `st-perm` session claims and the route requirements built on them.

A session carries `{"st-role": {"v": [roles], "t": ms}, "st-perm": {"v": [...], "t": ms}}`
in its access token (SuperTokens' array-claim format): put there at creation, valued
again on each refresh, and on demand with `session.fetch_and_set_claim(UserRoleClaim)`.

A route states what it needs with validators, as SuperTokens' `UserRoleClaim.validators`:

    verify_session(claims=[UserRoleClaim.includes("admin"), PermissionClaim.includes("write")])

A validator reads the token only. It asks the database (and sends the client a new
access token) when the claim is missing, older than its `max_age_seconds`, or the
route says `check_database=True`. A failure is the reason SuperTokens gives, word for
word, which `get_session` answers as 403 `{"message": "invalid claim",
"claimValidationErrors": [{"id": "st-role", "reason": {...}}]}`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from doorkeep.core.common import now_ms
from doorkeep.core.context import UserContext
from doorkeep.core.roles import RoleClaims

if TYPE_CHECKING:
    from doorkeep.recipes.session.request import Session
    from doorkeep.recipes.userroles import UserRolesRecipe

ROLE_CLAIM = "st-role"
PERMISSION_CLAIM = "st-perm"

Kind = Literal["includes", "excludes", "includes_all", "includes_any", "excludes_all"]
_EXPECTED_KEY: dict[Kind, str] = {
    "includes": "expectedToInclude",
    "includes_all": "expectedToInclude",
    "includes_any": "expectedToIncludeAtLeastOneOf",
    "excludes": "expectedToNotInclude",
    "excludes_all": "expectedToNotInclude",
}


@dataclass(frozen=True)
class ArrayClaimValidator:
    """One requirement on a list claim. Immutable: declare it once, at import."""

    key: str
    kind: Kind
    expected: str | tuple[str, ...]
    max_age_seconds: float | None = None
    _wanted: frozenset[str] = field(init=False, repr=False, compare=False)
    _must_include: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Worked out once, not per request: what the check compares the token's value with.
        wanted = (self.expected,) if isinstance(self.expected, str) else self.expected
        object.__setattr__(self, "_wanted", frozenset(wanted))
        object.__setattr__(self, "_must_include", self.kind in ("includes", "includes_all"))

    async def check(self, session: Session, *, check_database: bool) -> dict[str, Any] | None:
        """None if the session meets the requirement, else SuperTokens' reason. The
        common case (the token's value is there and fresh) is a few dict lookups."""
        payload = session.access_token_payload
        if not check_database:  # the hot path: the token's value, fresh enough
            claim = payload.get(self.key)
            if type(claim) is dict:  # JSON objects of a verified token are dicts
                values, fetched = claim.get("v"), claim.get("t")
                if (
                    type(values) is list
                    and type(fetched) is int
                    and (
                        self.max_age_seconds is None
                        or fetched >= now_ms() - self.max_age_seconds * 1000
                    )
                ):
                    return None if self._holds(values) else self._failure("wrong value", values)
        now = now_ms()
        if check_database or self.should_refetch(payload, now):
            await session.fetch_and_set_claim(self.key)
            payload = session.access_token_payload
        return self.reason(payload, now)

    def should_refetch(self, payload: Mapping[str, Any], now: int) -> bool:
        fetched_at = _fetched_at(payload, self.key)
        if fetched_at is None or _values(payload, self.key) is None:
            return True
        return self.max_age_seconds is not None and fetched_at < now - self.max_age_seconds * 1000

    def reason(self, payload: Mapping[str, Any], now: int) -> dict[str, Any] | None:
        """The pure check of a payload (no I/O)."""
        actual = _values(payload, self.key)
        if actual is None:
            return self._failure("value does not exist", None)
        if self.max_age_seconds is not None:
            age = (now - (_fetched_at(payload, self.key) or 0)) / 1000
            if age > self.max_age_seconds:
                return {
                    "message": "expired",
                    "ageInSeconds": age,
                    "maxAgeInSeconds": self.max_age_seconds,
                }
        if self._holds(actual):
            return None
        return self._failure("wrong value", actual)

    def _holds(self, actual: list[str]) -> bool:
        wanted = self._wanted
        if self._must_include:
            return wanted.issubset(actual)
        if self.kind == "includes_any":
            return not wanted.isdisjoint(actual)
        return wanted.isdisjoint(actual)  # excludes, excludes_all

    def _failure(self, message: str, actual: list[str] | None) -> dict[str, Any]:
        expected = self.expected if isinstance(self.expected, str) else list(self.expected)
        return {"message": message, _EXPECTED_KEY[self.kind]: expected, "actualValue": actual}


class ArrayClaim:
    """A session claim whose value is a list of strings (`UserRoleClaim`, `PermissionClaim`)."""

    def __init__(self, key: str, default_max_age_seconds: float | None = None) -> None:
        self.key = key
        self.default_max_age_seconds = default_max_age_seconds

    def value_of(self, payload: Mapping[str, Any]) -> list[str] | None:
        """The claim's value in an access-token payload, None if it carries none."""
        return _values(payload, self.key)

    def includes(self, value: str, *, max_age_seconds: float | None = None) -> ArrayClaimValidator:
        return self._validator("includes", _name(value), max_age_seconds)

    def excludes(self, value: str, *, max_age_seconds: float | None = None) -> ArrayClaimValidator:
        return self._validator("excludes", _name(value), max_age_seconds)

    def includes_all(
        self, values: Sequence[str], *, max_age_seconds: float | None = None
    ) -> ArrayClaimValidator:
        return self._validator("includes_all", _names(values), max_age_seconds)

    def includes_any(
        self, values: Sequence[str], *, max_age_seconds: float | None = None
    ) -> ArrayClaimValidator:
        return self._validator("includes_any", _names(values), max_age_seconds)

    def excludes_all(
        self, values: Sequence[str], *, max_age_seconds: float | None = None
    ) -> ArrayClaimValidator:
        return self._validator("excludes_all", _names(values), max_age_seconds)

    def _validator(
        self, kind: Kind, expected: str | tuple[str, ...], max_age_seconds: float | None
    ) -> ArrayClaimValidator:
        age = self.default_max_age_seconds if max_age_seconds is None else max_age_seconds
        return ArrayClaimValidator(self.key, kind, expected, age)


# As in SuperTokens' Python SDK, no default maximum age: a token's roles are those of
# its last creation or refresh unless a route asks for fresher (`max_age_seconds`).
UserRoleClaim = ArrayClaim(ROLE_CLAIM)
PermissionClaim = ArrayClaim(PERMISSION_CLAIM)


class RoleClaimSource:
    """What the user roles recipe registers with the session recipe for one claim: the
    claim's current value, `{"v": [...], "t": ms}`. The two claims of one session are
    valued by one lookup (shared through the call's user context)."""

    def __init__(self, recipe: UserRolesRecipe, key: str) -> None:
        self.recipe = recipe
        self.key = key

    async def value_for(
        self, user_id: str, recipe_user_id: str, tenant_id: str, user_context: UserContext
    ) -> dict[str, Any]:
        cache_key = f"doorkeep.userroles:{tenant_id}:{user_id}"
        found = user_context.get(cache_key)
        if not isinstance(found, RoleClaims):
            found = await self.recipe.claim_values(tenant_id, user_id, user_context)
            user_context[cache_key] = found
        values = found.roles if self.key == ROLE_CLAIM else found.permissions
        return {"v": list(values), "t": now_ms()}

    async def validate(self, session: Session) -> None:
        """Registered claims are checked only through the validators a route names."""


def _values(payload: Mapping[str, Any], key: str) -> list[str] | None:
    claim = payload.get(key)
    if not isinstance(claim, Mapping):
        return None
    value = claim.get("v")
    return value if isinstance(value, list) else None


def _fetched_at(payload: Mapping[str, Any], key: str) -> int | None:
    claim = payload.get(key)
    fetched = claim.get("t") if isinstance(claim, Mapping) else None
    return fetched if isinstance(fetched, int) and not isinstance(fetched, bool) else None


def _name(value: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("a role or permission is a non-empty string")
    return value


def _names(values: Sequence[str]) -> tuple[str, ...]:
    if isinstance(values, str) or not values:
        raise ValueError("expected a non-empty list of roles or permissions")
    return tuple(_name(v) for v in values)
