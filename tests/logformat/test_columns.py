"""The columnar segment reader reads exactly what logfile.parse reads, record for record."""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from keilog.logformat.columns import read_columns, segment_clock, utc_seconds
from keilog.logformat.reader import (
    BLOCK_SIZE,
    CanFrame,
    ClockAnchor,
    GpsFix,
    apply_clock,
    block_crc,
    parse,
)

from tests.conftest import DATA

VECTORS = sorted((DATA / "logformat").glob("*.klg"))
MIXED = (DATA / "logformat" / "segment_mixed.klg").read_bytes()


def assert_same_reading(data: bytes) -> None:
    seg = parse(data)
    cols = read_columns(data)
    assert cols.can.frames() == [r for r in seg.records if isinstance(r, CanFrame)]
    assert cols.others == [r for r in seg.records if not isinstance(r, CanFrame)]
    assert cols.damage == seg.damage
    assert (cols.blocks, cols.header) == (seg.blocks, seg.header)


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_golden_vectors_read_the_same(path):
    assert_same_reading(path.read_bytes())


def block(payload: bytes, seq: int = 0, count: int = 0, base_us: int = 0) -> bytes:
    """One block with a valid CRC around any payload (as a buggy writer could make)."""
    out = bytearray(BLOCK_SIZE)
    out[:4] = b"KLB1"
    struct.pack_into(
        "<IIIHH", out, 4, seq, base_us >> 30, base_us & (2**30 - 1), len(payload), count
    )
    out[24 : 24 + len(payload)] = payload
    struct.pack_into("<I", out, 20, block_crc(out))
    return bytes(out)


@pytest.mark.parametrize(
    "payload",
    [
        bytes.fromhex("18") + struct.pack("<IH", 5, 0x7FF) + bytes(range(8)),  # std, DLC 8
        bytes.fromhex("13") + struct.pack("<IH", 5, 0xFFFF) + b"abc",  # id masked to 11 bits
        bytes.fromhex("28") + struct.pack("<II", 9, 0x1FFFFFFF) + bytes(8),  # extended
        bytes.fromhex("38") + struct.pack("<IIB", 9, 0x7DF, 1),  # RTR, extended flag
        bytes.fromhex("48") + struct.pack("<II", 1, 4) + bytes(8),  # error frame
        bytes.fromhex("19") + bytes(16),  # DLC 9: stops the block
        bytes.fromhex("39") + bytes(16),  # RTR with DLC 9
        bytes.fromhex("F003414243") + bytes.fromhex("10") + struct.pack("<IH", 1, 1),
        bytes.fromhex("F10E") + struct.pack("<IH", 7, 0x100) + bytes(range(8)),  # input
        bytes.fromhex("F10E") + struct.pack("<IH", 7, 0xF901) + bytes(8),  # id to 11 bits
        bytes.fromhex("F103414243") + bytes.fromhex("10") + struct.pack("<IH", 1, 1),  # skipped
        bytes.fromhex("F10E") + bytes(6),  # input record cut short
        bytes.fromhex("F0FF"),  # extension running past the payload
        bytes.fromhex("F0"),  # extension without its length byte
        bytes.fromhex("51"),  # GPS tag with a nonzero low nibble: unknown
        bytes.fromhex("18") + bytes(5),  # truncated CAN record
        bytes.fromhex("00"),
        b"",
    ],
)
def test_hand_made_blocks_read_the_same(payload):
    assert_same_reading(block(payload, count=1))
    assert_same_reading(block(payload, seq=3, count=0, base_us=3 << 30 | 12345))


def test_a_block_of_many_frames_reads_the_same():
    frames = b"".join(
        bytes([0x10 | (k % 9)]) + struct.pack("<IH", k * 100, k) + bytes([k % 256] * (k % 9))
        for k in range(40)
    )
    assert_same_reading(block(frames[:488], count=40) + MIXED + block(frames[:300], seq=7))


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(
    flips=st.lists(st.tuples(st.integers(0, len(MIXED) - 1), st.integers(1, 255)), max_size=8),
    cut=st.integers(0, len(MIXED)),
)
def test_damaged_segments_read_the_same(flips, cut):
    data = bytearray(MIXED)
    for pos, mask in flips:
        data[pos] ^= mask
    assert_same_reading(bytes(data[:cut]))


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(payload=st.binary(max_size=488), count=st.integers(0, 40))
def test_garbage_with_a_valid_crc_reads_the_same(payload, count):
    assert_same_reading(block(payload, count=count))


@given(st.binary(max_size=3 * BLOCK_SIZE))
def test_random_bytes_read_the_same(data):
    assert_same_reading(data)


def test_utc_follows_the_clock_of_apply_clock():
    seg = parse(MIXED)
    frames = [r for r in apply_clock(seg.records, seg.anchors) if isinstance(r, CanFrame)]
    cols = read_columns(MIXED)
    utc = utc_seconds(cols.can.mono_us, segment_clock(cols))
    assert utc is not None and utc.tolist() == [f.timestamp for f in frames]


def test_no_reference_point_means_no_utc():
    cols = read_columns(MIXED)
    cols.others = [r for r in cols.others if not isinstance(r, ClockAnchor | GpsFix)]
    assert utc_seconds(cols.can.mono_us, segment_clock(cols)) is None


input_record = st.builds(
    lambda t, mid, data: b"\xf1\x0e" + struct.pack("<IH", t, mid) + data,
    st.integers(0, 2**29),
    st.integers(0, 0xFFFF),
    st.binary(min_size=8, max_size=8),
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(input_record | st.binary(max_size=20), max_size=30), st.integers(0, 40))
def test_input_records_among_anything_read_the_same(parts, count):
    payload = b"".join(parts)[:488]
    assert_same_reading(block(payload, count=count))
