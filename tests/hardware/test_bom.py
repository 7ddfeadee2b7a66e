"""hardware/bom.csv: the columns the guide promises, and the parts the README names."""

from __future__ import annotations

import csv
from pathlib import Path

HARDWARE = Path(__file__).resolve().parents[2] / "hardware"
COLUMNS = ["part", "function", "example_part_number", "quantity", "approx_price_usd", "notes"]


def _rows() -> list[dict[str, str]]:
    with open(HARDWARE / "bom.csv", newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == COLUMNS
        return list(reader)


def test_every_row_is_complete_and_numeric():
    for row in _rows():
        assert all(row[c].strip() for c in COLUMNS), row
        assert int(row["quantity"]) >= 0
        assert float(row["approx_price_usd"]) > 0


def test_bom_has_the_parts_the_readme_recommends():
    parts = " ".join(r["example_part_number"] for r in _rows())
    readme = (HARDWARE / "README.md").read_text(encoding="utf-8")
    for part in ["Pyboard v1.1", "TJA1051T/3", "NEO-M8N", "SM8S24A", "SS36", "D36V28F5", "BAT54S"]:
        assert part in parts
        assert part in readme


def test_recommended_build_has_one_board():
    boards = [r for r in _rows() if r["part"].startswith("MCU board") and int(r["quantity"]) > 0]
    assert [r["example_part_number"] for r in boards] == ["Pyboard v1.1 (PYBv1.1)"]
