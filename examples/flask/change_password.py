"""Seed 000 (change password) as a Flask view on doorkeep, in the seed's own shape.

SuperTokens' guide protects `/change-password` with `verify_session()`, reads the
session from `g.supertokens`, checks the old password with the recipe's `sign_in`,
updates the password, revokes every session of the user and then this one (which
clears the tokens on the frontend). The same steps, with doorkeep's synchronous API.
(doorkeep also ships this flow built in: `POST /auth/user/password/change`.)

Run: DOORKEEP_DATABASE_URL=sqlite:///example.sqlite3 \
     flask --app examples/flask/change_password.py run
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, g, jsonify, request
from flask.typing import ResponseReturnValue

from doorkeep.core.common import FieldError
from doorkeep.core.emailpassword import WrongCredentialsError
from doorkeep.integrations.flask import Doorkeep, FlaskSession, verify_session


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(config or {})
    auth = Doorkeep(app)  # the frontend API under /auth; settings from DOORKEEP_*
    dk_sync = auth.sync

    @app.route("/change-password", methods=["POST"])
    @verify_session()
    def change_password() -> ResponseReturnValue:
        session: FlaskSession = g.supertokens
        # get the userId from the session object
        user_id = session.get_user_id()
        # get the signed in user's email from the getUserById function
        users_info = dk_sync.emailpassword.get_user_by_id(user_id)
        if users_info is None or users_info.email is None:
            raise Exception("Should never come here")
        # call signin to check that the input password is correct
        is_password_valid = dk_sync.emailpassword.sign_in(
            users_info.email, request.json["oldPassword"], session.get_tenant_id()
        )
        if isinstance(is_password_valid, WrongCredentialsError):
            return jsonify({"status": "WRONG_CREDENTIALS_ERROR"})
        # update the users password (doorkeep applies the password policy here)
        updated = dk_sync.emailpassword.update_email_or_password(
            user_id, password=request.json["newPassword"]
        )
        if isinstance(updated, FieldError):
            return jsonify({"status": "FIELD_ERROR", "formFields": updated.to_json()})
        # revoke all sessions for the user
        dk_sync.session.revoke_all_sessions_for_user(user_id)
        # revoke the user's current session, we do this to remove the auth cookies,
        # logging out the user on the frontend
        session.sync_revoke_session()
        return jsonify({"status": "OK"})

    return app


app = create_app()  # builds nothing yet: doorkeep starts with the first request it serves
