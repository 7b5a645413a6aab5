"""The Flask extension: `Doorkeep(app)` or `auth = Doorkeep(); auth.init_app(app)`.

It serves doorkeep's frontend API and pages inside the Flask app (the same ASGI
middleware `doorkeep serve` runs, through a WSGI bridge), answers CORS the same
way for the app's own routes, and puts on every response the session headers and
cookies that `@verify_session()` and the session's methods queued.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from flask import Flask, Response

from doorkeep.app import Doorkeep as CoreDoorkeep
from doorkeep.config import Settings
from doorkeep.integrations.flask.runtime import LazyRuntime, ProcessRuntime, WsgiApp
from doorkeep.integrations.flask.session import (
    EXTENSION_KEY,
    pending_mutations,
    session_error,
)
from doorkeep.integrations.flask.sync import SyncDoorkeep
from doorkeep.integrations.starlette import _with_headers
from doorkeep.recipes.session.request import SessionError
from doorkeep.recipes.session.transport import ResponseMutations

CONFIG_PREFIX = "DOORKEEP_"


def settings_from_config(
    config: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> Settings:
    """Settings from `DOORKEEP_*` keys of a Flask config, over `DOORKEEP_*` environment
    variables. Strings are parsed as the environment's are; other values are used as given."""
    env = dict(os.environ if environ is None else environ)
    typed: dict[str, Any] = {}
    for key, value in config.items():
        if not key.startswith(CONFIG_PREFIX):
            continue
        if isinstance(value, str):
            env[key] = value
        else:
            typed[key[len(CONFIG_PREFIX) :].lower()] = (
                tuple(value) if isinstance(value, list) else value
            )
    return Settings.from_env(env, **typed)


class Doorkeep:
    """doorkeep for a Flask app.

        app = Flask(__name__)
        auth = Doorkeep(app)                      # settings from app.config / DOORKEEP_*
        dk_sync = auth.sync                       # doorkeep's API for synchronous views

        @app.post("/change-password")
        @verify_session()
        def change_password():
            session = g.supertokens
            ...

    `create` builds the process's `doorkeep.Doorkeep` from the settings (to pass
    recipe configs and overrides); without it, `options` go to its constructor.
    Nothing is started until a process serves its first request.
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        settings: Settings | None = None,
        create: Callable[[Settings], CoreDoorkeep] | None = None,
        **options: Any,
    ) -> None:
        if create is not None and options:
            raise TypeError("pass either create= or Doorkeep options, not both")
        self._explicit_settings = settings
        self._create = create or (lambda s: CoreDoorkeep(s, **options))
        self.settings: Settings | None = settings
        self._lazy: LazyRuntime | None = None
        self.sync = SyncDoorkeep(self.runtime)
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        if self._lazy is not None:
            raise RuntimeError("this Doorkeep extension is already bound to an application")
        settings = self._explicit_settings or settings_from_config(app.config)
        self.settings = settings
        create = self._create
        self._lazy = LazyRuntime(lambda: create(settings))
        self._cors_origin = settings.website_domain.rstrip("/")
        self._prefixes = (
            settings.api_base_path.rstrip("/"),
            settings.website_base_path.rstrip("/"),
        )
        app.extensions[EXTENSION_KEY] = self
        routes = _DoorkeepRoutes(app.wsgi_app, self)
        app.wsgi_app = routes  # type: ignore[method-assign]  # Flask's documented middleware hook
        app.after_request(self._finish_response)
        app.register_error_handler(SessionError, session_error)

    def runtime(self) -> ProcessRuntime:
        """This process's runtime (made on first use, after any fork)."""
        if self._lazy is None:
            raise RuntimeError("call init_app(app) before using doorkeep")
        return self._lazy.get()

    @property
    def instance(self) -> CoreDoorkeep:
        """This process's started `doorkeep.Doorkeep` (for code running on its loop)."""
        return self.runtime().dk

    def close(self) -> None:
        """Stop this process's doorkeep (tests; a worker's exit does it on its own)."""
        if self._lazy is not None:
            self._lazy.close()

    def allowed_origin(self, origin: str | None) -> str | None:
        return origin if origin is not None and origin == self._cors_origin else None

    def _finish_response(self, response: Response) -> Response:
        """Session headers/cookies queued by this request, and CORS for the website."""
        from flask import request

        pending = pending_mutations()
        origin = self.allowed_origin(request.headers.get("origin"))
        if (pending is None or not pending.headers) and origin is None:
            return response
        # The Starlette middleware's own header list: one definition of what CORS adds.
        message = _with_headers({"headers": []}, pending or ResponseMutations(), origin)
        for name, value in message["headers"]:
            response.headers.add(name.decode("latin-1"), value.decode("latin-1"))
        return response


class _DoorkeepRoutes:
    """WSGI middleware: doorkeep's own paths and CORS preflights go to the bridge,
    everything else to the Flask app."""

    def __init__(self, flask_app: WsgiApp, ext: Doorkeep) -> None:
        self.flask_app = flask_app
        self.ext = ext

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        preflight = environ.get("REQUEST_METHOD") == "OPTIONS" and (
            self.ext.allowed_origin(environ.get("HTTP_ORIGIN")) is not None
        )
        if preflight or path.startswith(self.ext._prefixes):
            runtime = self.ext.runtime()
            if preflight or runtime.serves(path):
                return runtime.bridge(environ, start_response)
        return self.flask_app(environ, start_response)
