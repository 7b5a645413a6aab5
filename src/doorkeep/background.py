"""Work that must not delay an answer (sending email, account lookups whose timing
would reveal whether an account exists). Failures are logged, never lost silently."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger("doorkeep.background")


class BackgroundTasks:
    def __init__(self) -> None:
        self._pending: set[asyncio.Task[None]] = set()

    def spawn(self, work: Coroutine[Any, Any, None], *, name: str = "background work") -> None:
        task = asyncio.get_running_loop().create_task(self._run(work, name))
        self._pending.add(task)  # keep a reference: the loop holds tasks only weakly
        task.add_done_callback(self._pending.discard)

    @property
    def pending(self) -> int:
        """Work spawned and not finished yet (a queue's depth, for metrics)."""
        return len(self._pending)

    async def drain(self, timeout: float | None = None) -> None:
        """Wait for everything spawned so far (tests; shutdown)."""
        while self._pending:
            done, _ = await asyncio.wait(set(self._pending), timeout=timeout)
            if not done:
                return

    @staticmethod
    async def _run(work: Coroutine[Any, Any, None], name: str) -> None:
        try:
            await work
        except Exception:
            log.exception("%s failed", name)
