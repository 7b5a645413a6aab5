"""User-ID mapping: doorkeep's user ID ↔ an external ID (e.g. a legacy provider's)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from doorkeep.core.common import Status
from doorkeep.core.context import AppContext
from doorkeep.storage import tables as t

UserIdType = Literal["SUPERTOKENS", "EXTERNAL", "ANY"]


@dataclass(frozen=True)
class Mapping(Status):
    supertokens_user_id: str
    external_user_id: str
    external_user_id_info: str | None


@dataclass(frozen=True)
class CreateMappingOk(Status):
    pass


@dataclass(frozen=True)
class UnknownSuperTokensUserIdError(Status):
    status: ClassVar[str] = "UNKNOWN_SUPERTOKENS_USER_ID_ERROR"


@dataclass(frozen=True)
class MappingAlreadyExistsError(Status):
    status: ClassVar[str] = "USER_ID_MAPPING_ALREADY_EXISTS_ERROR"
    does_supertokens_user_id_exist: bool
    does_external_user_id_exist: bool


@dataclass(frozen=True)
class UnknownMappingError(Status):
    status: ClassVar[str] = "UNKNOWN_MAPPING_ERROR"


@dataclass(frozen=True)
class DeleteMappingOk(Status):
    did_mapping_exist: bool


class UserIdMappingService:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    async def create(
        self,
        supertokens_user_id: str,
        external_user_id: str,
        external_user_id_info: str | None = None,
        *,
        force: bool = False,
    ) -> CreateMappingOk | UnknownSuperTokensUserIdError | MappingAlreadyExistsError:
        u = t.users
        app_id = self.ctx.app_id
        async with self.ctx.db.read() as conn:
            user = (
                await conn.execute(
                    select(u.c.user_id).where(
                        u.c.app_id == app_id, u.c.user_id == supertokens_user_id
                    )
                )
            ).first()
            if user is None:
                return UnknownSuperTokensUserIdError()
            clash = (
                await conn.execute(
                    select(u.c.user_id).where(u.c.app_id == app_id, u.c.user_id == external_user_id)
                )
            ).first()
        # An external ID equal to another user's own ID would make lookups ambiguous.
        if clash is not None and not force:
            return MappingAlreadyExistsError(False, True)
        mp = t.userid_mappings
        try:
            async with self.ctx.db.transaction() as conn:
                await conn.execute(
                    insert(mp).values(
                        app_id=app_id,
                        supertokens_user_id=supertokens_user_id,
                        external_user_id=external_user_id,
                        external_user_id_info=external_user_id_info,
                    )
                )
        except IntegrityError:
            existing = await self._rows(supertokens_user_id, external_user_id)
            return MappingAlreadyExistsError(
                any(r.supertokens_user_id == supertokens_user_id for r in existing),
                any(r.external_user_id == external_user_id for r in existing),
            )
        return CreateMappingOk()

    async def get(
        self, user_id: str, user_id_type: UserIdType = "ANY"
    ) -> Mapping | UnknownMappingError:
        mp = t.userid_mappings
        column = {
            "SUPERTOKENS": mp.c.supertokens_user_id == user_id,
            "EXTERNAL": mp.c.external_user_id == user_id,
            "ANY": or_(mp.c.supertokens_user_id == user_id, mp.c.external_user_id == user_id),
        }[user_id_type]
        async with self.ctx.db.read() as conn:
            rows = (
                await conn.execute(select(mp).where(mp.c.app_id == self.ctx.app_id, column))
            ).all()
        if not rows:
            return UnknownMappingError()
        # With ANY, an ID that is one user's own ID wins over another user's external ID.
        row = next((r for r in rows if r.supertokens_user_id == user_id), rows[0])
        return Mapping(row.supertokens_user_id, row.external_user_id, row.external_user_id_info)

    async def delete(self, user_id: str, user_id_type: UserIdType = "ANY") -> DeleteMappingOk:
        found = await self.get(user_id, user_id_type)
        if isinstance(found, UnknownMappingError):
            return DeleteMappingOk(did_mapping_exist=False)
        mp = t.userid_mappings
        async with self.ctx.db.transaction() as conn:
            result = await conn.execute(
                delete(mp).where(
                    mp.c.app_id == self.ctx.app_id,
                    mp.c.supertokens_user_id == found.supertokens_user_id,
                )
            )
        return DeleteMappingOk(did_mapping_exist=result.rowcount > 0)

    async def update_info(
        self, user_id: str, external_user_id_info: str | None, user_id_type: UserIdType = "ANY"
    ) -> CreateMappingOk | UnknownMappingError:
        found = await self.get(user_id, user_id_type)
        if isinstance(found, UnknownMappingError):
            return found
        mp = t.userid_mappings
        async with self.ctx.db.transaction() as conn:
            await conn.execute(
                update(mp)
                .where(
                    mp.c.app_id == self.ctx.app_id,
                    mp.c.supertokens_user_id == found.supertokens_user_id,
                )
                .values(external_user_id_info=external_user_id_info)
            )
        return CreateMappingOk()

    async def _rows(self, supertokens_user_id: str, external_user_id: str) -> list[Mapping]:
        mp = t.userid_mappings
        async with self.ctx.db.read() as conn:
            rows = (
                await conn.execute(
                    select(mp).where(
                        mp.c.app_id == self.ctx.app_id,
                        or_(
                            mp.c.supertokens_user_id == supertokens_user_id,
                            mp.c.external_user_id == external_user_id,
                        ),
                    )
                )
            ).all()
        return [
            Mapping(r.supertokens_user_id, r.external_user_id, r.external_user_id_info)
            for r in rows
        ]
