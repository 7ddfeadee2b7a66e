"""DBC names are data, never SQL (issue 14).

One KCD holds every kind of name that broke the store: SQL in a message name, message
names equal but for case, signals named like the lead columns (``frame_id``, ``boot``,
``mono_us``, ``timestamp``, ``device_id``), signals equal but for case, quotes,
brackets, ``/`` and control characters. Each is fed through import, decode, every
export format, the serve metadata and the report's signal lookup.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import cantools
import pyarrow.parquet as pq
import pytest
import sqlite_utils
from click.testing import CliRunner
from keilog import store
from keilog.cli.main import cli
from keilog.decode import dbc
from keilog.export.run import FORMATS, MAP_SUFFIXES, export
from keilog.report import serve as srv
from keilog.report import write_report
from keilog.store.frames import temp_frames
from keilog.store.names import quote, stored_names

from tests.report.htmlquery import Page

INJECTION = "X] ([frame_id]) select 424242,0,'INJECTED',0,0,?384 --"
KCD = f"""<NetworkDefinition xmlns="http://kayak.2codeornot2code.org/1.0">
<Bus name="b">
<Message id="0x100" name="{INJECTION.replace("'", "&apos;")}" length="8">
  <Signal name="a" offset="0" length="8"/></Message>
<Message id="0x101" name="Engine" length="8">
  <Signal name="rpm" offset="0" length="16"/><Signal name="RPM" offset="16" length="16"/></Message>
<Message id="0x102" name="ENGINE" length="8">
  <Signal name="boot" offset="0" length="8"/><Signal name="frame_id" offset="8" length="8"/>
  <Signal name="mono_us" offset="16" length="8"/><Signal name="timestamp" offset="24" length="8"/>
  <Signal name="device_id" offset="32" length="8"/>
  <Signal name="q&quot;uote]" offset="40" length="8"/>
  <Signal name="tab&#9;x" offset="48" length="8"/><Signal name="Boot_2" offset="56" length="8"/>
