"""Parsing request bodies as JSON with a bound on nesting, for the FDI and the CDI.

`json.loads` recurses once per level: `"[" * 50000` (50 KB, under every body-size cap)
raises RecursionError, and nesting just under the interpreter's limit parses but fails
later, deeper in the stack (storing or encoding the value). No request doorkeep serves
needs more than a few levels; user metadata gets `MAX_JSON_DEPTH`.
"""

from __future__ import annotations

import json
from typing import Any

MAX_JSON_DEPTH = 100


class JsonTooDeepError(ValueError):
    """The body nests arrays/objects deeper than MAX_JSON_DEPTH."""


def parse_json(raw: bytes | str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """`json.loads(raw)`; JsonTooDeepError past `max_depth` levels, ValueError if not JSON."""
    try:
        value = json.loads(raw)
    except RecursionError:
        raise JsonTooDeepError(f"JSON nested deeper than {max_depth} levels") from None
    if _deeper_than(value, max_depth):
        raise JsonTooDeepError(f"JSON nested deeper than {max_depth} levels")
    return value


def _deeper_than(value: Any, max_depth: int) -> bool:
    """Whether containers nest more than `max_depth` levels (iterative: no recursion)."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > max_depth:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False
