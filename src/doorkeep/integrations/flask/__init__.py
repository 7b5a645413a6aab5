"""Flask integration: doorkeep inside a Flask app, under any WSGI server.

    from flask import Flask, g
    from doorkeep.integrations.flask import Doorkeep, verify_session

    app = Flask(__name__)
    auth = Doorkeep(app)        # DOORKEEP_* from app.config or the environment

    @app.post("/change-password")
    @verify_session()
    def change_password():
        session = g.supertokens            # also g.doorkeep_session
        user = auth.sync.emailpassword.get_user_by_id(session.get_user_id())
        ...

The frontend API and the pages answer under their base paths, as with `doorkeep
serve`. Each process runs doorkeep on one event loop thread of its own, made when
it serves its first request (after gunicorn has forked its workers).
"""

from doorkeep.integrations.flask.extension import Doorkeep, settings_from_config
from doorkeep.integrations.flask.session import (
    FlaskSession,
    extension,
    verify_session,
)
from doorkeep.integrations.flask.sync import SyncDoorkeep
from doorkeep.recipes.session.claims import ClaimValidator
from doorkeep.recipes.session.request import SessionError

__all__ = [
    "ClaimValidator",
    "Doorkeep",
    "FlaskSession",
    "SessionError",
    "SyncDoorkeep",
    "extension",
    "settings_from_config",
    "verify_session",
]
