"""Create piccolo's user and session tables and the bench user (run before the app)."""

from __future__ import annotations

import os

from piccolo.apps.user.tables import BaseUser
from piccolo.engine.sqlite import SQLiteEngine
from piccolo_api.session_auth.tables import SessionsBase

DB = SQLiteEngine(path=os.environ["PEER_DB"])
BaseUser._meta.db = DB
SessionsBase._meta.db = DB

BaseUser.create_table(if_not_exists=True).run_sync()
SessionsBase.create_table(if_not_exists=True).run_sync()
if not BaseUser.exists().where(BaseUser.username == "bench").run_sync():
    BaseUser.create_user_sync(
        username="bench",
        password="correct horse battery staple",
        email="bench@example.com",
        active=True,
    )
