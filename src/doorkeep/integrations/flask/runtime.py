"""doorkeep inside one WSGI process: one event loop on one thread, created on first use.

doorkeep is asynchronous; Flask views are not. Each process (each gunicorn worker)
gets one `ProcessRuntime`: an event loop running on a daemon thread, the `Doorkeep`
instance started on it, and doorkeep's own ASGI face (the frontend API, the pages,
CORS, anti-CSRF: the same middleware `doorkeep serve` runs) bridged to WSGI with
`a2wsgi` on that same loop. Views hand coroutines to the loop with
`asyncio.run_coroutine_threadsafe` and wait for the answer on their own thread.

Nothing is created at import or when the Flask app is built: a runtime made before
gunicorn forks would leave every worker a loop whose thread does not exist, and
database connections shared across processes. It is made by the first request a
process serves, and forgotten in a child after a fork.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import threading
import weakref
from collections.abc import Callable, Coroutine, Iterable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from a2wsgi import ASGIMiddleware
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from doorkeep.integrations.starlette import DoorkeepMiddleware

if TYPE_CHECKING:
    from doorkeep.app import Doorkeep as CoreDoorkeep

T = TypeVar("T")
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
log = logging.getLogger("doorkeep")
_CLOSE_TIMEOUT_S = 10.0


class _Call:
    """One coroutine handed to the loop. The task stores its outcome and releases a
    lock the caller waits on: half the cost of `run_coroutine_threadsafe` (no second
    future chained by callbacks), which is on the path of every protected request."""

    __slots__ = ("coro", "done", "error", "task", "value")

    def __init__(self, coro: Coroutine[Any, Any, Any]) -> None:
        self.coro = coro
        self.value: Any = None
        self.error: BaseException | None = None
        self.task: asyncio.Task[None] | None = None
        self.done = threading.Lock()
        self.done.acquire()

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.task = loop.create_task(self._run())

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    async def _run(self) -> None:
        try:
            self.value = await self.coro
        except BaseException as exc:  # every outcome goes back to the waiting thread
            self.error = exc
        finally:
            self.done.release()


class LoopThread:
    """An event loop running forever on its own daemon thread."""

    def __init__(self, name: str = "doorkeep-loop") -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run `coro` on the loop (as a task) and wait for its result on the calling thread."""
        if threading.current_thread() is self.thread:
            coro.close()
            raise RuntimeError(
                "doorkeep's synchronous API was called from doorkeep's own event loop "
                "(an override or a hook): await the asynchronous API there instead"
            )
        call = _Call(coro)
        self.loop.call_soon_threadsafe(call.start, self.loop)
        if not call.done.acquire(timeout=-1 if timeout is None else timeout):
            self.loop.call_soon_threadsafe(call.cancel)
            raise TimeoutError(f"doorkeep did not answer within {timeout} s")
        if call.error is not None:
            raise call.error
        return cast(T, call.value)

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(_CLOSE_TIMEOUT_S)
        if not self.thread.is_alive():
            self.loop.close()


async def _not_doorkeeps(scope: Scope, receive: Receive, send: Send) -> None:
    # The WSGI side only sends doorkeep's own paths (and CORS preflights) here.
    await JSONResponse({"message": "not found"}, status_code=404)(scope, receive, send)


class ProcessRuntime:
    """The loop thread, the started `Doorkeep` and the WSGI bridge of one process."""

    def __init__(self, create: Callable[[], CoreDoorkeep]) -> None:
        self.pid = os.getpid()
        self.loop_thread = LoopThread()
        try:
            # Built and started on the loop: whatever it binds to a loop binds to this one.
            self.dk = self.run(_create_and_start(create))
        except BaseException:
            self.loop_thread.stop()
            raise
        self.middleware = DoorkeepMiddleware(_not_doorkeeps, self.dk)
        # a2wsgi types WSGI and ASGI with TypedDicts of its own; these are the same callables.
        bridge: Any = ASGIMiddleware(cast(Any, self.middleware), loop=self.loop_thread.loop)
        self.bridge: WsgiApp = bridge
        _at_exit(self.close)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return self.loop_thread.run(coro, timeout)

    def serves(self, path: str) -> bool:
        """Is `path` one of doorkeep's own routes (the frontend API or a page)?"""
        dk = self.dk
        return (dk.pages is not None and dk.pages.handles(path)) or dk.frontend_api.handles(path)

    def close(self) -> None:
        """Close doorkeep (drain queued emails, release connections) and stop the loop."""
        if os.getpid() != self.pid or self.loop_thread.loop.is_closed():
            return  # a forked child: this loop's thread lives in the parent only
        try:
            self.run(self.dk.close(), timeout=_CLOSE_TIMEOUT_S)
        except Exception:
            log.exception("closing doorkeep failed")
        self.loop_thread.stop()


def _at_exit(close: Callable[[], None]) -> None:
    """Call `close` when the interpreter exits, before the thread pools doorkeep uses are
    shut down: `concurrent.futures` shuts them in threading's exit hooks, which run
    before `atexit`'s (and in reverse order of registration, so this one goes first)."""
    register = getattr(threading, "_register_atexit", None)
    if register is None:  # not CPython: the best we have
        atexit.register(close)
    else:
        register(close)


async def _create_and_start(create: Callable[[], CoreDoorkeep]) -> CoreDoorkeep:
    dk = create()
    await dk.start()
    return dk


class LazyRuntime:
    """Makes this process's runtime on first use; a forked child makes its own."""

    def __init__(self, create: Callable[[], CoreDoorkeep]) -> None:
        self._create = create
        self._runtime: ProcessRuntime | None = None
        self._lock = threading.Lock()
        _ALL.add(self)

    def get(self) -> ProcessRuntime:
        runtime = self._runtime
        if runtime is not None:
            return runtime
        with self._lock:
            if self._runtime is None:
                self._runtime = ProcessRuntime(self._create)
            return self._runtime

    @property
    def created(self) -> bool:
        return self._runtime is not None

    def close(self) -> None:
        with self._lock:
            runtime, self._runtime = self._runtime, None
        if runtime is not None:
            runtime.close()

    def _forget(self) -> None:
        # The parent's loop thread was not copied into this process; a lock held by
        # another of its threads at the fork would stay held here forever.
        self._runtime = None
        self._lock = threading.Lock()


_ALL: weakref.WeakSet[LazyRuntime] = weakref.WeakSet()


def _forget_all_after_fork() -> None:
    for lazy in list(_ALL):
        lazy._forget()


os.register_at_fork(after_in_child=_forget_all_after_fork)
