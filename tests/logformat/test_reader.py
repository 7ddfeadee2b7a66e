"""The host reader, under CPython, reads the golden vectors and survives damage."""

from __future__ import annotations

import json
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from keilog.logformat.reader import (
    BLOCK_SIZE,
    CanFrame,
    ClockAnchor,
    Event,
    GpsFix,
    InputFrame,
    SegmentHeader,
    apply_clock,
    block_crc,
    parse,
    read_segment,
)

from tests.conftest import DATA

VECTORS = sorted(p.stem for p in (DATA / "logformat").glob("*.json"))
ANCHOR_SOURCES = {1: "gps", 2: "host", 3: "rtc", 4: "system"}


def expected_records(vec: dict) -> list:
    """The records a reader must return, derived from the vector's JSON by hand rules."""
    out = []
    for blk in vec["blocks"]:
        base = blk["base_us"]
        for r in blk["records"]:
            t = base + r.get("t_us", 0)
            kind = r["type"]
            if kind == "can":
                data = b"" if r["remote"] else bytes.fromhex(r["data"])
                ext = r["extended"] and not r["error"]  # error frames carry a class
                out.append(CanFrame(t, r["id"], ext, r["remote"], r["error"], r["dlc"], data))
            elif kind == "gps":
                v = r["valid"]
                out.append(
                    GpsFix(
                        t,
                        (r["day"] * 86400000 + r["tod_ms"]) * 1000 if v & 16 else None,
                        r["lat_e6"] / 1e6 if v & 1 else None,
                        r["lon_e6"] / 1e6 if v & 1 else None,
                        r["alt_dm"] / 10 if v & 2 else None,
                        r["speed_cms"] / 100 if v & 4 else None,
                        r["course_cdeg"] / 100 if v & 4 else None,
                        r["hdop_c"] / 100 if v & 8 else None,
                        r["quality"],
                        r["satellites"],
                    )
                )
            elif kind == "event":
                out.append(Event(t, r["code"], r["value"]))
            elif kind == "anchor":
                utc = (r["day"] * 86400000 + r["tod_ms"]) * 1000 + r["us"]
                out.append(ClockAnchor(t, utc, ANCHOR_SOURCES[r["source"]]))
            elif kind == "input":
                out.append(InputFrame(t, r["id"], bytes.fromhex(r["data"])))
            elif kind == "segment":
                out.append(
                    SegmentHeader(
                        base, 1, 0, r["boot"], r["seq"], r["device_id"], tuple(r["firmware"])
                    )
                )
    return out


@pytest.mark.parametrize("name", VECTORS)
def test_reader_returns_the_golden_records(name):
    vec = json.loads((DATA / "logformat" / f"{name}.json").read_text())
    seg = read_segment(DATA / "logformat" / f"{name}.klg")
    assert seg.records == expected_records(vec)
    assert [d.reason for d in seg.damage] == vec["expected_damage"]


def test_worked_example_bytes_are_as_documented():
    # docs/log-format.md, "Worked example": header fields and the first record's bytes.
    raw = (DATA / "logformat" / "worked_example.klg").read_bytes()
    assert raw[:16] == bytes.fromhex("4B4C4231 01000000 00000000 404B4C00")
    assert raw[16:24] == bytes.fromhex("09000100 2E99E48D")
    assert raw[24:33] == bytes.fromhex("12FA000000D0011122")
    assert raw[33:] == bytes(BLOCK_SIZE - 33)


def test_full_block_is_sixteen_bytes_per_frame():
    seg = read_segment(DATA / "logformat" / "full_block.klg")
    assert len(seg.frames) == 32
    assert BLOCK_SIZE / len(seg.frames) == 16.0


def test_gps_time_beats_the_system_clock_anchor():
    seg = read_segment(DATA / "logformat" / "segment_mixed.klg")
    timed = apply_clock(seg.records, seg.anchors)
    # The system-clock anchor says 2026-06-01 (day 20605) 14:00:00.123456 UTC...
    assert seg.anchors[0].utc_us == 1780322400123456
    # ...but the GPS fix with a time (14:01:00.000 at its record time) is the reference,
    # and time runs at rate 1 from the only such fix.
    fix = next(r for r in seg.records if isinstance(r, GpsFix) and r.utc_us)
    assert fix.utc_us == 1780322460000000
    for r in timed:
        assert r.timestamp == pytest.approx((fix.utc_us + r.mono_us - fix.mono_us) / 1e6)


def test_without_gps_the_clock_anchor_gives_utc():
    seg = read_segment(DATA / "logformat" / "segment_mixed.klg")
    records = [r for r in seg.records if not isinstance(r, GpsFix)]
    anchor = seg.anchors[0]
    for r in apply_clock(records, seg.anchors):
        assert r.timestamp == pytest.approx((anchor.utc_us + r.mono_us - anchor.mono_us) / 1e6)


MIXED = (DATA / "logformat" / "segment_mixed.klg").read_bytes()


def records_by_block(data: bytes) -> dict[int, list]:
    out = {}
    for i in range(len(data) // BLOCK_SIZE):
        out[i] = parse(data[i * BLOCK_SIZE : (i + 1) * BLOCK_SIZE]).records
    return out


@given(cut=st.integers(min_value=0, max_value=len(MIXED)))
def test_truncation_at_any_offset_keeps_every_whole_block(cut):
    seg = parse(MIXED[:cut])
    whole = cut // BLOCK_SIZE
    expected = [r for i in range(whole) for r in records_by_block(MIXED)[i]]
    assert seg.records == expected
    if cut % BLOCK_SIZE:
        assert seg.damage[-1].reason.startswith("truncated")


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(
    flips=st.lists(
        st.tuples(st.integers(0, len(MIXED) - 1), st.integers(1, 255)), min_size=1, max_size=8
    )
)
def test_flipped_bytes_cost_only_their_blocks(flips):
    data = bytearray(MIXED)
    for pos, mask in flips:
        data[pos] ^= mask
    hit = {pos // BLOCK_SIZE for pos, _ in flips}
    seg = parse(bytes(data))
    per_block = records_by_block(MIXED)
    for i in range(len(MIXED) // BLOCK_SIZE):
        if i not in hit:
            assert all(r in seg.records for r in per_block[i])
    damaged = {d.block for d in seg.damage}
    changed = {i for i in hit if data[i * 512 : (i + 1) * 512] != MIXED[i * 512 : (i + 1) * 512]}
    # CRC-32 catches every changed block (a miss needs a 1-in-2^32 collision).
    assert changed == damaged


@given(st.binary(max_size=3 * BLOCK_SIZE))
def test_random_bytes_never_raise(data):
    seg = parse(data)
    assert seg.blocks == 0 or seg.records is not None


@given(payload=st.binary(min_size=0, max_size=488), seq=st.integers(0, 2**32 - 1))
def test_valid_crc_with_garbage_payload_never_raises(payload, seq):
    # A block that passes the CRC but holds nonsense records (a buggy writer) is read
    # up to the first bad record and the rest is reported.
    block = bytearray(BLOCK_SIZE)
    block[:4] = b"KLB1"
    struct.pack_into("<IIIHH", block, 4, seq, 0, 0, len(payload), 0)
    block[24 : 24 + len(payload)] = payload
    struct.pack_into("<I", block, 20, block_crc(block))
    seg = parse(bytes(block))
    assert seg.blocks == 1
