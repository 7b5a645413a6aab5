"""Run every benchmark in turn and print their tables (what `make bench` does).

Each script measures its baseline in the same run; see their docstrings.
Extra arguments are not passed through: run a script directly to tune it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
BENCHMARKS = [
    "bench_token_verify.py",
    "bench_sign_in.py",
    "bench_protected_route.py",
    "bench_import.py",
    "bench_scale.py",
    "bench_passwordless.py",
]
WITH_POSTGRES = {"bench_sign_in.py", "bench_import.py", "bench_scale.py", "bench_passwordless.py"}
NEEDS_POSTGRES = {"bench_scale.py"}


def main() -> int:
    failed = 0
    for name in BENCHMARKS:
        postgres = os.environ.get("DOORKEEP_TEST_POSTGRES_URL")
        if name in NEEDS_POSTGRES and not postgres:
            print(f"\n## {name}: skipped (set DOORKEEP_TEST_POSTGRES_URL)\n", flush=True)
            continue
        print(f"\n## {name}\n", flush=True)
        args = [sys.executable, str(HERE / name)]
        if name in WITH_POSTGRES and os.environ.get("DOORKEEP_TEST_POSTGRES_URL"):
            args += ["--postgres", os.environ["DOORKEEP_TEST_POSTGRES_URL"]]
        failed += subprocess.run(args, check=False).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
