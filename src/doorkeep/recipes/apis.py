"""What every recipe's API handlers share: the options they receive and common results.

A handler object is built with the recipes and services it uses; per request it gets
only `APIOptions`: the request, what the response will carry, and its recipe's config.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Generic, TypeVar

from starlette.requests import Request

from doorkeep.core.common import Status

if TYPE_CHECKING:
    from doorkeep.recipes.session.transport import ResponseMutations

ConfigT = TypeVar("ConfigT")


@dataclass
class APIOptions(Generic[ConfigT]):
    """Given to every API handler: the request, what the response will carry, the config."""

    request: Request
    response: ResponseMutations
    config: ConfigT  # the recipe's config object


@dataclass(frozen=True)
class GeneralError(Status):
    """A failure to show the user as it is (SuperTokens' GENERAL_ERROR)."""

    status: ClassVar[str] = "GENERAL_ERROR"
    message: str


@dataclass(frozen=True)
class OkResult(Status):
    pass
