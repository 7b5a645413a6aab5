"""doorkeep's API for synchronous code (Flask views, scripts run inside the app).

Each call runs the asynchronous API on the process's event loop and waits for the
result, so overrides and flows apply exactly as they do for the frontend API:

    dk_sync = auth.sync
    user = dk_sync.emailpassword.get_user_by_id(session.get_user_id())
    checked = dk_sync.emailpassword.sign_in(user.email, old_password)

Anything not wrapped here is one `run` away:
`dk_sync.run(lambda dk: dk.flows.change_password.change(...))`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from doorkeep.core.common import PUBLIC
from doorkeep.core.passwordless_results import UNCHANGED, Unchanged

if TYPE_CHECKING:
    from doorkeep.app import Doorkeep as CoreDoorkeep
    from doorkeep.core.emailpassword import SignUpResult
    from doorkeep.core.passwordless_results import (
        ConsumeResult,
        CreateResult,
    )
    from doorkeep.core.passwordless_results import (
        UpdateResult as PlUpdate,
    )
    from doorkeep.core.session_models import SessionRecord
    from doorkeep.core.users import User
    from doorkeep.integrations.flask.runtime import ProcessRuntime
    from doorkeep.recipes.emailpassword.functions import SignInResult, UpdateResult

T = TypeVar("T")
UserContext = dict[str, Any]


class _Part:
    """One recipe's synchronous methods: each runs on the runtime of the calling process."""

    def __init__(self, runtime: Callable[[], ProcessRuntime]) -> None:
        self._runtime = runtime

    def _run(self, call: Callable[[CoreDoorkeep], Awaitable[T]]) -> T:
        runtime = self._runtime()

        async def on_loop() -> T:
            return await call(runtime.dk)

        return runtime.run(on_loop())


class SyncEmailPassword(_Part):
    def sign_up(
        self,
        email: str,
        password: str,
        tenant_id: str = PUBLIC,
        user_context: UserContext | None = None,
    ) -> SignUpResult:
        return self._run(
            lambda dk: dk.emailpassword.sign_up(email, password, tenant_id, user_context)
        )

    def sign_in(
        self,
        email: str,
        password: str,
        tenant_id: str = PUBLIC,
        user_context: UserContext | None = None,
    ) -> SignInResult:
        return self._run(
            lambda dk: dk.emailpassword.sign_in(email, password, tenant_id, user_context)
        )

    def get_user_by_id(self, user_id: str, user_context: UserContext | None = None) -> User | None:
        return self._run(lambda dk: dk.emailpassword.get_user_by_id(user_id, user_context))

    def get_user_by_email(
        self, email: str, tenant_id: str = PUBLIC, user_context: UserContext | None = None
    ) -> User | None:
        return self._run(
            lambda dk: dk.emailpassword.get_user_by_email(email, tenant_id, user_context)
        )

    def update_email_or_password(
        self,
        recipe_user_id: str,
        *,
        email: str | None = None,
        password: str | None = None,
        apply_password_policy: bool = True,
        tenant_id: str = PUBLIC,
        user_context: UserContext | None = None,
    ) -> UpdateResult:
        return self._run(
            lambda dk: dk.emailpassword.update_email_or_password(
                recipe_user_id,
                email=email,
                password=password,
                apply_password_policy=apply_password_policy,
                tenant_id=tenant_id,
                user_context=user_context,
            )
        )

    def send_reset_password_email(
        self, user: User, tenant_id: str = PUBLIC, user_context: UserContext | None = None
    ) -> bool:
        return self._run(
            lambda dk: dk.emailpassword.send_reset_password_email(user, tenant_id, user_context)
        )


class SyncSessions(_Part):
    def revoke_all_sessions_for_user(
        self, user_id: str, *, tenant_id: str | None = None, user_context: UserContext | None = None
    ) -> list[str]:
        return self._run(
            lambda dk: dk.session.revoke_all_sessions_for_user(
                user_id, tenant_id=tenant_id, user_context=user_context
            )
        )

    def revoke_session(self, session_handle: str, user_context: UserContext | None = None) -> bool:
        return self._run(lambda dk: dk.session.revoke_session(session_handle, user_context))

    def get_all_session_handles_for_user(
        self, user_id: str, *, tenant_id: str | None = None, user_context: UserContext | None = None
    ) -> list[str]:
        return self._run(
            lambda dk: dk.session.get_all_session_handles_for_user(
                user_id, tenant_id=tenant_id, user_context=user_context
            )
        )

    def get_session_information(
        self, session_handle: str, user_context: UserContext | None = None
    ) -> SessionRecord | None:
        return self._run(
            lambda dk: dk.session.get_session_information(session_handle, user_context)
        )


class SyncEmailVerification(_Part):
    def is_email_verified(
        self, user_id: str, email: str | None = None, user_context: UserContext | None = None
    ) -> bool:
        return self._run(
            lambda dk: dk.emailverification.is_email_verified(user_id, email, user_context)
        )

    def send_email_verification_email(
        self,
        tenant_id: str,
        user_id: str,
        email: str,
        user_context: UserContext | None = None,
    ) -> bool:
        """Email a verification link for `email` (SuperTokens' argument order); False if
        that address is already verified for the user."""
        return self._run(
            lambda dk: dk.emailverification.send_verification_email(
                user_id, email, tenant_id, user_context
            )
        )

    def create_email_verification_token(
        self,
        tenant_id: str,
        user_id: str,
        email: str | None = None,
        user_context: UserContext | None = None,
    ) -> Any:
        return self._run(
            lambda dk: dk.emailverification.create_email_verification_token(
                tenant_id, user_id, email, user_context
            )
        )

    def verify_email_using_token(
        self, tenant_id: str, token: str, user_context: UserContext | None = None
    ) -> Any:
        return self._run(
            lambda dk: dk.emailverification.verify_email_using_token(tenant_id, token, user_context)
        )

    def unverify_email(
        self, user_id: str, email: str | None = None, user_context: UserContext | None = None
    ) -> None:
        self._run(lambda dk: dk.emailverification.unverify_email(user_id, email, user_context))


