"""What an application can change about the prebuilt pages."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

PAGE_NAMES = frozenset(
    {
        "signin",
        "signup",
        "forgot_password",
        "reset_password",
        "verify_email",
        "change_password",
        "change_email",
        "account",
        "passwordless",  # with passwordless on: its sign-in pages and the magic-link page
        "change_phone",  # with passwordless on
    }
)

# Each style is a CSS custom property of the pages' stylesheet (`--dk-<name>`).
DEFAULT_STYLES: dict[str, str] = {
    "primary": "#2554c7",
    "primary_text": "#ffffff",
    "background": "#f3f4f7",
    "surface": "#ffffff",
    "text": "#1c2030",
    "muted": "#4d5466",
    "error": "#b42318",
    "success": "#1f7a3a",
    "border": "#c9cdd6",
    "radius": "10px",
    "font": 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
}
# Values go into a stylesheet: anything that could end a declaration or a rule is refused.
_SAFE_STYLE = re.compile(r"^[\w\s#(),.%'\"+-]{1,200}$")


@dataclass(frozen=True)
class PagesConfig:
    """The pages live under `Settings.website_base_path`.

    template_path: a folder whose templates replace the built-in ones of the same name
        (e.g. `change_password.html`); they may extend the built-in `base.html`.
    styles: CSS custom properties (see DEFAULT_STYLES) and an optional `logo_url`.
    read_only: pages answer GET only (a demo that cannot be changed).
    disabled: page names (PAGE_NAMES) that answer 404.
    redirect_to: where a successful sign-in goes unless the link asks for another local path.
    login_url: where pages that need a session send a visitor who has none.
    """

    enabled: bool = True
    template_path: str | Path | None = None
    styles: dict[str, str] = field(default_factory=dict)
    logo_url: str | None = None
    read_only: bool = False
    disabled: frozenset[str] = frozenset()
    redirect_to: str | None = None  # default: the account page
    login_url: str | None = None  # default: the sign-in page

    def __post_init__(self) -> None:
        unknown = set(self.disabled) - PAGE_NAMES
        if unknown:
            raise ValueError(f"unknown pages in disabled: {sorted(unknown)}")
        for name, value in self.styles.items():
            if name not in DEFAULT_STYLES:
                raise ValueError(f"unknown style {name!r}; known: {sorted(DEFAULT_STYLES)}")
            if not _SAFE_STYLE.match(value):
                raise ValueError(f"style {name!r} has characters a stylesheet cannot take")

    def theme_css(self) -> str:
        values = {**DEFAULT_STYLES, **self.styles}
        lines = [f"  --dk-{name.replace('_', '-')}: {value};" for name, value in values.items()]
        return ":root {\n" + "\n".join(lines) + "\n}\n"
