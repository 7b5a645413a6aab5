"""What every recipe's API handlers share: the options they receive and common results."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from starlette.requests import Request

from doorkeep.core.common import Status

if TYPE_CHECKING:
    from doorkeep.app import Doorkeep
    from doorkeep.recipes.session.transport import ResponseMutations


@dataclass
class APIOptions:
    """Given to every API handler: the request, what the response will carry, and doorkeep."""

    request: Request
    response: ResponseMutations
    dk: Doorkeep
    config: Any  # the recipe's config object


@dataclass(frozen=True)
class GeneralError(Status):
    """A failure to show the user as it is (SuperTokens' GENERAL_ERROR)."""

    status: ClassVar[str] = "GENERAL_ERROR"
    message: str


@dataclass(frozen=True)
class OkResult(Status):
    pass
