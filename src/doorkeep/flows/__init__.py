"""Flows: what the SuperTokens guides make their users write by hand, built in, one
module per flow. Each owns its validation, rate limits, recipe calls and counter
resets, and returns a status value; the JSON API (web/fdi.py), the pages
(web/pages/) and the CLI only turn that status into JSON, HTML or text.

They sit above the recipes (whose overridable functions and API handlers they
call, so an override applies to every face) and below the web faces.
"""

from __future__ import annotations

from dataclasses import dataclass

from doorkeep.flows.change_email import ChangeEmail
from doorkeep.flows.change_password import ChangePassword
from doorkeep.flows.change_phone_number import ChangePhoneNumber
from doorkeep.flows.email_verification import EmailVerification
from doorkeep.flows.legacy_migration import LegacyMigration
from doorkeep.flows.password_reset import PasswordReset
from doorkeep.flows.passwordless import Passwordless
from doorkeep.flows.reauthentication import Reauthentication
from doorkeep.flows.sign_in import SignIn
from doorkeep.flows.sign_up import SignUp

__all__ = ["Flows"]


@dataclass(frozen=True)
class Flows:
    """The flows of one Doorkeep (`dk.flows`), as the faces receive them."""

    sign_in: SignIn
    sign_up: SignUp
    password_reset: PasswordReset
    email_verification: EmailVerification
    reauthentication: Reauthentication
    change_password: ChangePassword
    change_email: ChangeEmail
    legacy_migration: LegacyMigration | None  # with a legacy provider only
    passwordless: Passwordless
    change_phone_number: ChangePhoneNumber
