"""The JWT recipe (with SuperTokens' OpenID discovery): JWTs of any payload, signed with
the keys that sign access tokens, so one JWKS checks both.

    token = await dk.jwt.create_jwt({"scope": "reports"}, validity_seconds=300)

The FDI serves `{api_base_path}/jwt/jwks.json` and
`{api_base_path}/.well-known/openid-configuration` (issuer = api_domain + api_base_path),
so a third party configured with the issuer finds the keys by itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from doorkeep.core.context import UserContext
from doorkeep.core.jwt_issuer import UnsupportedAlgorithm
from doorkeep.core.services import AppCore
from doorkeep.recipes.apis import APIOptions
from doorkeep.recipes.base import Override, apply_override
from doorkeep.recipes.base import context as _ctx

__all__ = ["JwtApis", "JwtConfig", "JwtFunctions", "JwtRecipe", "OpenIdDiscovery"]

DEFAULT_VALIDITY_SECONDS = 3_153_600_000  # SuperTokens' default: 100 years


@dataclass(frozen=True)
class OpenIdDiscovery:
    issuer: str
    jwks_uri: str

    def to_json(self) -> dict[str, Any]:
        """The discovery document (FDI 4.0). doorkeep is no OAuth server: it names the
        issuer and its keys, and the one subject type and algorithm it uses."""
        return {
            "issuer": self.issuer,
            "jwks_uri": self.jwks_uri,
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "id_token token"],
        }


class JwtFunctions:
    def __init__(self, core: AppCore, config: JwtConfig) -> None:
        self.core = core
        self.config = config
        settings = core.ctx.settings
        self.issuer = settings.api_domain.rstrip("/") + settings.api_base_path.rstrip("/")

    async def create_jwt(
        self,
        payload: Mapping[str, Any],
        validity_seconds: float | None,
        use_static_signing_key: bool,
        user_context: UserContext,
    ) -> str | UnsupportedAlgorithm:
        """`payload` signed, `iss` the issuer unless the payload names one."""
        return await self.core.jwt.create(
            payload,
            validity_seconds=validity_seconds or self.config.jwt_validity_seconds,
            use_static_key=use_static_signing_key,
            issuer=self.issuer,
        )

    async def get_jwks(self, user_context: UserContext) -> dict[str, list[dict[str, str]]]:
        return await self.core.keys.jwks()

    async def get_open_id_discovery_configuration(
        self, user_context: UserContext
    ) -> OpenIdDiscovery:
        return OpenIdDiscovery(self.issuer, f"{self.issuer}/jwt/jwks.json")


class JwtApis:
    def __init__(self, recipe: JwtRecipe) -> None:
        self.recipe = recipe

    async def open_id_discovery_configuration_get(
        self, api_options: APIOptions[JwtConfig], user_context: UserContext
    ) -> OpenIdDiscovery:
        return await self.recipe.functions.get_open_id_discovery_configuration(user_context)


@dataclass
class JwtConfig:
    jwt_validity_seconds: float = DEFAULT_VALIDITY_SECONDS
    override_functions: Override[JwtFunctions] | None = None
    override_apis: Override[JwtApis] | None = None


class JwtRecipe:
    def __init__(self, core: AppCore, config: JwtConfig | None = None) -> None:
        self.config = config or JwtConfig()
        self.functions = apply_override(
            JwtFunctions(core, self.config), self.config.override_functions
        )
        self.apis = apply_override(JwtApis(self), self.config.override_apis)

    async def create_jwt(
        self,
        payload: Mapping[str, Any],
        validity_seconds: float | None = None,
        use_static_signing_key: bool = True,
        user_context: UserContext | None = None,
    ) -> str | UnsupportedAlgorithm:
        return await self.functions.create_jwt(
            payload, validity_seconds, use_static_signing_key, _ctx(user_context)
        )

    async def get_jwks(
        self, user_context: UserContext | None = None
    ) -> dict[str, list[dict[str, str]]]:
        return await self.functions.get_jwks(_ctx(user_context))

    async def get_open_id_discovery_configuration(
        self, user_context: UserContext | None = None
    ) -> OpenIdDiscovery:
        return await self.functions.get_open_id_discovery_configuration(_ctx(user_context))
