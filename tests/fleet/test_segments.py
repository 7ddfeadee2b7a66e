"""The host-side segment writer writes what the log-format reader reads back."""

from __future__ import annotations

from keilog.fleet.segments import Anchor, Event, Fix, Frame, encode_segment, segment_name
from keilog.logformat.reader import BLOCK_SIZE, CanFrame, ClockAnchor, GpsFix, parse
from keilog.logformat.reader import Event as ReadEvent

UTC0 = 1_780_000_000_000_000  # 2026-05-28T20:26:40Z, in microseconds


def test_every_record_reads_back_as_written():
    items = [Anchor(5_000_000, UTC0)]
    for i in range(200):  # enough records for several blocks
        mono = 5_000_000 + i * 1_000_000
        items.append(Fix(mono, UTC0 + i * 1_000_000, 29.65 + i * 1e-5, -82.32, 8.5, 359.99))
        items.append(Frame(mono + 500_000, 0x1D0, bytes([0x9A, 0x10, 0, 0, 0, 0, 0, 0])))
    items.append(Event(205_000_000, 6, 12_000))
    data = encode_segment("KEI00042", 7, 3, 4_999_000, items)
    seg = parse(data)
    assert seg.damage == []
    assert len(data) % BLOCK_SIZE == 0 and seg.blocks > 10
    assert (seg.header.device_id, seg.header.boot, seg.header.seq) == ("KEI00042", 7, 3)
    records = seg.records[1:]
    assert len(records) == len(items)
    assert records[0] == ClockAnchor(5_000_000, UTC0, "gps")
    fix = records[1]
    assert isinstance(fix, GpsFix)
    assert (fix.mono_us, fix.utc_us, fix.lat, fix.lon) == (5_000_000, UTC0, 29.65, -82.32)
    assert (fix.speed_mps, fix.course_deg, fix.quality) == (8.5, 359.99, 1)
    assert records[2] == CanFrame(5_500_000, 0x1D0, False, False, False, 8, items[2].data)
    assert records[-1] == ReadEvent(205_000_000, 6, 12_000)


def test_a_long_pause_starts_a_new_block_base():
    # Offsets from a block's base stay below 2^29 us (docs/log-format.md): a frame ten
    # minutes after the previous one goes into a block of its own.
    items = [Frame(0, 1, b"a"), Frame(600_000_000, 2, b"b")]
    seg = parse(encode_segment("D", 1, 0, 0, items))
    assert [r.mono_us for r in seg.records[1:]] == [0, 600_000_000]
    assert seg.blocks == 2


def test_segment_names_are_boot_and_number_in_hex():
    assert segment_name(42, 3) == "002A0003.KLG"
