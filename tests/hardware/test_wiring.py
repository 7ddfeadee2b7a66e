"""Wiring diagrams: one well-formed, up-to-date SVG per board that names every pin."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from keilog.hardware import boards, wiring

WIRING = Path(__file__).resolve().parents[2] / "hardware" / "wiring"
NAMES = boards.board_names()


def _texts(path: Path) -> str:
    root = ET.parse(path).getroot()  # raises on malformed XML
    assert root.tag == f"{{{wiring.SVG_NS}}}svg"
    return "\n".join(el.text or "" for el in root.iter(f"{{{wiring.SVG_NS}}}text"))


@pytest.mark.parametrize("name", NAMES)
def test_svg_exists_and_names_every_connected_pin(name):
    board = boards.load_board(name)
    text = _texts(WIRING / f"{name}.svg")
    for pin in board.signal_pins():
        assert pin.pin in text, f"{name}.svg does not mention {pin.pin} ({pin.function})"
        assert pin.mcu in text, f"{name}.svg does not mention {pin.mcu} ({pin.function})"
    for _function, pin_name, header in board.power_pins():
        assert pin_name in text and header in text
    for obd_pin in (
        "16  +12 V battery",
        "4  chassis ground",
        "5  signal ground",
        "6  CAN-H",
        "14  CAN-L",
    ):
        assert obd_pin in text


@pytest.mark.parametrize("name", NAMES)
def test_svg_is_up_to_date(name):
    # Regenerate with: python -m keilog.hardware.wiring
    committed = (WIRING / f"{name}.svg").read_text(encoding="utf-8")
    assert committed == wiring.render_svg(boards.load_board(name))


def test_write_all_writes_one_file_per_board(tmp_path):
    written = wiring.write_all(tmp_path)
    assert sorted(p.name for p in written) == [f"{n}.svg" for n in NAMES]
