"""keilog frames: the raw frames of an id between two times, one indexed query, exactly
the frames imported."""

from __future__ import annotations

import io
import json
import sqlite3

import can
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from keilog import store
from keilog.cli import cli
from keilog.errors import StoreError
from keilog.store.framequery import (
    FRAMES_BETWEEN_SQL,
    FRAMES_OF_ID_SQL,
    parse_id,
    parse_utc,
    print_frames,
    register_functions,
)
from keilog.store.frames import FrameQuery, block_sql

T0 = 1_780_322_400.0  # 2026-06-01T14:00:00Z
IDS = (0x0C8, 0x1D0, 0x3E8, 0x18FEF100)


def bus_messages() -> list[can.Message]:
    """Ten minutes of a bus: four ids (one extended) at different rates, so that an
    id's frames fill many blocks (60 s each) and windows cut through blocks."""
    out = []
    for k, ident in enumerate(IDS):
        period = (0.01, 0.02, 0.1, 1.0)[k]
        for i in range(int(600 / period)):
            t = round(T0 + i * period + k * 1e-4, 6)
            data = bytes([(i >> 8) & 255, i & 255, k, 0x55, i % 7, 0, 0, k * 3][: 8 - k])
            out.append(
                can.Message(timestamp=t, arbitration_id=ident, is_extended_id=ident > 0x7FF,
                            data=data, channel="can0")
            )  # fmt: skip
    return sorted(out, key=lambda m: m.timestamp)


def candump_text(messages: list[can.Message]) -> str:
    out = io.StringIO()
    writer = can.CanutilsLogWriter(out, channel="can0")
    for m in messages:
        writer.on_message_received(m)
    return out.getvalue()


