"""CDI routes about users: lookup and listing, removal, metadata, user-ID mapping,
email verification, and the multitenancy routes the SDK calls."""

from __future__ import annotations

from starlette.responses import Response

from doorkeep.core.common import PUBLIC
from doorkeep.core.emailverification import EmailVerified, TokenCreated
from doorkeep.core.idmapping import Mapping, MappingAlreadyExistsError, UserIdType
from doorkeep.core.metadata import InvalidMetadata
from doorkeep.core.passwordless_secrets import normalise_phone_number
from doorkeep.core.tenants import is_tenant_id, save_tenant, tenant_exists
from doorkeep.core.users import InvalidPaginationToken
from doorkeep.web.cdi.protocol import CdiError, CdiRequest, ok, status

_ID_TYPES: dict[str, UserIdType] = {
    "SUPERTOKENS": "SUPERTOKENS",
    "EXTERNAL": "EXTERNAL",
    "ANY": "ANY",
}

# -- users ------------------------------------------------------------------------------------


async def get_user(req: CdiRequest) -> Response:
    user = await req.app.users.get_user(req.param("userId") or "")
    if user is None:
        return status("UNKNOWN_USER_ID_ERROR")
    return ok(user=user.to_json())


async def list_users(req: CdiRequest) -> Response:
    order = req.query.get("timeJoinedOrder") or "ASC"
    if order not in ("ASC", "DESC"):
        raise CdiError(400, "timeJoinedOrder can be either ASC OR DESC")
    limit_text = req.query.get("limit") or "100"
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= 1000:
        raise CdiError(400, "limit must be a number between 1 and 1000")
    recipe_ids = [r for r in (req.query.get("includeRecipeIds") or "").split(",") if r]
    try:
        users, next_token = await req.app.users.list_users(
            tenant_id=req.tenant_id,
            limit=int(limit_text),
            pagination_token=req.query.get("paginationToken") or None,
            newest_first=order == "DESC",
            recipe_ids=recipe_ids,
        )
    except InvalidPaginationToken:
        raise CdiError(400, "invalid pagination token") from None
    body: dict[str, object] = {"users": [user.to_json() for user in users]}
    if next_token is not None:
        body["nextPaginationToken"] = next_token
    return ok(**body)


async def count_users(req: CdiRequest) -> Response:
    recipe_ids = [r for r in (req.query.get("includeRecipeIds") or "").split(",") if r]
    tenant = None if req.bool_param("includeAllTenants") else req.tenant_id
    return ok(count=await req.app.users.count_users(tenant_id=tenant, recipe_ids=recipe_ids))


async def users_by_account_info(req: CdiRequest) -> Response:
    email, phone = req.query.get("email"), req.query.get("phoneNumber")
    phone = normalise_phone_number(phone) if phone else None  # the SDK sends E.164
    users = await req.app.users.get_users_by_account_info(
        req.tenant_id, email=email or None, phone_number=phone
    )
    return ok(users=[user.to_json() for user in users])


async def remove_user(req: CdiRequest) -> Response:
    await req.app.delete_user(req.required_text("userId"))
    return ok()


# -- metadata ---------------------------------------------------------------------------------


async def get_metadata(req: CdiRequest) -> Response:
    return ok(metadata=await req.app.metadata.get(req.param("userId") or ""))


async def update_metadata(req: CdiRequest) -> Response:
    try:
        merged = await req.app.metadata.update(
            req.required_text("userId"), req.object("metadataUpdate")
        )
    except InvalidMetadata as exc:
        raise CdiError(400, str(exc)) from None
    return ok(metadata=merged)


async def remove_metadata(req: CdiRequest) -> Response:
    await req.app.metadata.clear(req.required_text("userId"))
    return ok()


# -- user-ID mapping --------------------------------------------------------------------------


def _id_type(value: str | None) -> UserIdType:
    id_type = _ID_TYPES.get(value or "ANY")
    if id_type is None:
        raise CdiError(400, "userIdType can be one of SUPERTOKENS, EXTERNAL or ANY")
    return id_type


