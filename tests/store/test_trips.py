"""The trips table keilog import keeps: split at ignition off and at silences over 5 min,
rebuilt for the device and boot of each imported segment, numbered by start time."""

from __future__ import annotations

import hashlib

import pytest
from keilog import store
from keilog.logformat.reader import (
    CanFrame,
    ClockAnchor,
    Event,
    GpsFix,
    Record,
    Segment,
    SegmentHeader,
)
from keilog.store import ingest
from keilog.store import trips as dbtrips

START = 1_780_322_400.0  # 2026-06-01T14:00:00Z
M_PER_DEG_LAT = 111_195.08  # IUGG mean sphere: R * pi / 180 (as keilog.units.haversine_m)
IGNITION_OFF = 6  # event codes, docs/log-format.md
SHUTDOWN = 14


def drive(t0_s: float, seconds: int, mps: float = 10.0) -> list[Record]:
    """1 Hz fixes due north at ``mps`` and a 10 Hz frame, from ``t0_s`` after boot."""
    out: list[Record] = []
    for s in range(seconds + 1):
        mono = round((t0_s + s) * 1e6)
        lat = 29.6516 + mps * (t0_s + s) / M_PER_DEG_LAT
        out.append(GpsFix(mono, None, lat, -82.3248, 30.0, mps, 0.0, 1.0, 1, 9))
        for k in range(10 if s < seconds else 0):
            out.append(CanFrame(mono + k * 100_000, 0x1D0, False, False, False, 8, bytes(8)))
    return out


def event(t_s: float, code: int) -> Event:
    return Event(round(t_s * 1e6), code, 0)


def segment(records: list[Record], boot: int = 1, seq: int = 0, device: str = "KEI-1") -> Segment:
    header = SegmentHeader(0, 1, 0, boot, seq, device, (0, 1, 0))
    anchor = ClockAnchor(0, round(START * 1e6), "gps")
    recs = [header, anchor, *sorted(records, key=lambda r: r.mono_us)]
    return Segment(header, recs, name=f"{boot:04d}{seq:04d}.KLG")


def imported(tmp_path, *segments: Segment) -> list[dict]:
    db = store.open_db(tmp_path / "k.db")
    for seg in segments:
        sha = hashlib.sha256(repr(seg.records).encode()).hexdigest()
        ingest._store_segment(db, seg, sha, seg.name, None)
    return list(db.query("select * from trips order by id"))


def test_ignition_off_ends_a_trip(tmp_path):
    seg = segment([*drive(0, 60), event(60.5, IGNITION_OFF), *drive(120, 30)])
    first, second = imported(tmp_path, seg)
    assert (first["ended_by"], second["ended_by"]) == ("ignition_off", "log_end")
    assert (first["start"], first["end"]) == (START, START + 60.5)
    # 61 fixes and 600 frames in the first drive; 31 and 300 in the second.
    assert (first["gps_fixes"], first["frames"], second["gps_fixes"], second["frames"]) == (
        61, 600, 31, 300,
    )  # fmt: skip
    # 60 s at 10 m/s due north.
    assert first["distance_m"] == pytest.approx(600.0, abs=0.01)


@pytest.mark.parametrize(("pause_s", "trips"), [(299, 1), (301, 2)])
def test_a_silence_over_five_minutes_ends_a_trip(tmp_path, pause_s, trips):
    seg = segment([*drive(0, 10), *drive(10 + pause_s, 10)])
    assert len(imported(tmp_path, seg)) == trips


def test_a_trip_spans_segments_and_their_import_order_does_not_matter(tmp_path):
    a = segment(drive(0, 30), seq=0)
    b = segment([*drive(30.1, 30), event(61, SHUTDOWN)], seq=1)
    (tmp_path / "ab").mkdir()
    (tmp_path / "ba").mkdir()
    ab = imported(tmp_path / "ab", a, b)
    ba = imported(tmp_path / "ba", b, a)
    assert len(ab) == 1 and ab == ba
    [trip] = ab
    assert (trip["segments"], trip["ended_by"], trip["gps_fixes"]) == (2, "shutdown", 62)
    # 60.1 s at 10 m/s: the step between the segments' fixes counts too.
    assert trip["distance_m"] == pytest.approx(601.0, abs=0.01)


def test_a_trip_keeps_its_id_when_earlier_or_later_logs_are_imported(tmp_path):
    late = segment(drive(3600, 10), boot=2, device="KEI-1")
    early = segment(drive(0, 10), boot=9, device="KEI-2")
    rows = imported(tmp_path, late, early)
    # Ids are given once, in the order trips appear; they are not renumbered by time.
    assert sorted((r["id"], r["device_id"], r["boot"]) for r in rows) == [
        (1, "KEI-1", 2),
        (2, "KEI-2", 9),
    ]


def test_a_trip_that_grows_by_a_later_segment_keeps_its_id(tmp_path):
    a = segment(drive(0, 30), seq=0)
    b = segment(drive(30.1, 30), seq=1)
    other = segment(drive(-7200, 10), boot=7)  # an earlier drive, imported in between
    (tmp_path / "1").mkdir()
    (tmp_path / "2").mkdir()
    [first] = imported(tmp_path / "1", a)
    rows = imported(tmp_path / "2", a, other, b)
    ids = {(r["boot"], r["segments"]): r["id"] for r in rows}
    assert first["id"] == 1
    assert ids == {(1, 2): 1, (7, 1): 2}


def test_standing_still_adds_no_distance(tmp_path):
    [trip] = imported(tmp_path, segment(drive(0, 60, mps=0.2)))
    assert trip["distance_m"] == 0.0


def test_an_event_alone_is_not_a_trip():
    spans = dbtrips.segment_spans(
        dbtrips.Fixes.empty().t_us, dbtrips.Fixes.empty(), [(5, "ignition_off")]
    )
    assert [(s.frames, s.gps_fixes, s.ends_trip) for s in spans] == [(0, 0, "ignition_off")]