@pytest.fixture(scope="module")
def bus(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("frames")
    messages = bus_messages()
    log = tmp / "bus.log"
    log.write_text(candump_text(messages))
    db = tmp / "k.db"
    store.import_files(db, [log])
    return db, messages


def test_the_block_query_of_an_id_and_window_searches_the_index(bus):
    db, _ = bus
    conn = sqlite3.connect(db)
    sql, args = block_sql(FrameQuery(arbitration_ids=[0x1D0], start=T0 + 100, end=T0 + 160))
    plan = [row[-1] for row in conn.execute(f"explain query plan {sql}", args)]
    assert plan[0].startswith("SEARCH frame_blocks USING INDEX frame_blocks_id_time")
    assert "(arbitration_id=? AND t_start>? AND t_start<?)" in plan[0]
    assert not any(p.startswith("SCAN frame_blocks") for p in plan)


def test_a_window_of_every_id_searches_the_index_too(bus):
    db, _ = bus
    conn = sqlite3.connect(db)
    sql, args = block_sql(FrameQuery(start=T0 + 100, end=T0 + 160))
    plan = [row[-1] for row in conn.execute(f"explain query plan {sql}", args)]
    assert plan[0].startswith("SEARCH frame_blocks USING INDEX frame_blocks_id_time")
    assert not any("SCAN frame_blocks" in p or "SCAN b" in p for p in plan)


@pytest.mark.parametrize(
    ("ids", "start", "end"),
    [
        ([0x1D0], T0 + 100.005, T0 + 160.005),  # one id, a window cutting its blocks
        ([0x18FEF100, 0x0C8], T0 + 59.5, T0 + 61.5),  # two ids, one extended
        (None, T0 + 299.99, T0 + 300.2),  # every id
        ([0x3E8], None, T0 + 5),  # open start
        ([0x7FF], T0, T0 + 600),  # an id that never occurred
    ],
)
def test_the_output_is_the_frames_imported(bus, ids, start, end):
    db, messages = bus
    expected = [
        m for m in messages
        if (ids is None or m.arbitration_id in ids)
        and (start is None or m.timestamp >= start) and (end is None or m.timestamp <= end)
    ]  # fmt: skip
    out = io.StringIO()
    assert print_frames(db, out, ids=ids, start=start, end=end) == len(expected)
    assert out.getvalue() == candump_text(expected)


def test_json_csv_and_nl_hold_the_same_frames(bus):
    db, messages = bus
    window = {"ids": [0x1D0], "start": T0 + 10, "end": T0 + 11}
    expected = [
        (m.timestamp, m.arbitration_id, m.data.hex())
        for m in messages
        if m.arbitration_id == 0x1D0 and T0 + 10 <= m.timestamp <= T0 + 11
    ]
    texts = {}
    for fmt in ("json", "nl", "csv"):
        out = io.StringIO()
        print_frames(db, out, fmt, **window)  # type: ignore[arg-type]
        texts[fmt] = out.getvalue()
    as_json = json.loads(texts["json"])
    assert [(r["timestamp"], r["arbitration_id"], r["data"]) for r in as_json] == expected
    assert [json.loads(line) for line in texts["nl"].splitlines()] == as_json
    header, *rows = texts["csv"].splitlines()
    assert header.split(",") == list(as_json[0])
    assert [row.split(",")[-1] for row in rows] == [e[2] for e in expected]


def test_the_command_prints_an_id_in_a_window_given_in_iso_8601(bus):
    db, messages = bus
    r = CliRunner().invoke(
        cli,
        ["frames", "--db", str(db), "--id", "0x1D0", "--from", "2026-06-01T23:01:00+09:00",
         "--until", "1780322461"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    expected = [
        m for m in messages if m.arbitration_id == 0x1D0 and T0 + 60 <= m.timestamp <= T0 + 61
    ]
    assert r.stdout == candump_text(expected)
    assert r.stderr == f"{len(expected)} frame(s)\n" and len(expected) == 50


def test_the_command_reads_a_trip_and_says_what_is_wrong_in_one_line(bus, tmp_path):
    db, messages = bus
    r = CliRunner().invoke(cli, ["frames", "--db", str(db), "--trip", "1", "--id", "0x3E8"])
    assert r.exit_code == 0, r.output
    assert r.stdout == candump_text([m for m in messages if m.arbitration_id == 0x3E8])
    r = CliRunner().invoke(cli, ["frames", "--db", str(db), "--trip", "2"])
    assert (r.exit_code, r.stderr) == (
        1, "Error: no trip 2; the database has trips 1..1 (list them with keilog trips --db FILE)\n"
    )  # fmt: skip
    r = CliRunner().invoke(cli, ["frames", "--db", str(tmp_path / "none.db")])
    assert r.exit_code == 1
    assert r.stderr == (
        f"Error: {tmp_path / 'none.db'}: no such database; create it with keilog import\n"
    )
    assert not (tmp_path / "none.db").exists()


def test_sql_functions_unpack_blocks_for_the_canned_queries(bus):
    db, messages = bus
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    register_functions(conn)
    conn.row_factory = sqlite3.Row
    window = {"start": "2026-06-01T14:02:00", "end": "2026-06-01T14:02:01"}
    rows = conn.execute(FRAMES_OF_ID_SQL, {"id": "0x1D0", **window}).fetchall()
    expected = [
        m for m in messages if m.arbitration_id == 0x1D0 and T0 + 120 <= m.timestamp <= T0 + 121
    ]
    assert [(r["timestamp"], r["data"]) for r in rows] == [
        (m.timestamp, m.data.hex()) for m in expected
    ]
    assert rows[0]["utc"] == "2026-06-01 14:02:00.000"
    every = conn.execute(FRAMES_BETWEEN_SQL, window).fetchall()
    assert [r["timestamp"] for r in every] == [
        m.timestamp for m in messages if T0 + 120 <= m.timestamp <= T0 + 121
    ]
    for sql in (FRAMES_OF_ID_SQL, FRAMES_BETWEEN_SQL):
        plan = [r[-1] for r in conn.execute(f"explain query plan {sql}", {"id": "464", **window})]
        assert any(p.startswith("SEARCH b USING INDEX frame_blocks_id_time") for p in plan), plan
    with pytest.raises(sqlite3.OperationalError, match="user-defined function raised exception"):
        conn.execute(FRAMES_OF_ID_SQL, {"id": "zz", **window}).fetchall()


def test_ids_and_times_read_as_people_type_them():
    assert parse_id("0x1D0") == parse_id("464") == 0x1D0
    assert parse_utc("2026-06-01T14:00:00") == parse_utc("2026-06-01 14:00:00Z") == T0
    assert parse_utc("2026-06-01T23:00:00+09:00") == parse_utc(str(T0)) == T0


@given(st.text(max_size=40))
def test_any_typed_text_is_an_id_and_a_time_or_one_error(text):
    for parse in (parse_id, parse_utc):
        try:
            parse(text)
        except StoreError as exc:
            assert "\n" not in str(exc)
