"""fastapi-users 15 as its docs set it up: JWT strategy, Bearer transport, SQLite through
its SQLAlchemy adapter, the `current_active_user` dependency on the protected route."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Depends, FastAPI
from fastapi_users import BaseUserManager, FastAPIUsers, UUIDIDMixin, schemas
from fastapi_users.authentication import AuthenticationBackend, BearerTransport, JWTStrategy
from fastapi_users.db import SQLAlchemyBaseUserTableUUID, SQLAlchemyUserDatabase
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

SECRET = "bench-secret-" + "x" * 32
engine = create_async_engine(f"sqlite+aiosqlite:///{os.environ['PEER_DB']}")
sessions = async_sessionmaker(engine, expire_on_commit=False)


class Base(DeclarativeBase):
    pass


class User(SQLAlchemyBaseUserTableUUID, Base):
    pass


class UserRead(schemas.BaseUser[uuid.UUID]):
    pass


class UserCreate(schemas.BaseUserCreate):
    pass


async def get_session() -> AsyncIterator[AsyncSession]:
    async with sessions() as session:
        yield session


async def get_user_db(session: AsyncSession = Depends(get_session)) -> AsyncIterator[Any]:
    yield SQLAlchemyUserDatabase(session, User)


class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
    reset_password_token_secret = SECRET
    verification_token_secret = SECRET


async def get_user_manager(user_db: Any = Depends(get_user_db)) -> AsyncIterator[UserManager]:
    yield UserManager(user_db)


def get_jwt_strategy() -> JWTStrategy[User, uuid.UUID]:
    return JWTStrategy(secret=SECRET, lifetime_seconds=3600)


backend = AuthenticationBackend(
    name="jwt", transport=BearerTransport(tokenUrl="auth/jwt/login"), get_strategy=get_jwt_strategy
)
fastapi_users = FastAPIUsers[User, uuid.UUID](get_user_manager, [backend])
current_active_user = fastapi_users.current_user(active=True)

app = FastAPI()
app.include_router(fastapi_users.get_auth_router(backend), prefix="/auth/jwt")
app.include_router(fastapi_users.get_register_router(UserRead, UserCreate), prefix="/auth")


@app.on_event("startup")
async def create_tables() -> None:
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)


@app.get("/me")
async def me(user: User = Depends(current_active_user)) -> dict[str, str]:
    return {"user_id": str(user.id)}
