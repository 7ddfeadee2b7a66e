"""CLI start-up: ``keilog --help`` against ``sqlite-utils --help`` on the same machine.

Both are click command lines installed by pip; each is started as a new process, as an
owner types it, best of N. The floor beside it is a bare ``python -c pass``: no CLI can
start faster than its interpreter.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from typing import Any

from bench import entry


def _start_s(argv: list[str], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        best = min(best, time.perf_counter() - t0)
    return best


def _command(name: str) -> list[str]:
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} is not on PATH: pip install -e '.[test]' installs both CLIs")
    return [found]


def run(quick: bool) -> dict[str, Any]:
    repeat = 3 if quick else 10
    keilog, sqlite_utils = _command("keilog"), _command("sqlite-utils")
    floor = _start_s([sys.executable, "-c", "pass"], repeat)
    reference = _start_s([*sqlite_utils, "--help"], repeat)
    return {
        "cli_start_s": entry(
            _start_s([*keilog, "--help"], repeat),
            reference,
            "sqlite-utils --help",
            "s to print keilog --help",
            higher_is_better=False,
            floor_s=round(floor, 4),
            floor_name="python -c pass",
        ),
        "cli_start_where_help_s": entry(
            _start_s([*keilog, "where", "--help"], repeat),
            reference,
            "sqlite-utils --help",
            "s to print keilog where --help",
            higher_is_better=False,
            floor_s=round(floor, 4),
            floor_name="python -c pass",
        ),
    }
