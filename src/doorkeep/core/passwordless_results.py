"""What the passwordless core answers: codes, devices and the SuperTokens status values."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar

from doorkeep.core.common import FieldError, Status, UnknownTenantError, UnknownUserIdError
from doorkeep.core.emailpassword import EmailAlreadyExistsError, UpdateOk
from doorkeep.core.users import User


class Unchanged(Enum):
    """update_user's "leave as it is" (None deletes the value)."""

    UNCHANGED = "unchanged"


UNCHANGED = Unchanged.UNCHANGED


@dataclass(frozen=True)
class CodeCreated(Status):
    pre_auth_session_id: str
    code_id: str
    device_id: str
    user_input_code: str
    link_code: str
    time_created: int
    code_lifetime: int  # milliseconds
    email: str | None = None  # the device's contact, for the delivery
    phone_number: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "preAuthSessionId": self.pre_auth_session_id,
            "codeId": self.code_id,
            "deviceId": self.device_id,
            "userInputCode": self.user_input_code,
            "linkCode": self.link_code,
            "timeCreated": self.time_created,
            "codeLifetime": self.code_lifetime,
        }


@dataclass(frozen=True)
class DeviceCode:
    code_id: str
    time_created: int
    code_lifetime: int

    def to_json(self) -> dict[str, Any]:
        return {
            "codeId": self.code_id,
            "timeCreated": self.time_created,
            "codeLifetime": self.code_lifetime,
        }


@dataclass(frozen=True)
class ConsumedDevice:
    pre_auth_session_id: str
    failed_code_input_attempt_count: int
    email: str | None = None
    phone_number: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "preAuthSessionId": self.pre_auth_session_id,
            "failedCodeInputAttemptCount": self.failed_code_input_attempt_count,
        }
        if self.email is not None:
            data["email"] = self.email
        if self.phone_number is not None:
            data["phoneNumber"] = self.phone_number
        return data


@dataclass(frozen=True)
class Device(ConsumedDevice):
    codes: tuple[DeviceCode, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "codes": [code.to_json() for code in self.codes]}


@dataclass(frozen=True)
class RestartFlowError(Status):
    status: ClassVar[str] = "RESTART_FLOW_ERROR"


@dataclass(frozen=True)
class UserInputCodeAlreadyUsedError(Status):
    status: ClassVar[str] = "USER_INPUT_CODE_ALREADY_USED_ERROR"


@dataclass(frozen=True)
class IncorrectUserInputCodeError(Status):
    status: ClassVar[str] = "INCORRECT_USER_INPUT_CODE_ERROR"
    failed_code_input_attempt_count: int
    maximum_code_input_attempts: int


@dataclass(frozen=True)
class ExpiredUserInputCodeError(Status):
    status: ClassVar[str] = "EXPIRED_USER_INPUT_CODE_ERROR"
    failed_code_input_attempt_count: int
    maximum_code_input_attempts: int


@dataclass(frozen=True)
class ConsumeOk(Status):
    user: User
    recipe_user_id: str
    created_new_recipe_user: bool
    consumed_device: ConsumedDevice


@dataclass(frozen=True)
class CheckOk(Status):
    consumed_device: ConsumedDevice


@dataclass(frozen=True)
class SignInUpOk(Status):
    user: User
    recipe_user_id: str
    created_new_recipe_user: bool


@dataclass(frozen=True)
class PhoneNumberAlreadyExistsError(Status):
    status: ClassVar[str] = "PHONE_NUMBER_ALREADY_EXISTS_ERROR"


CodeError = IncorrectUserInputCodeError | ExpiredUserInputCodeError | RestartFlowError
ConsumeResult = ConsumeOk | CodeError
CheckResult = CheckOk | CodeError
CreateResult = CodeCreated | FieldError | UnknownTenantError
ResendResult = CodeCreated | RestartFlowError | UserInputCodeAlreadyUsedError
UpdateResult = (
    UpdateOk
    | UnknownUserIdError
    | EmailAlreadyExistsError
    | PhoneNumberAlreadyExistsError
    | FieldError
)
