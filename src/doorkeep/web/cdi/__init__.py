"""SuperTokens' Core Driver Interface (CDI) over doorkeep's core, so that the official
backend SDKs can use doorkeep as their core."""

from doorkeep.web.cdi.core_api import CoreApi

__all__ = ["CoreApi"]
