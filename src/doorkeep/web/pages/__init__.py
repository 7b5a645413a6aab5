"""Prebuilt HTML pages for every flow (sign in/up, reset, verify, change password and
email, account), server-rendered and progressively enhanced."""

from doorkeep.web.pages.config import PagesConfig
from doorkeep.web.pages.site import Pages

__all__ = ["Pages", "PagesConfig"]
