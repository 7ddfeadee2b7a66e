"""The log format's codes have one meaning at both ends: the firmware's record.py (what
the encoder writes) and the host's reader (what it decodes), as docs/log-format.md
lists them."""

from __future__ import annotations

import ast

from keilog.logformat import reader as HOST

from tests.conftest import FIRMWARE_LIB


def firmware_constants() -> dict[str, int]:
    tree = ast.parse((FIRMWARE_LIB / "logger" / "record.py").read_text())
    out = {}
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.Call)
            and getattr(node.value.func, "id", "") == "const"
        ):
            out[node.targets[0].id] = ast.literal_eval(node.value.args[0])
    return out


FW = firmware_constants()


def test_event_codes_agree():
    fw = {v: k[3:].lower() for k, v in FW.items() if k.startswith("EV_")}
    assert fw == HOST.EVENT_NAMES


def test_record_tags_agree():
    # The firmware keeps a tag's type in the high nibble, the host the type itself.
    for name in ("CAN_STD", "CAN_EXT", "CAN_RTR", "CAN_ERR", "GPS", "EVENT", "ANCHOR", "SEGMENT"):
        assert FW["T_" + name] == getattr(HOST, "T_" + name) << 4, name


def test_anchor_sources_and_gps_bits_agree():
    fw = {v: k[4:].lower() for k, v in FW.items() if k.startswith("SRC_")}
    assert fw == HOST.ANCHOR_SOURCES
    for bit in ("POS", "ALT", "MOTION", "HDOP", "TIME"):
        assert FW["GPS_" + bit] == getattr(HOST, "GPS_" + bit), bit


def test_block_layout_agrees():
    for name in ("FORMAT_VERSION", "BLOCK_SIZE", "HEADER_SIZE", "PAYLOAD_SIZE", "PERIOD_US"):
        assert FW[name] == getattr(HOST, name), name
