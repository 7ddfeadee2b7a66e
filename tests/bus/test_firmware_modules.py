"""The firmware's encoder under CPython (keilog.bus.firmware) writes the golden vectors'
bytes, and its zlib CRC is the firmware's own."""

from __future__ import annotations

import json
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st
from keilog.bus.firmware import firmware_module

from tests.conftest import DATA


@given(st.binary(min_size=24, max_size=512), st.integers(0, 20))
def test_the_zlib_crc_is_the_firmwares(data, at):
    rec = firmware_module("record")
    n = len(data)
    ours, theirs = bytearray(512), bytearray(512)
    ours[:n] = theirs[:n] = data
    at = min(at, n - 4)
    rec._crc(ours, at)
    rec.firmware_crc(theirs, at)
    assert ours == theirs


def _encode(rec, block: dict) -> bytes:
    """One golden-vector block through the host-loaded encoder (as tests/firmware/
    mp_encode.py does under MicroPython)."""
    enc = rec.BlockEncoder()
    hi, lo = divmod(block["base_us"], 1 << 30)
    enc.begin(block["seq"], hi, lo, 0)  # base tick 0: a record's ticks are its offset
    for r in block["records"]:
        t = r.get("t_us", 0)
        if r["type"] == "can":
            flags = (rec.F_EXT if r["extended"] else 0) | (rec.F_RTR if r["remote"] else 0)
            flags |= rec.F_ERR if r["error"] else 0
            ok = enc.can(t, r["id"], flags, r["dlc"], bytes.fromhex(r["data"]))
        elif r["type"] == "gps":
            ok = enc.gps(t, r["day"], r["tod_ms"], r["lat_e6"], r["lon_e6"], r["alt_dm"],
                         r["speed_cms"], r["course_cdeg"], r["hdop_c"], r["quality"],
                         r["satellites"], r["valid"])  # fmt: skip
        elif r["type"] == "event":
            ok = enc.event(t, r["code"], r["value"])
        elif r["type"] == "anchor":
            ok = enc.anchor(t, r["day"], r["tod_ms"], r["us"], r["source"])
        elif r["type"] == "input":
            # An input record (docs/log-format.md, tag 0xF1, 16 bytes) as the firmware's
            # logger/inputs.put writes it; the host's recorder never writes one.
            at = rec.HEADER_SIZE + enc.used
            data = bytes.fromhex(r["data"])
            struct.pack_into("<BBIH8s", enc.buf, at, 0xF1, 14, enc._offset(t), r["id"], data)
            enc.used += 16
            enc.count += 1
            ok = True
        else:
            ok = enc.segment(r["boot"], r["seq"], r["device_id"].encode(), r["firmware"])
        assert ok, r
    return bytes(enc.seal())


VECTORS = sorted((DATA / "logformat").glob("*.json"))


@pytest.mark.parametrize("vector", VECTORS, ids=[v.stem for v in VECTORS])
def test_blocks_sealed_on_the_host_are_the_golden_vectors(vector):
    rec = firmware_module("record")
    blocks = json.loads(vector.read_text())["blocks"]
    golden = vector.with_suffix(".klg").read_bytes()
    assert b"".join(_encode(rec, b) for b in blocks) == golden
