"""Seed 004 (username + optional email) in a Flask app on doorkeep.

The seed overrides SuperTokens' email validator, sign-up API, sign-in function, reset
API and email delivery so that the `email` form field carries a username and an
optional `actualEmail` field the address. In doorkeep that is one setting,
`DOORKEEP_LOGIN_IDENTIFIER=username`: sign-up, sign-in (by username or email) and
password reset (to the address, or "contact support" without one) answer under
/auth inside this Flask app. The view below shows a protected page reading both.

Run: DOORKEEP_DATABASE_URL=sqlite:///example.sqlite3 \
     flask --app examples/flask/username_login.py run
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, g, jsonify
from flask.typing import ResponseReturnValue

from doorkeep.integrations.flask import Doorkeep, FlaskSession, verify_session


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config["DOORKEEP_LOGIN_IDENTIFIER"] = "username"
    app.config.update(config or {})
    auth = Doorkeep(app)
    dk_sync = auth.sync

    @app.get("/profile")
    @verify_session()
    def profile() -> ResponseReturnValue:
        session: FlaskSession = g.supertokens
        user = dk_sync.get_user(session.get_user_id())
        if user is None:
            raise Exception("Should never come here")
        login = next(m for m in user.login_methods if m.recipe_id == "emailpassword")
        # The username is what the user signs in with; the email is optional.
        return jsonify({"username": login.username, "email": login.email})

    return app


app = create_app()