async def create_mapping(req: CdiRequest) -> Response:
    result = await req.app.idmapping.create(
        req.required_text("superTokensUserId"),
        req.required_text("externalUserId"),
        req.text("externalUserIdInfo", required=False),
        force=req.flag("force"),
    )
    if isinstance(result, MappingAlreadyExistsError):
        # Both spellings: the core's camelCase, and the snake_case that
        # supertokens-python 0.31 reads (a known SDK bug).
        return status(
            result.status,
            doesSuperTokensUserIdExist=result.does_supertokens_user_id_exist,
            doesExternalUserIdExist=result.does_external_user_id_exist,
            does_super_tokens_user_id_exist=result.does_supertokens_user_id_exist,
            does_external_user_id_exist=result.does_external_user_id_exist,
        )
    return status(result.status)


async def get_mapping(req: CdiRequest) -> Response:
    user_id = req.param("userId") or ""
    result = await req.app.idmapping.get(user_id, _id_type(req.query.get("userIdType")))
    if not isinstance(result, Mapping):
        return status(result.status)
    body = {
        "superTokensUserId": result.supertokens_user_id,
        "externalUserId": result.external_user_id,
    }
    if result.external_user_id_info is not None:
        body["externalUserIdInfo"] = result.external_user_id_info
    return ok(**body)


async def remove_mapping(req: CdiRequest) -> Response:
    id_type = _id_type(req.text("userIdType", required=False))
    result = await req.app.idmapping.delete(req.required_text("userId"), id_type)
    return ok(didMappingExist=result.did_mapping_exist)


async def update_mapping_info(req: CdiRequest) -> Response:
    id_type = _id_type(req.text("userIdType", required=False))
    info = req.text("externalUserIdInfo", required=False)
    result = await req.app.idmapping.update_info(req.required_text("userId"), info, id_type)
    return status(result.status)


# -- email verification -----------------------------------------------------------------------


async def create_verification_token(req: CdiRequest) -> Response:
    ev = req.app.emailverification
    result = await ev.create_token(
        req.required_text("userId"), req.required_text("email"), req.tenant_id
    )
    if isinstance(result, TokenCreated):
        return ok(token=result.token)
    return status(result.status)


async def verify_email(req: CdiRequest) -> Response:
    if req.body.get("method", "token") != "token":
        raise CdiError(400, "Unsupported method for email verification")
    result = await req.app.emailverification.verify_token(req.required_text("token"), req.tenant_id)
    if isinstance(result, EmailVerified):
        return ok(userId=result.user_id, email=result.email)
    return status(result.status)


async def is_email_verified(req: CdiRequest) -> Response:
    user_id, email = req.param("userId") or "", req.param("email") or ""
    return ok(isVerified=await req.app.emailverification.is_verified(user_id, email))


async def unverify_email(req: CdiRequest) -> Response:
    await req.app.emailverification.unverify(
        req.required_text("userId"), req.required_text("email")
    )
    return ok()


async def revoke_verification_tokens(req: CdiRequest) -> Response:
    await req.app.emailverification.revoke_tokens(
        req.required_text("userId"), req.required_text("email"), req.tenant_id
    )
    return ok()


# -- multitenancy -----------------------------------------------------------------------------


async def get_tenant(req: CdiRequest) -> Response:
    if not await tenant_exists(req.app.ctx, req.tenant_id):
        return status("TENANT_NOT_FOUND_ERROR")
    return ok(
        tenantId=req.tenant_id,
        thirdParty={"providers": []},
        firstFactors=None,
        requiredSecondaryFactors=None,
        coreConfig={},
    )


async def create_tenant(req: CdiRequest) -> Response:
    """PUT /recipe/multitenancy/tenant/v2 {tenantId}: a tenant of this app (login methods
    and core config per tenant are not supported: every tenant uses the app's)."""
    tenant_id = req.required_text("tenantId").lower()
    if not is_tenant_id(tenant_id) or req.tenant_id != PUBLIC:
        raise CdiError(400, "Invalid tenantId")
    return ok(createdNew=await save_tenant(req.app.ctx.db, req.app.ctx.app_id, tenant_id))
