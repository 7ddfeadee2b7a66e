"""Decode again (issue 19, item 3): a database imported with no DBC or the wrong one is
rebuilt from its stored raw frames, equal to a fresh import with the right DBCs, in one
transaction that a failure or Ctrl-C rolls back."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from keilog import paths, store
from keilog.decode import dbc
from keilog.errors import StoreError
from keilog.fleet.segments import Anchor, Frame, encode_segment
from keilog.logformat.reader import CanFrame
from keilog.sim.scenario import resolve
from keilog.store.checks import save_check
from keilog.store.redecode import redecode

from tests import scenario_db
from tests.conftest import DATA
from tests.store import test_hostile_names as hostile

DBCS = [paths.keicar_dbc(), paths.dbc_dir() / "obd2.dbc"]
# A wrong DBC: the car's engine id under another name, with a fractional scale (stored
# raw), and an id the car never sends.
WRONG_KCD = """<NetworkDefinition xmlns="http://kayak.2codeornot2code.org/1.0">
<Bus name="b">
<Message id="0x0C8" name="NOT_THE_ENGINE" length="8">
  <Signal name="guess" offset="0" length="16"><Value slope="0.5" intercept="0.25"/></Signal>
</Message>
<Message id="0x555" name="ABSENT" length="8"><Signal name="x" offset="0" length="8"/></Message>
</Bus></NetworkDefinition>
"""


def _candump(path: Path) -> Path:
    """A candump log: the car's engine and speed frames, an OBD-II exchange, and two
    identifiers no DBC defines (one extended)."""
    lines = []
    for i in range(300):
        t = 1_780_000_000 + i / 20
        lines += [
            f"({t:.6f}) can0 0C8#{(0xA00F2832 + i).to_bytes(4, 'big').hex().upper()}01000A00",
            f"({t + 0.001:.6f}) can0 1D0#{(i * 37 % 65536).to_bytes(2, 'big').hex().upper()}"
            "00000000000000"[:12],
            f"({t + 0.002:.6f}) can0 123#01",
            f"({t + 0.003:.6f}) can0 18FEEF00#0102",
        ]
        if i % 50 == 0:
            lines += [f"({t + 0.004:.6f}) can0 7DF#02010D5555555555",
                      f"({t + 0.005:.6f}) can0 7E8#03410D2A55555555"]  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Four segments of the demo drive (florida_rural, its CAN frames as the logger
    writes them), a segment with input records and one with every record kind, and a
    candump log: both time bases (logger microseconds and a log's own timestamps)."""
    work = tmp_path_factory.mktemp("redecode_logs")
    recs, _ = scenario_db.records(resolve("florida_rural"))
    frames = [
        Frame(r.mono_us, r.arbitration_id, r.data)
        for r in recs
        if isinstance(r, CanFrame) and not r.is_extended_id
    ]
    half = len(frames) // 2
    out = []
    for boot in (7, 8):  # the drive twice: more frames than one read chunk (32,768)
        for seq, part in enumerate((frames[:half], frames[half:])):
            start = part[0].mono_us - 1000
            anchor = Anchor(start, 1_780_322_460_000_000 + start)
            out.append(work / f"{boot:04X}{seq:04X}.KLG")
            out[-1].write_bytes(encode_segment("KEI-REDO", boot, seq, start, [anchor, *part]))
    for name in ("inputs.klg", "segment_mixed.klg"):
        out.append(Path(shutil.copy(DATA / "logformat" / name, work / name)))
    out.append(_candump(work / "drive.log"))
    return out


def _import(db: Path, logs: list[Path], dbc_paths: list[Path]) -> list[store.SegmentImport]:
    can_db = dbc.load_databases(dbc_paths) if dbc_paths else None
    return store.import_files(db, logs, can_db)


def _decoded(db: Path) -> dict[str, object]:
    """Every decoded row as a reader sees it (msg_ views, row by row) and the signals
    table, by name."""
    conn = sqlite3.connect(db)
    views = [r[0] for r in conn.execute("select name from sqlite_master where type = 'view'")]
    out: dict[str, object] = {
        v: conn.execute(f"select * from {store.names.quote(v)} order by frame_id").fetchall()
        for v in sorted(views)
    }
    out["signals"] = conn.execute("select * from signals order by message, signal").fetchall()
    conn.close()
    return out


