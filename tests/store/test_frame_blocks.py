"""Raw frames packed in blocks (keilog.store.frames): every column comes back bit for bit,
and a block stores a frame's UTC timestamp only where its segment's clock cannot give
it back."""

from __future__ import annotations

import struct

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from keilog import store
from keilog.decode import FrameBatch
from keilog.errors import StoreError
from keilog.logformat.clock import build_clock
from keilog.store import timebase
from keilog.store.frames import FrameQuery, read_frames, write_frames

HEAD = struct.Struct("<BIHB")  # the block header: version, frames, width, layout
HAS_TIMESTAMP = 4  # layout bit: the block holds the frames' timestamps


def _stored(db, first_id, segment, batch, mono, time_us, pieces):
    timebase.store_pieces(db.conn, segment, pieces)
    write_frames(db.conn, first_id, segment, batch, mono, time_us, pieces)
    [back] = read_frames(db.conn, FrameQuery(segments=[segment]))
    layouts = [HEAD.unpack_from(b)[3] for (b,) in db.conn.execute("select data from frame_blocks")]
    return back, layouts


def _batch(rng, n, timestamp):
    dlc = rng.integers(0, 9, n).astype(np.uint8)
    data = rng.integers(0, 256, (n, 8)).astype(np.uint8)
    data[np.arange(8) >= dlc[:, None]] = 0
    return FrameBatch(
        timestamp=timestamp,
        arbitration_id=rng.choice([0x10, 0x1D0, 0x18FEF100], n),
        is_extended=np.zeros(n, bool),
        dlc=dlc,
        data=data,
        is_remote=np.zeros(n, bool),
        is_error=rng.random(n) < 0.01,
    )


def _same(back, batch, first_id):
    assert back.frame_id.tolist() == list(range(first_id, first_id + len(batch)))
    assert back.batch.timestamp.view(np.int64).tolist() == batch.timestamp.view(np.int64).tolist()
    for name in ("arbitration_id", "dlc", "is_error"):
        assert getattr(back.batch, name).tolist() == getattr(batch, name).tolist(), name
    assert back.batch.data[:, :8].tolist() == batch.data.tolist()


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 600),
    interpolate=st.booleans(),
)
def test_a_segment_s_timestamps_come_back_from_its_clock_unstored(tmp_path_factory, seed, n,
                                                                  interpolate):  # fmt: skip
    rng = np.random.default_rng(seed)
    mono = np.sort(rng.integers(0, 4_000_000_000, n)).astype(np.int64)
    # GPS points (interpolated) or host anchors (steps), as keilog.logformat.clock builds.
    points = sorted(rng.integers(0, 4_000_000_000, 4).tolist())
    source = "gps" if interpolate else "host"
    clock = build_clock([(m, 1_780_000_000_000_000 + m + k * 997, source)
                         for k, m in enumerate(points)])  # fmt: skip
    batch = _batch(rng, n, clock.utc(mono))
    db = store.open_db(tmp_path_factory.mktemp("db") / "k.db")
    back, layouts = _stored(db, 7, 1, batch, mono, mono, timebase.pieces(clock))
    _same(back, batch, 7)
    assert back.mono_us.tolist() == mono.tolist() and back.has_mono.all()
    assert not any(layout & HAS_TIMESTAMP for layout in layouts)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 600),
    whole_us=st.booleans(),
)
def test_a_log_keeps_its_timestamps_bit_for_bit(tmp_path_factory, seed, n, whole_us):
    rng = np.random.default_rng(seed)
    us = np.sort(rng.integers(1_600_000_000_000_000, 1_700_000_000_000_000, n))
    # candump writes whole microseconds; a BLF's nanosecond ticks are not.
    ts = us / 1e6 if whole_us else us / 1e6 + (0.25 + rng.random(n) / 2) * 1e-6
    batch = _batch(rng, n, ts)
    db = store.open_db(tmp_path_factory.mktemp("db") / "k.db")
    time_us = np.round(ts * 1e6).astype(np.int64)
    back, layouts = _stored(db, 1, 1, batch, None, time_us, timebase.LOG_PIECES)
    _same(back, batch, 1)
    assert not back.has_mono.any()
    assert any(layout & HAS_TIMESTAMP for layout in layouts) == (not whole_us)


def test_frames_without_a_clock_have_no_timestamp(tmp_path):
    rng = np.random.default_rng(1)
    mono = np.arange(0, 50_000, 1000, dtype=np.int64)
    batch = _batch(rng, len(mono), np.full(len(mono), np.nan))
    db = store.open_db(tmp_path / "k.db")
    back, layouts = _stored(db, 1, 1, batch, mono, mono, [])
    _same(back, batch, 1)
    assert not any(layout & HAS_TIMESTAMP for layout in layouts)


@settings(max_examples=60, deadline=None)
@given(at=st.integers(0, 10_000), value=st.integers(0, 255), cut=st.booleans())
def test_a_damaged_block_is_one_clear_error(tmp_path_factory, at, value, cut):
    rng = np.random.default_rng(3)
    mono = np.arange(0, 300_000, 1000, dtype=np.int64)
    db = store.open_db(tmp_path_factory.mktemp("db") / "k.db")
    _stored(db, 1, 1, _batch(rng, len(mono), np.full(len(mono), np.nan)), mono, mono, [])
    blob = bytearray(db.conn.execute("select data from frame_blocks limit 1").fetchone()[0])
    at %= len(blob)
    if cut:
        del blob[at:]
    elif blob[at] == value:
        return
    else:
        blob[at] = value
    db.conn.execute("update frame_blocks set data = ? where id = 1", [bytes(blob)])
    try:
        list(read_frames(db.conn))
    except StoreError as exc:
        assert "frame block of segment 1" in str(exc) and "damaged" in str(exc)
