"""`@verify_session()` for Flask views, and the session they find on `flask.g`.

The token reading, anti-CSRF and claim checks are the session recipe's request
half (`doorkeep.recipes.session.request.get_session`), run on the process's event
loop; the 401/403 answers and the token clearing are the Starlette integration's
(`session_error_response`). This module only translates a WSGI request into what
those take, and their answers back into Flask responses.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

from a2wsgi.asgi import build_scope
from flask import Response, current_app, g, jsonify, request
from starlette.requests import HTTPConnection

from doorkeep.integrations.starlette import SCOPE_KEY, session_error_response
from doorkeep.recipes.session.claims import ClaimValidator
from doorkeep.recipes.session.request import (
    MUTATIONS_KEY,
    Session,
    SessionError,
    get_session,
)
from doorkeep.recipes.session.transport import ResponseMutations
from doorkeep.storage.database import is_unavailable

if TYPE_CHECKING:
    from doorkeep.app import Doorkeep as CoreDoorkeep
    from doorkeep.integrations.flask.extension import Doorkeep
    from doorkeep.integrations.flask.runtime import ProcessRuntime

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("doorkeep")
EXTENSION_KEY = "doorkeep"
_CONNECTION = "_doorkeep_connection"


def extension() -> Doorkeep:
    """The doorkeep extension of the current Flask app."""
    found = current_app.extensions.get(EXTENSION_KEY)
    if found is None:
        raise RuntimeError("doorkeep is not installed: call Doorkeep(app) or init_app(app)")
    return cast("Doorkeep", found)


def request_connection(runtime: ProcessRuntime) -> HTTPConnection:
    """The current request as the session recipe reads it (an ASGI-style connection),
    made once per request; the response headers it queues are applied after the view."""
    conn = g.get(_CONNECTION)
    if conn is None:
        scope = cast(dict[str, Any], build_scope(cast(Any, request.environ)))
        scope[MUTATIONS_KEY] = ResponseMutations()
        scope[SCOPE_KEY] = runtime.dk
        conn = HTTPConnection(scope)
        setattr(g, _CONNECTION, conn)
    return cast(HTTPConnection, conn)


def pending_mutations() -> ResponseMutations | None:
    """The headers and cookies the session layer queued for this request's response."""
    conn = g.get(_CONNECTION)
    return None if conn is None else cast(ResponseMutations, conn.scope[MUTATIONS_KEY])


class FlaskSession:
    """The request's session for synchronous code: `g.supertokens` / `g.doorkeep_session`.

    Method names follow SuperTokens' SessionContainer (`get_user_id()`,
    `sync_revoke_session()`, …) so that the seeds' views read the same. Each call that
    needs the database runs on the process's event loop; `session` is the asynchronous
    Session for code that already runs there.
    """

    __slots__ = ("_runtime", "session")

    def __init__(self, session: Session, runtime: ProcessRuntime) -> None:
        self.session = session
        self._runtime = runtime

    @property
    def user_id(self) -> str:
        return self.session.user_id

    @property
    def handle(self) -> str:
        return self.session.handle

    @property
    def tenant_id(self) -> str:
        return self.session.tenant_id

    @property
    def mode(self) -> str:
        return self.session.mode

    @property
    def access_token_payload(self) -> Mapping[str, Any]:
        return self.session.access_token_payload

    def get_user_id(self) -> str:
        return self.session.user_id

    def get_recipe_user_id(self) -> str:
        return self.session.recipe_user_id

    def get_tenant_id(self) -> str:
        return self.session.tenant_id

    def get_handle(self) -> str:
        return self.session.handle

    def get_access_token_payload(self) -> dict[str, Any]:
        return self.session.get_access_token_payload()

    def revoke(self) -> None:
        """Revoke this session; the response clears its tokens from the client."""
        self._runtime.run(self.session.revoke_session())

    revoke_session = sync_revoke_session = revoke

    def get_session_data(self) -> dict[str, Any]:
        """The data stored with the session in the database (never sent to the client)."""
        return self._runtime.run(self.session.get_session_data_in_database())

    get_session_data_in_database = sync_get_session_data_from_database = get_session_data

    def update_session_data(self, data: Mapping[str, Any]) -> None:
        self._runtime.run(self.session.update_session_data_in_database(data))

    update_session_data_in_database = sync_update_session_data_in_database = update_session_data

    def merge_into_access_token_payload(self, update: Mapping[str, Any]) -> None:
        """Change the access token's custom claims; the new token goes out with this response."""
        self._runtime.run(self.session.merge_into_access_token_payload(update))

    sync_merge_into_access_token_payload = merge_into_access_token_payload


def verify_session(
    *,
    session_required: bool = True,
    check_database: bool = False,
    anti_csrf_check: bool | None = None,
    require_verified_email: bool | None = None,
    claims: Sequence[ClaimValidator] = (),
) -> Callable[[F], F]:
    """Protect a Flask view. The session is on `g.supertokens` (and `g.doorkeep_session`);
    None when `session_required=False` and the request carries none.

    The options mean what they mean for the FastAPI dependency; failures answer the
    same 401/403 bodies and clear the client's tokens where the session is gone.
    """

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            runtime = extension().runtime()
            conn = request_connection(runtime)
            try:
                found = runtime.run(
                    _verified(
                        runtime.dk,
                        conn,
                        session_required=session_required,
                        check_database=check_database,
                        anti_csrf_check=anti_csrf_check,
                        require_verified_email=require_verified_email,
                        claims=claims,
                    )
                )
            except SessionError as exc:
                return session_error(exc)
            except Exception as exc:
                # A lost database is a 503 the client may retry, as DoorkeepMiddleware answers.
                if not is_unavailable(exc):
                    raise
                log.warning("database unavailable: %s", exc)
                return service_unavailable()
            g.supertokens = g.doorkeep_session = (
                None if found is None else FlaskSession(found, runtime)
            )
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorator


async def _verified(
    dk: CoreDoorkeep,
    conn: HTTPConnection,
    *,
    session_required: bool,
    check_database: bool,
    anti_csrf_check: bool | None,
    require_verified_email: bool | None,
    claims: Sequence[ClaimValidator],
) -> Session | None:
    return await get_session(
        dk.session,
        conn,
        session_required=session_required,
        check_database=check_database,
        anti_csrf_check=anti_csrf_check,
        require_verified_email=require_verified_email,
        claims=claims,
    )


def service_unavailable() -> Response:
    """The Starlette middleware's answer when the database cannot be reached."""
    message = {"message": "The service is temporarily unavailable. Please try again."}
    response = jsonify(message)
    response.status_code = 503
    response.headers["retry-after"] = "1"
    return response


def session_error(error: SessionError) -> Response:
    """The 401/403 answer the frontend SDK expects (Flask error handler for SessionError)."""
    runtime = extension().runtime()
    answer = session_error_response(request_connection(runtime), error)
    response = Response(bytes(answer.body), status=answer.status_code)
    response.content_type = answer.media_type or "application/json"
    return response
