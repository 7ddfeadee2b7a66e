"""No frame is stored twice (issue 14): a prefix, then the whole file, stores each frame
once, for keilog segments and every python-can format (docs/database.md, "No frame
twice")."""

from __future__ import annotations

import struct
from pathlib import Path

import can
import pytest
import sqlite_utils
from keilog import store
from keilog.store.frames import frame_count, temp_frames
from keilog.store.overlap import OverlapError

GOLDEN = Path(__file__).parents[1] / "data" / "logformat"
N = 500
FORMATS = [".log", ".asc", ".blf", ".trc", ".csv", ".mf4", ".log.gz"]


def messages(n: int, start: int = 0) -> list[can.Message]:
    return [
        can.Message(
            timestamp=1_700_000_000.0 + i / 100,
            arbitration_id=0x100 + i % 7,
            data=struct.pack("<II", i, i * 3),
        )
        for i in range(start, n)
    ]


def write(path: Path, msgs: list[can.Message]) -> Path:
    with can.Logger(str(path)) as w:
        for m in msgs:
            w.on_message_received(m)
    return path


def stored(db_path: Path) -> list[tuple[int, bytes]]:
    db = sqlite_utils.Database(db_path)
    temp_frames(db.conn)
    return [
        (a, bytes(d)) for a, d in db.execute("select arbitration_id, data from frames order by id")
    ]


def expected(n: int) -> list[tuple[int, bytes]]:
    return [(m.arbitration_id, bytes(m.data)) for m in messages(n)]


@pytest.mark.parametrize("suffix", FORMATS)
def test_a_prefix_then_the_whole_then_more_stores_every_frame_once(tmp_path, suffix) -> None:
    db = tmp_path / "k.db"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "c").mkdir()
    prefix = write(tmp_path / "a" / f"drive{suffix}", messages(N // 3))
    whole = write(tmp_path / "b" / f"drive{suffix}", messages(N))
    more = write(tmp_path / "c" / f"drive{suffix}", messages(N + 1))  # "candump plus one line"
    first = store.import_files(db, [prefix])[0]
    assert (first.status, first.frames) == ("imported", N // 3)
    second = store.import_files(db, [whole])[0]
    assert (second.status, second.frames, second.already_stored) == ("imported", N - N // 3, N // 3)
    assert second.continues == [prefix.name]
    third = store.import_files(db, [more])[0]
    assert (third.frames, third.already_stored) == (1, N)
    assert stored(db) == expected(N + 1)
    # The whole again, or a prefix after the whole: nothing new, nothing stored.
    again = store.import_files(db, [write(tmp_path / f"again{suffix}", messages(N // 2))])[0]
    assert again.status == "already imported"
    assert stored(db) == expected(N + 1)


def test_a_truncated_blf_then_the_whole_one(tmp_path) -> None:
    db = tmp_path / "k.db"
    whole = write(tmp_path / "whole.blf", messages(3000))
    cut = tmp_path / "cut.blf"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    part = store.import_files(db, [cut], allow_damage=True)[0]
    assert 0 < part.frames < 3000 and part.damage
    rest = store.import_files(db, [whole])[0]
    assert rest.frames + part.frames == 3000
    assert stored(db) == expected(3000)


def test_a_log_that_starts_like_a_stored_one_but_differs_is_refused(tmp_path) -> None:
    db = tmp_path / "k.db"
    write(tmp_path / "one.log", messages(100))
    other = messages(200)
    other[150] = can.Message(timestamp=other[99].timestamp, arbitration_id=0x7FF, data=b"x")
    other[99] = can.Message(timestamp=other[99].timestamp, arbitration_id=0x7FF, data=b"x")
    write(tmp_path / "two.log", other)
    store.import_files(db, [tmp_path / "one.log"])
    with pytest.raises(
        OverlapError,
        match=r"two\.log: starts like one\.log, already stored, "
        r"but differs from it at frame 99: refused",
    ):
        store.import_files(db, [tmp_path / "two.log"])
    assert stored(db) == expected(100)


def test_logs_that_share_no_first_frame_are_separate(tmp_path) -> None:
    """Two recordings of the same time (two buses) are not overlaps."""
    db = tmp_path / "k.db"
    write(tmp_path / "one.log", messages(100))
    write(tmp_path / "two.log", messages(100, start=1))
    results = store.import_files(db, [tmp_path / "one.log", tmp_path / "two.log"])
    assert [r.already_stored for r in results] == [0, 0]
    assert len(stored(db)) == 199


def test_a_segment_copied_mid_write_then_complete(tmp_path) -> None:
    """segment_mixed.klg, a golden vector of docs/log-format.md: its first block holds the
    header, a clock anchor and an event; the second 6 frames; the third 2 GPS fixes and
    3 events. A copy taken after each block, then the whole, stores each record once."""
    data = (GOLDEN / "segment_mixed.klg").read_bytes()
    db = tmp_path / "k.db"
    for blocks in (1, 2, 3):
        copy = tmp_path / f"copy{blocks}" / "00030003.KLG"
        copy.parent.mkdir()
        copy.write_bytes(data[: blocks * 512])
        store.import_files(db, [copy])
    d = sqlite_utils.Database(db)
    temp_frames(d.conn)
    counts = {t: d[t].count for t in ("frames", "gps_fixes", "events", "clock_anchors")}
    assert counts == {"frames": 6, "gps_fixes": 2, "events": 4, "clock_anchors": 1}
    mixed = store.import_files(tmp_path / "whole.db", [GOLDEN / "segment_mixed.klg"])[0]
    whole = sqlite_utils.Database(tmp_path / "whole.db")
    temp_frames(whole.conn)
    for table in ("frames", "gps_fixes", "events"):
        cols = {"frames": "mono_us, arbitration_id, data", "gps_fixes": "mono_us, lat, lon",
                "events": "mono_us, kind, value"}[table]  # fmt: skip
        q = f"select {cols} from {table} order by mono_us, id"
        assert d.execute(q).fetchall() == whole.execute(q).fetchall(), table
    assert mixed.frames == 6
    # A shorter copy after the whole adds nothing.
    short = tmp_path / "late" / "00030003.KLG"
    short.parent.mkdir()
    short.write_bytes(data[:1024])
    assert store.import_files(db, [short])[0].status == "already imported"
    assert frame_count(d.conn) == 6


def test_logs_that_only_begin_alike_are_separate(tmp_path) -> None:
    """Relative timestamps from 0 and the same first message: not the same recording."""
    db = tmp_path / "k.db"
    one, two = messages(100), messages(101, start=1)
    two[0] = one[0]  # the same first frame; the rest differs (shifted by one)
    write(tmp_path / "one.log", one)
    write(tmp_path / "two.log", two)
    results = store.import_files(db, [tmp_path / "one.log", tmp_path / "two.log"])
    assert [r.already_stored for r in results] == [0, 0]
    assert len(stored(db)) == 200
