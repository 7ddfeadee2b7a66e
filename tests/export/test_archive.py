"""The analytics archive (``keilog export --to DIR.parquet``), read back with DuckDB and pyarrow.

The database is the built-in demo scenario (tests/conftest.py ``florida``): one trip of
device KEI-TEST on 2026-06-01, decoded with dbc/keicar.dbc."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner
from keilog import store
from keilog.cli import cli
from keilog.export import ExportError, export
from keilog.export.archive import MANIFEST
from keilog.store.frames import temp_frames

pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow (keilog[parquet]) is missing")
duckdb = pytest.importorskip("duckdb", reason="duckdb (keilog[fleet]) is missing")

PART = "device=KEI-TEST/date=2026-06-01"  # tests/scenario_db.py: DEVICE; the scenario's day


@pytest.fixture(scope="module")
def archived(florida, tmp_path_factory):
    out = tmp_path_factory.mktemp("archive") / "drive.parquet"
    return export(florida.db, out), out


def rows(db, sql: str) -> list[tuple]:
    conn = store.open_db(db)
    temp_frames(conn.conn)  # schema 3 packs raw frames: unpack them for plain SQL
    return list(conn.execute(sql).fetchall())


def query(sql: str) -> list[tuple]:
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    return con.execute(sql).fetchall()


def test_every_table_is_partitioned_by_device_and_date(archived):
    result, out = archived
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*.parquet"))
    tables = sorted({"frames", "gps_fixes", "trips", *(t for t in result.tables if "msg_" in t)})
    assert files == [f"{t}/{PART}/trip-1.parquet" for t in tables]
    assert json.loads((out / MANIFEST).read_text())["tables"] == result.tables


def test_duckdb_reads_back_as_many_rows_as_the_database_holds(archived, florida):
    result, out = archived
    (frames,) = rows(florida.db, "select count(*) from frames")[0]
    assert result.frames == frames > 0
    assert query(f"select count(*) from '{out}/frames/*/*/*.parquet'") == [(frames,)]
    for table, n in result.tables.items():
        if table.startswith("msg_"):
            (stored,) = rows(florida.db, f"select count(*) from {table}")[0]
            assert n == stored
            assert query(f"select count(*) from '{out}/{table}/**/*.parquet'") == [(stored,)]


def test_frames_have_compact_types_and_the_stored_bytes(archived, florida):
    _, out = archived
    con = duckdb.connect()
    types = dict(
        con.execute(f"select column_name, column_type from (describe '{out}/frames/*/*/*.parquet')")
        .fetchall()
    )  # fmt: skip
    assert types["time"] == "TIMESTAMP WITH TIME ZONE"  # int64 microseconds, UTC
    assert (types["arbitration_id"], types["dlc"], types["data"]) == (
        "UINTEGER",
        "UTINYINT",
        "BLOB",
    )
    assert (types["device"], types["date"]) == ("VARCHAR", "DATE")  # from the partitions
    stored = rows(
        florida.db,
        "select cast(round(timestamp * 1e6) as integer), arbitration_id, data from frames "
        "order by arbitration_id, timestamp",
    )
    back = con.execute(
        f"select epoch_us(time), arbitration_id, data from '{out}/frames/*/*/*.parquet' "
        "order by arbitration_id, time"
    ).fetchall()
    assert back == [(t, i, bytes(d)) for t, i, d in stored]


def test_signals_are_typed_columns_with_their_units(archived, florida):
    _, out = archived
    path = next((out / "msg_VEHICLE_SPEED").rglob("*.parquet"))
    schema = pq.read_schema(path)
    # dbc/keicar.dbc: VEHICLE_SPEED scaled 0.01 km/h (float), COUNTER a raw 4-bit integer.
    assert str(schema.field("VEHICLE_SPEED").type) == "double"
    assert str(schema.field("COUNTER").type) == "int64"
    assert schema.field("VEHICLE_SPEED").metadata[b"unit"] == b"km/h"
    kv = dict(query(f"select decode(key), decode(value) from parquet_kv_metadata('{path}')"))
    assert json.loads(kv["keilog.units"])["VEHICLE_SPEED"] == "km/h"
    top = query(f"select max(VEHICLE_SPEED) from '{out}/msg_VEHICLE_SPEED/*/*/*.parquet'")
    assert top == rows(florida.db, "select max(VEHICLE_SPEED) from msg_VEHICLE_SPEED")


def test_the_owners_questions_in_sql(archived, florida):
    """The queries of docs/archive.md give what the database says."""
    _, out = archived
    (top_kmh,) = rows(florida.db, "select max(VEHICLE_SPEED) from msg_VEHICLE_SPEED")[0]
    top = query(
        "select device, date, max(VEHICLE_SPEED) / 1.609344 from "
        f"read_parquet('{out}/msg_VEHICLE_SPEED/*/*/*.parquet', hive_partitioning = true) "
        "group by all"
    )
    assert top == [("KEI-TEST", __import__("datetime").date(2026, 6, 1), top_kmh / 1.609344)]
    (n_464,) = rows(florida.db, "select count(*) from frames where arbitration_id = 464")[0]
    trip_frames = query(
        f"select count(*) from '{out}/frames/*/*/*.parquet' where trip = 1 and arbitration_id = 464"
    )
    assert trip_frames == [(n_464,)]


def test_an_existing_archive_is_replaced_only_with_force(archived, florida, tmp_path):
    out = tmp_path / "a.parquet"
    first = export(florida.db, out)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with pytest.raises(ExportError, match=r"exists; give --force to replace it"):
        export(florida.db, out)
    again = export(florida.db, out, force=True)
    assert again.tables == first.tables
    # The same database gives the same bytes: exporting again changes nothing.
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.parquet"]  # no temporary left


def test_force_does_not_replace_a_folder_that_is_not_an_archive(florida, tmp_path):
    out = tmp_path / "mine.parquet"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(ExportError, match="is not a keilog archive"):
        export(florida.db, out, force=True)
    assert (out / "notes.txt").read_text() == "keep me"


def test_a_failed_export_leaves_nothing(florida, tmp_path):
    out = tmp_path / "a.parquet"
    with pytest.raises(ExportError, match="no trip 9"):
        export(florida.db, out, trip=9)
    assert os.listdir(tmp_path) == []


def test_cli_writes_the_archive_and_says_what_it_wrote(florida, tmp_path):
    out = tmp_path / "a.parquet"
    r = CliRunner().invoke(cli, ["export", "--db", str(florida.db), "--to", str(out), "--json"])
    assert r.exit_code == 0, r.output
    made = json.loads(r.stdout)
    assert made["bytes"] == sum(p.stat().st_size for p in out.rglob("*.parquet"))
    again = CliRunner().invoke(cli, ["export", "--db", str(florida.db), "--to", str(out)])
    assert again.exit_code == 1 and "give --force to replace it" in again.output
    forced = CliRunner().invoke(
        cli, ["export", "--db", str(florida.db), "--to", str(out), "--force"]
    )
    assert forced.exit_code == 0, forced.output
