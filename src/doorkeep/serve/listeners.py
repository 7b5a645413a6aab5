"""Where `doorkeep serve` puts the core API (CDI): on the frontend API's port with keys,
or alone on a listener of its own (`--core-port`), never keyless where a proxy may reach.

A reverse proxy on the same host connects from loopback, and nginx's default
`proxy_pass` adds no header that says it is a proxy: on the port the proxy fronts, a
keyless CDI could not tell the Internet from this machine's SDKs. So that port never
trusts loopback callers; a keyless CDI lives on a separate loopback listener, which
the operator does not proxy (docs/deployment.md).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

from starlette.types import ASGIApp

from doorkeep.app import Doorkeep
from doorkeep.serve.server import create_app
from doorkeep.web.cdi import CoreApi
from doorkeep.web.cdi.core_api import by_listener


@dataclass(frozen=True)
class CoreListener:
    """The core API's own listener: `host`:`port`."""

    host: str
    port: int

    @property
    def origin(self) -> str:
        return (
            f"http://[{self.host}]:{self.port}"
            if ":" in self.host
            else (f"http://{self.host}:{self.port}")
        )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def core_listener_problem(dk: Doorkeep, core: CoreListener, main_port: int) -> str | None:
    """Why `core` cannot be served (a usage error), or None."""
    if not 1 <= core.port <= 65535:
        return f"--core-port {core.port} is not a port number from 1 to 65535"
    if core.port == main_port:
        return f"--core-port {core.port} is the frontend API's port: choose another"
    if not dk.settings.core_api_keys and not is_loopback(core.host):
        return (
            f"--core-host {core.host}: a core API without DOORKEEP_CORE_API_KEYS serves "
            "loopback callers only; listen on 127.0.0.1 or ::1, or set keys"
        )
    return None


def serving_app(dk: Doorkeep, core: CoreListener | None) -> ASGIApp:
    """The ASGI app of `doorkeep serve`. Without a core listener the CDI shares the
    frontend API's port and needs a key there; with one, it is served there alone."""
    if core is None:
        return create_app(dk, core_trusts_loopback=False)
    return by_listener(create_app(dk, core_api=False), CoreApi(dk), core.port)


@dataclass
class ServePlan:
    """What `doorkeep serve` runs: the app, and the sockets to pass uvicorn (None: let
    uvicorn bind host:port itself)."""

    app: ASGIApp
    sockets: list[socket.socket] | None
    description: str


def plan_serving(
    dk: Doorkeep, host: str, port: int, core_host: str | None, core_port: int | None
) -> ServePlan:
    """ValueError for a core listener that must not be served (a usage error), OSError
    when a socket cannot be bound."""
    if core_port is None:
        if core_host is not None:
            raise ValueError("--core-host needs --core-port")
        return ServePlan(serving_app(dk, None), None, describe(dk, None))
    core = CoreListener(core_host or "127.0.0.1", core_port)
    if (problem := core_listener_problem(dk, core, port)) is not None:
        raise ValueError(problem)
    main_socket = bind(host, port)
    try:
        sockets = [main_socket, bind(core.host, core.port)]
    except OSError:
        main_socket.close()
        raise
    return ServePlan(serving_app(dk, core), sockets, describe(dk, core))


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket (IPv6 when `host` has a colon), as uvicorn binds its own."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def describe(dk: Doorkeep, core: CoreListener | None) -> str:
    """One log line: where the core API answers, and to whom."""
    keys = bool(dk.settings.core_api_keys)
    if core is not None:
        who = "API keys required" if keys else "no keys: direct loopback callers only"
        return f"core API (CDI) on {core.origin} alone, {who}"
    if keys:
        return "core API (CDI) on this port, API keys required"
    return (
        "core API (CDI) closed on this port without DOORKEEP_CORE_API_KEYS; "
        "--core-port serves it keyless on a loopback port of its own"
    )
