"""CDI routes of the JWT recipe: sign a caller's payload with the app's keys, and the
keys' public halves (the deprecated `/recipe/jwt/jwks`, with its `status`)."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse, Response

from doorkeep.core.jwt_issuer import UnsupportedAlgorithm
from doorkeep.web.cdi.protocol import CdiError, CdiRequest, ok, status


async def create_jwt(req: CdiRequest) -> Response:
    validity: Any = req.body.get("validity")
    if isinstance(validity, bool) or not isinstance(validity, int | float):
        raise CdiError(400, "Field name 'validity' is invalid in JSON input")
    issued = await req.app.jwt.create(
        req.object("payload"),
        validity_seconds=validity,
        use_static_key=req.flag("useStaticSigningKey", default=True),
        issuer=req.text("jwksDomain", required=False),
        algorithm=req.required_text("algorithm"),
    )
    if isinstance(issued, UnsupportedAlgorithm):
        return status("UNSUPPORTED_ALGORITHM_ERROR")
    return ok(jwt=issued)


async def jwks(req: CdiRequest) -> Response:
    keys = req.app.keys
    body = await keys.jwks()
    return JSONResponse(
        {"status": "OK", **body}, headers={"cache-control": f"max-age={keys.jwks_max_age()}"}
    )
