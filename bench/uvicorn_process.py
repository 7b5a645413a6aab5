"""One uvicorn worker as its own process, the way every HTTP benchmark here runs one."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping


def start_uvicorn(
    app: str, env: Mapping[str, str], probe_path: str, *, python: str = sys.executable
) -> tuple[subprocess.Popen[bytes], str]:
    """Start `app` (module:attribute) on a free loopback port with uvloop and httptools;
    returns the process and its base URL once `probe_path` answers."""
    # Imported here: bench_peers loads this module before re-running itself in the
    # peers' virtualenv, where doorkeep is installed.
    from doorkeep.testing import free_port, wait_until_answering

    port = free_port()
    command = [python, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)]
    command += ["--loop", "uvloop", "--http", "httptools", "--log-level", "warning"]
    process = subprocess.Popen([*command, "--no-access-log"], env=dict(env))
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(url + probe_path, app)
    except RuntimeError:
        process.kill()
        raise
    return process, url
