"""Optional test dependencies that CI must not silently skip past.

`pytest.importorskip` at module level turns a missing package into skips, and a run
of skips passes. With the matching DOORKEEP_REQUIRE_* flag set (CI sets both), a
missing package is a failure instead.
"""

from __future__ import annotations

import os
from types import ModuleType

import pytest

BROWSER = "DOORKEEP_REQUIRE_BROWSER"
SERVICES = "DOORKEEP_REQUIRE_SERVICES"


def import_or_skip(module: str, required_by: str) -> ModuleType:
    """Import `module`; if it is missing, skip — or fail when `required_by` is set."""
    try:
        return pytest.importorskip(module)
    except pytest.skip.Exception as skipped:
        if os.environ.get(required_by):
            pytest.fail(f"{required_by} is set but {module} cannot be imported: {skipped}")
        raise