@pytest.fixture(scope="module")
def fresh(logs: list[Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    db = tmp_path_factory.mktemp("fresh") / "fresh.db"
    _import(db, logs, DBCS)
    return _decoded(db)


@pytest.mark.parametrize("first", ["no DBC", "wrong DBC"])
def test_redecode_equals_a_fresh_import_with_the_right_dbcs(
    first: str, logs: list[Path], fresh: dict[str, object], tmp_path: Path
) -> None:
    wrong = tmp_path / "wrong.kcd"
    wrong.write_text(WRONG_KCD, encoding="utf-8")
    db = tmp_path / "k.db"
    results = _import(db, logs, [] if first == "no DBC" else [wrong])
    can_frames = sum(r.frames for r in results)
    assert can_frames > 32_768  # more than one chunk of frames
    before = _decoded(db)
    assert set(before) != set(fresh)
    result = redecode(db, dbc.load_databases(DBCS))
    assert _decoded(db) == fresh
    assert result.frames == can_frames
    assert result.tables == {
        v: len(rows) for v, rows in fresh.items() if v != "signals" and "INPUT_" not in v
    }
    assert result.removed == ([] if first == "no DBC" else ["msg_NOT_THE_ENGINE"])
    # The candump log's two ids no DBC defines, and segment_mixed's unknown ones.
    assert result.unknown_ids["0x123"] == 300
    assert result.unknown_ids["0x18feef00x"] == 300
    assert result.decoded == sum(result.tables.values())


def test_a_damaged_frame_block_leaves_the_old_decoded_tables(logs, tmp_path):
    """A real bad input mid-way (the stored bytes of the last frame block, damaged)
    fails the redecode after earlier blocks were decoded: nothing of it stays."""
    db = tmp_path / "k.db"
    _import(db, logs, [DBCS[1]])
    conn = sqlite3.connect(db)
    last, blob = conn.execute("select id, data from frame_blocks order by id desc").fetchone()
    with conn:  # the zlib stream cut short, as a torn write would leave it
        conn.execute("update frame_blocks set data = ? where id = ?", [blob[:-9], last])
    conn.close()
    before = _decoded(db)
    done: list[int] = []
    with pytest.raises(
        StoreError,
        match=r"frame block of segment \d+ .* is damaged.*\(the decoded tables are as they were\)",
    ):
        redecode(db, dbc.load_databases(DBCS), lambda n, _total: done.append(n))
    assert done  # frames before the damaged block were decoded and written ...
    assert _decoded(db) == before  # ... and rolled back with it


def test_ctrl_c_leaves_the_old_decoded_tables(logs, tmp_path):
    db = tmp_path / "k.db"
    _import(db, logs, [])
    before = _decoded(db)
    seen = []

    def interrupt(done: int, total: int) -> None:
        seen.append(done)
        if len(seen) == 2:  # after two runs of frames were decoded and written
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        redecode(db, dbc.load_databases(DBCS), interrupt)
    assert _decoded(db) == before
    assert 0 < seen[-1] < redecode(db, dbc.load_databases(DBCS)).frames  # and it can finish


def _scaled_dbc(path: Path, scale: str) -> Path:
    path.write_text(
        WRONG_KCD.replace('slope="0.5"', f'slope="{scale}"').replace("NOT_THE_ENGINE", "ENGINE"),
        encoding="utf-8",
    )
    return path


def test_a_new_scale_is_refused_by_import_and_taken_by_redecode(logs, tmp_path):
    """The import's error for a changed scale names keilog redecode; after it, the new
    DBC imports further logs."""
    db = tmp_path / "k.db"
    old, new = _scaled_dbc(tmp_path / "old.kcd", "0.5"), _scaled_dbc(tmp_path / "new.kcd", "0.2")
    _import(db, logs[:1], [old])
    with pytest.raises(StoreError, match=r"keilog redecode --db FILE --dbc NEW\.dbc"):
        _import(db, logs[6:], [new])
    redecode(db, dbc.load_databases([new]))
    [result] = _import(db, logs[6:], [new])
    assert result.status == "imported" and result.decoded == 300
    fresh = tmp_path / "fresh.db"
    _import(fresh, [logs[0], logs[6]], [new])
    assert _decoded(db) == _decoded(fresh)
    conn = sqlite3.connect(db)
    assert conn.execute("select scale, raw from signals where message = 'ENGINE'").fetchall() == [
        (0.2, 1)
    ]
    conn.close()


def test_a_missing_database_is_one_clear_line(tmp_path):
    with pytest.raises(StoreError, match=r"no such database"):
        redecode(tmp_path / "none.db", dbc.load_databases(DBCS))
    assert not (tmp_path / "none.db").exists()


def test_stored_checks_are_counted_as_possibly_stale(logs, tmp_path):
    db = tmp_path / "k.db"
    _import(db, logs[6:], [])
    save_check(db, {"state": "FL", "vehicle_class": "mini_truck", "trips": []})
    assert redecode(db, dbc.load_databases(DBCS)).checks == 1


def test_hostile_dbc_names_stay_data(tmp_path):
    """The names of tests/store/test_hostile_names.py (SQL in a message name, names
    equal but for case, signals named like the lead columns): decoded again they equal
    a fresh import, and decoding again with another DBC drops their tables by name."""
    kcd = tmp_path / "hostile.kcd"
    kcd.write_text(hostile.KCD, encoding="utf-8")
    log = tmp_path / "drive.log"
    log.write_text(
        "".join(
            f"({1.0 + i / 100 + k / 1000:.6f}) can0 {0x100 + k:03X}#{bytes([i + k] * 8).hex()}\n"
            for i in range(hostile.N)
            for k in range(4)
        )
    )
    _import(tmp_path / "fresh.db", [log], [kcd])
    db = tmp_path / "k.db"
    _import(db, [log], [])
    result = redecode(db, dbc.load_databases([kcd]))
    assert _decoded(db) == _decoded(tmp_path / "fresh.db")
    assert sorted(result.tables) == sorted(hostile.TABLES.values())
    assert len(result.renamed) == 8
    result = redecode(db, dbc.load_databases(DBCS))
    assert result.tables == {} and result.removed == sorted(hostile.TABLES.values())
    conn = sqlite3.connect(db)
    names = [r[0] for r in conn.execute("select name from sqlite_master")]
    assert not [n for n in names if n.startswith(("msg_", "sig_"))]
    assert conn.execute("select count(*) from signals").fetchone() == (0,)
    assert "INJECTED" not in repr(names)