class SyncUserMetadata(_Part):
    def get_user_metadata(
        self, user_id: str, user_context: UserContext | None = None
    ) -> dict[str, Any]:
        return self._run(lambda dk: dk.usermetadata.get_user_metadata(user_id, user_context))

    def update_user_metadata(
        self,
        user_id: str,
        metadata_update: Mapping[str, Any],
        user_context: UserContext | None = None,
    ) -> dict[str, Any]:
        update = dict(metadata_update)
        return self._run(
            lambda dk: dk.usermetadata.update_user_metadata(user_id, update, user_context)
        )

    def clear_user_metadata(self, user_id: str, user_context: UserContext | None = None) -> None:
        self._run(lambda dk: dk.usermetadata.clear_user_metadata(user_id, user_context))


class SyncUserIdMapping(_Part):
    def create_user_id_mapping(
        self,
        supertokens_user_id: str,
        external_user_id: str,
        external_user_id_info: str | None = None,
        *,
        force: bool = False,
        user_context: UserContext | None = None,
    ) -> Any:
        return self._run(
            lambda dk: dk.useridmapping.create_user_id_mapping(
                supertokens_user_id,
                external_user_id,
                external_user_id_info,
                force=force,
                user_context=user_context,
            )
        )

    def get_user_id_mapping(self, user_id: str, user_context: UserContext | None = None) -> Any:
        return self._run(
            lambda dk: dk.useridmapping.get_user_id_mapping(user_id, user_context=user_context)
        )

    def delete_user_id_mapping(self, user_id: str, user_context: UserContext | None = None) -> Any:
        return self._run(
            lambda dk: dk.useridmapping.delete_user_id_mapping(user_id, user_context=user_context)
        )


class SyncPasswordless(_Part):
    def create_and_send_code(
        self,
        *,
        email: str | None = None,
        phone_number: str | None = None,
        tenant_id: str = PUBLIC,
        user_context: UserContext | None = None,
    ) -> CreateResult:
        return self._run(
            lambda dk: dk.passwordless.create_and_send_code(
                email=email,
                phone_number=phone_number,
                tenant_id=tenant_id,
                user_context=user_context,
            )
        )

    def consume_code(
        self,
        pre_auth_session_id: str,
        *,
        user_input_code: str | None = None,
        device_id: str | None = None,
        link_code: str | None = None,
        tenant_id: str = PUBLIC,
        user_context: UserContext | None = None,
    ) -> ConsumeResult:
        return self._run(
            lambda dk: dk.passwordless.consume_code(
                pre_auth_session_id,
                user_input_code=user_input_code,
                device_id=device_id,
                link_code=link_code,
                tenant_id=tenant_id,
                user_context=user_context,
            )
        )

    def update_user(
        self,
        recipe_user_id: str,
        *,
        email: str | Unchanged | None = UNCHANGED,
        phone_number: str | Unchanged | None = UNCHANGED,
        user_context: UserContext | None = None,
    ) -> PlUpdate:
        """The seed's `passwordless.syncio.update_user` (None deletes a value)."""
        return self._run(
            lambda dk: dk.passwordless.update_user(
                recipe_user_id, email=email, phone_number=phone_number, user_context=user_context
            )
        )

    def get_user_by_email(
        self, email: str, tenant_id: str = PUBLIC, user_context: UserContext | None = None
    ) -> User | None:
        return self._run(
            lambda dk: dk.passwordless.get_user_by_email(email, tenant_id, user_context)
        )

    def get_user_by_phone_number(
        self, phone_number: str, tenant_id: str = PUBLIC, user_context: UserContext | None = None
    ) -> User | None:
        return self._run(
            lambda dk: dk.passwordless.get_user_by_phone_number(
                phone_number, tenant_id, user_context
            )
        )

    def revoke_all_codes(
        self,
        *,
        email: str | None = None,
        phone_number: str | None = None,
        tenant_id: str = PUBLIC,
        user_context: UserContext | None = None,
    ) -> None:
        self._run(
            lambda dk: dk.passwordless.revoke_all_codes(
                email=email,
                phone_number=phone_number,
                tenant_id=tenant_id,
                user_context=user_context,
            )
        )


class SyncDoorkeep(_Part):
    """`auth.sync`: the recipes' synchronous faces, and user-level operations."""

    def __init__(self, runtime: Callable[[], ProcessRuntime]) -> None:
        super().__init__(runtime)
        self.emailpassword = SyncEmailPassword(runtime)
        self.session = SyncSessions(runtime)
        self.emailverification = SyncEmailVerification(runtime)
        self.usermetadata = SyncUserMetadata(runtime)
        self.useridmapping = SyncUserIdMapping(runtime)
        self.passwordless = SyncPasswordless(runtime)

    def run(self, call: Callable[[CoreDoorkeep], Awaitable[T]]) -> T:
        """Run any part of the asynchronous API: `run(lambda dk: dk.get_user(user_id))`."""
        return self._run(call)

    def get_user(self, user_id: str) -> User | None:
        return self._run(lambda dk: dk.get_user(user_id))

    def delete_user(self, user_id: str) -> bool:
        return self._run(lambda dk: dk.delete_user(user_id))
