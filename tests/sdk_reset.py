"""One way to forget the official SDK's process-wide state between test modules.

supertokens-python keeps `Supertokens` and every initialised recipe as singletons; a
module that inits its own recipe list after another module's (whatever the order pytest
runs them in) must start from none, and leave none behind.
"""

from __future__ import annotations

import importlib
import os
import pkgutil


def reset_sdk() -> None:
    """Reset `Supertokens` and every recipe class the SDK defines."""
    os.environ["SUPERTOKENS_ENV"] = "testing"  # the SDK's reset() refuses outside tests
    import supertokens_python.recipe as recipes
    from supertokens_python import Supertokens

    for module in pkgutil.iter_modules(recipes.__path__):
        try:
            loaded = importlib.import_module(f"{recipes.__name__}.{module.name}.recipe")
        except ImportError:
            continue
        for value in vars(loaded).values():
            if (
                isinstance(value, type)
                and value.__module__ == loaded.__name__
                and value.__name__.endswith("Recipe")
                and "reset" in vars(value)
            ):
                value.reset()
    Supertokens.reset()
