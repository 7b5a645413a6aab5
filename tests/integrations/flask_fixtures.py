"""The Flask app the Flask integration's tests serve, and the servers that serve it:
gunicorn (its own processes, forked workers, real HTTP) and Werkzeug's dev server.

The app reads its settings from the environment (gunicorn) or from app.config
(`create_app(config)`), as an application would.
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask, g, jsonify, request
from flask.typing import ResponseReturnValue

from doorkeep.integrations.flask import Doorkeep, FlaskSession, verify_session
from doorkeep.recipes.session.request import Session
from doorkeep.testing import free_port, wait_until_answering

ROOT = Path(__file__).resolve().parents[2]


class MustBeAdmin:
    """A claim validator of the kind roles plug in: 403 unless the payload says admin."""

    key = "role"

    async def check(self, session: Session, *, check_database: bool) -> Mapping[str, Any] | None:
        if session.access_token_payload.get("role") == "admin":
            return None
        return {"message": "wrong value", "expectedValue": "admin"}


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(config or {})
    auth = Doorkeep(app)

    def session() -> FlaskSession:
        found = g.supertokens
        assert found is g.doorkeep_session
        return found  # type: ignore[no-any-return]

    def described(s: FlaskSession) -> dict[str, Any]:
        return {"userId": s.get_user_id(), "handle": s.get_handle(), "pid": os.getpid()}

    @app.route("/protected", methods=["GET", "POST"])
    @verify_session()
    def protected() -> ResponseReturnValue:
        return jsonify(described(session()))

    @app.get("/optional")
    @verify_session(session_required=False)
    def optional() -> ResponseReturnValue:
        return jsonify({"userId": None if g.supertokens is None else g.supertokens.get_user_id()})

    @app.get("/verified")
    @verify_session(require_verified_email=True)
    def verified() -> ResponseReturnValue:
        return jsonify(described(session()))

    @app.get("/db-checked")
    @verify_session(check_database=True)
    def db_checked() -> ResponseReturnValue:
        return jsonify(described(session()))

    @app.post("/no-csrf-check")
    @verify_session(anti_csrf_check=False)
    def no_csrf_check() -> ResponseReturnValue:
        return jsonify(described(session()))

    @app.get("/admin")
    @verify_session(claims=[MustBeAdmin()])
    def admin() -> ResponseReturnValue:
        return jsonify(described(session()))

    @app.post("/session-data")
    @verify_session()
    def session_data() -> ResponseReturnValue:
        s = session()
        s.update_session_data(request.get_json())
        return jsonify({"data": s.get_session_data_in_database()})

    @app.post("/payload")
    @verify_session()
    def payload() -> ResponseReturnValue:
        s = session()
        s.merge_into_access_token_payload(request.get_json())
        return jsonify({"payload": s.get_access_token_payload()})

    @app.post("/revoke")
    @verify_session()
    def revoke() -> ResponseReturnValue:
        session().sync_revoke_session()
        return jsonify({"status": "OK"})

    @app.post("/check-password")
    @verify_session()
    def check_password() -> ResponseReturnValue:
        """The synchronous API from a view: who is this, and is this their password?"""
        user = auth.sync.emailpassword.get_user_by_id(session().get_user_id())
        assert user is not None and user.email is not None
        checked = auth.sync.emailpassword.sign_in(user.email, request.get_json()["password"])
        return jsonify({"status": checked.status})

    @app.get("/plain")
    def plain() -> ResponseReturnValue:
        return jsonify({"pid": os.getpid()})

    @app.get("/debug/runtime")
    def runtime() -> ResponseReturnValue:
        return jsonify(runtime_census(auth))

    return app


def runtime_census(auth: Doorkeep) -> dict[str, Any]:
    """What this process runs: its threads (Python's and the OS's) and live event loops."""
    loops = [
        o
        for o in gc.get_objects()
        if isinstance(o, asyncio.AbstractEventLoop) and not o.is_closed()
    ]
    names = sorted(t.name for t in threading.enumerate())
    return {
        "pid": os.getpid(),
        "threads": threading.active_count(),
        "thread_names": names,
        "os_threads": len(os.listdir("/proc/self/task")),
        "open_fds": len(os.listdir("/proc/self/fd")),
        "loops": len(loops),
        "loop_threads": sum(1 for n in names if n == "doorkeep-loop"),
        "loop_thread_id": auth.runtime().loop_thread.thread.ident,
    }


@contextmanager
def gunicorn(
    environment: Mapping[str, str], *, workers: int = 2, threads: int = 4
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`create_app()` under gunicorn (gthread workers, --preload: the app is built in the
    master before the fork) on a random loopback port; yields the master and the URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DOORKEEP_RATE_LIMITS_ENABLED": "false",
        "DOORKEEP_API_DOMAIN": url,
        "DOORKEEP_WEBSITE_DOMAIN": url,
        **environment,
    }
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--preload",
        "--worker-class",
        "gthread",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        "tests.integrations.flask_fixtures:create_app()",
    ]
    process = subprocess.Popen(command, env=env, cwd=ROOT)
    try:
        wait_until_answering(f"{url}/plain", "gunicorn")
        yield process, url
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # graceful: workers close doorkeep
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


@contextmanager
def werkzeug_server(app: Flask, *, port: int | None = None) -> Iterator[str]:
    """Flask's own development server (threaded, as `flask run` is) in a thread."""
    from werkzeug.serving import make_server

    port = port or free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        thread.join(10)
