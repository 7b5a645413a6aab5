"""Prebuilt HTML pages for every flow (sign in/up, reset, verify, change password and
email, account), server-rendered and progressively enhanced."""

from doorkeep.web.pages.site import Pages
from doorkeep.web.pages.config import PagesConfig

__all__ = ["Pages", "PagesConfig"]
