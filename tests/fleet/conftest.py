"""A tiny simulated fleet (3 vehicles x 2 days), its lake, and the DuckDB check of it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from keilog.fleet import check
from keilog.fleet.lake import ingest
from keilog.fleet.simulate import FleetSummary, simulate_fleet

VEHICLES, DAYS = 3, 2  # FL mini truck, TN mini truck, NC LSV (keilog.fleet.simulate.BASES)


@dataclass
class Fleet:
    sim: FleetSummary
    lake: Path


@pytest.fixture(scope="session")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    root = tmp_path_factory.mktemp("fleet")
    sim = simulate_fleet(root / "sim", VEHICLES, DAYS, trip_minutes=4.0)
    lake = root / "lake"
    ingest([sim.segments_dir], lake, sim.fleet_file)
    check(lake)
    return Fleet(sim, lake)
