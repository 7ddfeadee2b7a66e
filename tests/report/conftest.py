"""Fixtures: the built-in demo scenario as a database, its road file and its check."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from keilog.roads import build_roads
from keilog.rules.check import check_database
from keilog.rules.vehicle import Vehicle
from keilog.sim.run import Simulation
from keilog.sim.scenario import resolve

from tests.report import scenario_db


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
