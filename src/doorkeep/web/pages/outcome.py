"""What a page handler returns, and the request state it works from.

A handler never builds a response: it says "render this template with these
errors" or "go there", and `Pages` turns that into HTML (JavaScript off) or
JSON (the enhancement script asks with `Accept: application/json`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from doorkeep.config import Settings
from doorkeep.core.audit import AuditTrail
from doorkeep.core.users import UserService
from doorkeep.flows import Flows
from doorkeep.recipes.emailpassword import EmailPasswordRecipe
from doorkeep.recipes.emailverification import EmailVerificationRecipe
from doorkeep.recipes.session import SessionRecipe
from doorkeep.recipes.session.request import Session
from doorkeep.recipes.userroles import UserRolesRecipe

if TYPE_CHECKING:
    from doorkeep.web.pages.config import PagesConfig


@dataclass(frozen=True)
class PageServices:
    """What the pages use: the flows, and the recipes whose forms and state they show."""

    settings: Settings
    flows: Flows
    emailpassword: EmailPasswordRecipe
    emailverification: EmailVerificationRecipe
    session: SessionRecipe
    users: UserService
    audit: AuditTrail | None = None  # the account page's recent security activity
    userroles: UserRolesRecipe | None = None  # the account page's roles (read only)


@dataclass
class Render:
    template: str
    context: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # field name -> message
    message: str | None = None  # a problem with the whole form
    notice: str | None = None  # a success to show in place
    status_code: int = 200


@dataclass(frozen=True)
class Redirect:
    url: str


Outcome = Render | Redirect


@dataclass
class PageRequest:
    """One request to a page: the request, its form (on POST) and its session, if any."""

    request: Request
    services: PageServices
    config: PagesConfig
    base: str  # the website base path, e.g. /auth
    session: Session | None
    form: dict[str, str] = field(default_factory=dict)

    def value(self, name: str) -> str:
        return self.form.get(name, "")

    def url(self, page: str) -> str:
        return f"{self.base}/{page}"

    @property
    def login_url(self) -> str:
        return self.config.login_url or self.url("login")

    @property
    def after_sign_in(self) -> str:
        return self.config.redirect_to or self.url("account")
