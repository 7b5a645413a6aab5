"""One uvicorn worker as its own process, the way every HTTP benchmark here runs one."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Mapping


def start_uvicorn(
    app: str, env: Mapping[str, str], probe_path: str, *, python: str = sys.executable
) -> tuple[subprocess.Popen[bytes], str]:
    """Start `app` (module:attribute) on a free loopback port with uvloop and httptools;
    returns the process and its base URL once `probe_path` answers."""
    # Imported here: bench_peers loads this module before re-running itself in the
    # peers' virtualenv, where these exist.
    import httpx

    from doorkeep.testing import free_port

    port = free_port()
    command = [python, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)]
    command += ["--loop", "uvloop", "--http", "httptools", "--log-level", "warning"]
    process = subprocess.Popen([*command, "--no-access-log"], env=dict(env))
    url = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            httpx.get(url + probe_path, timeout=1)
            return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{app} did not start")