</Message>
<Message id="0x103" name="a/b" length="8"><Signal name="s/t" offset="0" length="8"/></Message>
</Bus></NetworkDefinition>
"""
N = 64  # frames per message (the "64 decoded")

# The rule (docs/database.md, "Names"): collisions get _2, _3, ... case-insensitively.
TABLES = {
    INJECTION: f"msg_{INJECTION}",
    "Engine": "msg_Engine",
    "ENGINE": "msg_ENGINE_2",
    "a/b": "msg_a/b",
}
ENGINE_COLUMNS = [
    "frame_id", "timestamp", "device_id", "boot", "mono_us",
    "boot_2", "frame_id_2", "mono_us_2", "timestamp_2", "device_id_2", 'q"uote]', "tab\tx",
    "Boot_2_2",
]  # fmt: skip


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path, object]:
    work = tmp_path_factory.mktemp("names")
    kcd = work / "hostile.kcd"
    kcd.write_text(KCD, encoding="utf-8")
    log = work / "drive.log"
    lines = [
        f"({1.0 + i / 100 + k / 1000:.6f}) can0 {0x100 + k:03X}#{bytes([i + k] * 8).hex().upper()}"
        for i in range(N)
        for k in range(4)
    ]
    log.write_text("\n".join(lines) + "\n")
    can_db = dbc.load_databases([kcd])
    db_path = work / "k.db"
    results = store.import_files(db_path, [log], can_db)
    return kcd, log, db_path, (can_db, results[0])


def test_the_renaming_rule() -> None:
    can_db = cantools.database.load_string(KCD, database_format="kcd")
    names = stored_names(can_db.messages)
    assert {m: names.table(m) for m in TABLES} == TABLES
    engine = can_db.get_message_by_name("ENGINE").signals
    assert [names.column("ENGINE", s.name) for s in engine] == ENGINE_COLUMNS[5:]
    assert [names.column("Engine", s) for s in ("rpm", "RPM")] == ["rpm", "RPM_2"]


def test_every_name_is_stored_under_its_rule_and_nothing_is_forged(hostile) -> None:
    _kcd, _log, db_path, (can_db, result) = hostile
    assert result.decoded == 4 * N
    db = sqlite_utils.Database(db_path)
    msg_tables = sorted(t for t in db.view_names() if t.startswith("msg_"))
    assert msg_tables == sorted(TABLES.values())
    assert [c.name for c in db[TABLES["ENGINE"]].columns] == ENGINE_COLUMNS
    assert [c.name for c in db["msg_Engine"].columns][5:] == ["rpm", "RPM_2"]
    temp_frames(db.conn)
    frame_ids = {r[0] for r in db.execute("select id from frames")}
    for message, table in TABLES.items():
        rows = db.execute(f"select * from {quote(table)} order by frame_id").fetchall()
        assert len(rows) == N, table
        assert {r[0] for r in rows} <= frame_ids  # every row points at its own frame
        for row in rows:
            frame = db.execute("select data from frames where id = ?", [row[0]]).fetchone()[0]
            expected = can_db.decode_message(message, frame, decode_choices=False)
            assert list(row[5:]) == list(expected.values())
    for table in db.table_names():  # (sqlite3's own iterdump fails on such names)
        for row in db.execute(f"select * from {quote(table)}"):
            assert "INJECTED" not in repr(row).replace(INJECTION, ""), table
            assert 424242 not in row, table
    # Every rename is reported, once, naming message, signal and where it went.
    assert len(result.renamed) == 8
    assert (
        "signal 'frame_id' of message 'ENGINE' is stored in column 'frame_id_2' of "
        "'msg_ENGINE_2' (its name equals a column every message table has)"
    ) in result.renamed
    assert any(
        r.startswith("message 'ENGINE' is stored in table 'msg_ENGINE_2'") for r in result.renamed
    )
    # The signals table lists the names as stored: msg_<message>.<signal> finds the data.
    for message, signal in db.execute("select message, signal from signals"):
        assert signal in db[f"msg_{message}"].columns_dict


def test_import_cli_says_what_was_renamed(hostile, tmp_path: Path) -> None:
    kcd, log, _db, _ = hostile
    args = ["import", str(log), "--db", str(tmp_path / "k.db"), "--dbc", str(kcd)]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    assert f"{log.name}: imported, {4 * N} frames, {4 * N} decoded" in r.output
    assert "is stored in column 'RPM_2' of 'msg_Engine'" in r.output


def test_decode_shows_every_signal(hostile) -> None:
    kcd, log, _db, _ = hostile
    r = CliRunner().invoke(cli, ["decode", str(log), "--dbc", str(kcd), "--nl", "-q"])
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in r.output.splitlines()]
    assert len(rows) == 4 * N
    names = {row["message"] for row in rows}
    assert names == set(TABLES)


@pytest.mark.parametrize("suffix", [s for s in FORMATS if s not in MAP_SUFFIXES])
def test_every_export_format_writes_the_hostile_database(hostile, tmp_path, suffix) -> None:
    _kcd, _log, db_path, _ = hostile
    out = tmp_path / f"x{suffix}"
    result = export(db_path, out)
    assert result.frames == 4 * N
    if suffix == ".parquet":  # the archive: a folder per table, partitions inside
        folders = sorted(p.name for p in out.iterdir() if p.is_dir())
        assert "msg_a_b" in folders  # '/' cannot be in a file name
        assert TABLES[INJECTION] in folders
        table = pq.read_table(out / "msg_Engine", partitioning=None)
        assert table.column_names == [
            "time",
            "trip",
            "RPM_2",
            "rpm",
        ]  # by name, as signals lists them
        assert table.num_rows == N
        assert all(p.relative_to(out).parts[0] in folders for p in out.rglob("*.parquet"))


def test_serve_metadata_and_report_lookups_take_every_name(hostile) -> None:
    _kcd, _log, db_path, _ = hostile
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    meta = srv.metadata(sqlite_utils.Database(conn), "k")
    tables = meta["databases"]["k"]["tables"]
    for table in TABLES.values():
        assert table in tables
    assert "tab\tx" in tables["msg_ENGINE_2"]["columns"]


def test_the_report_plots_a_signal_of_a_renamed_column(hostile, tmp_path) -> None:
    """The report finds engine speed in the signals table by name (RPM in any case):
    msg_Engine's rpm is one; its RPM, stored as RPM_2, is not taken for it."""
    _kcd, _log, db_path, _ = hostile
    out = tmp_path / "r.html"
    write_report(db_path, out)
    page = Page(out.read_text(encoding="utf-8"))
    labels = [e.all_text() for e in page.find("text", "panel-label")]
    assert labels == ["Engine speed (msg_Engine.rpm)"]


def test_signals_named_true_or_false_get_a_column_the_view_can_show(tmp_path) -> None:
    # SQLite 3.40 names a view column "FALSE" or "TRUE" column1, however it is quoted.
    can_db = cantools.database.load_string(
        'VERSION ""\nBU_: X\nBO_ 256 FLAGS: 2 X\n SG_ FALSE : 0|8@1+ (1,0) [0|255] "" X\n'
        ' SG_ true : 8|8@1+ (1,0) [0|255] "" X\n',
        database_format="dbc",
    )
    names = stored_names(can_db.messages)
    assert [names.column("FLAGS", s) for s in ("FALSE", "true")] == ["FALSE_2", "true_2"]
    conn = sqlite3.connect(":memory:")
    conn.execute(f"create table t ({quote('FALSE_2')})")
    conn.execute(f"create view v as select {quote('FALSE_2')} as {quote('FALSE_2')} from t")
    assert [row[1] for row in conn.execute("pragma table_info(v)")] == ["FALSE_2"]
