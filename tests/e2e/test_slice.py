"""The vertical slice: virtual bus -> bridge -> firmware (MicroPython) -> segments -> SQLite.

Frames are encoded by cantools from the simulated kei car's DBC, sent on a python-can
`virtual` bus (in-process, no network), forwarded into the FIFO that the real firmware
reads, logged into segments, and imported. Every frame sent must be in SQLite, in order,
with the values cantools encoded.
"""

from __future__ import annotations

import can
import pytest
from keilog import paths, store
from keilog.decode import dbc
from keilog.demo import builtin_messages
from keilog.store.frames import temp_frames
from keilog.unixport import harness


@pytest.fixture(scope="module")
def keicar():
    return dbc.load_databases([paths.keicar_dbc()])


@pytest.fixture(scope="module")
def logged(tmp_path_factory, keicar):
    sent = list(builtin_messages(keicar, duration=20.0))
    # A few frames the DBC does not define, of every kind, must be kept raw.
    sent += [
        can.Message(
            timestamp=20.0, arbitration_id=0x18DAF110, data=b"\x02\x01\x0d", is_extended_id=True
        ),
        can.Message(
            timestamp=20.0, arbitration_id=0x7DF, is_remote_frame=True, dlc=8, is_extended_id=False
        ),
        can.Message(timestamp=20.0, arbitration_id=0x7FF, data=b"", is_extended_id=False),
    ]
    work = tmp_path_factory.mktemp("slice")
    run = harness.log_messages(sent, work)
    db_path = work / "keilog.db"
    results = store.import_files(db_path, run.segments, keicar)
    return sent, run, db_path, results


def test_every_frame_sent_is_stored_in_order(logged):
    sent, run, db_path, results = logged
    assert run.frames_sent == len(sent)
    assert [r.damage for r in results] == [[] for _ in results]
    db = store.open_db(db_path)
    temp_frames(db.conn)
    rows = list(
        db.query(
            "select timestamp, mono_us, arbitration_id, is_extended, is_remote, dlc, data "
            "from frames order by id"
        )
    )
    assert len(rows) == len(sent)
    got = [
        (r["arbitration_id"], bool(r["is_extended"]), bool(r["is_remote"]), r["dlc"], r["data"])
        for r in rows
    ]
    want = [
        (
            m.arbitration_id,
            m.is_extended_id,
            m.is_remote_frame,
            m.dlc,
            b"" if m.is_remote_frame else bytes(m.data),
        )
        for m in sent
    ]
    assert got == want
    monos = [r["mono_us"] for r in rows]
    assert monos == sorted(monos)
    stamps = [r["timestamp"] for r in rows]
    assert None not in stamps and stamps == sorted(stamps)


def test_decoded_values_match_what_cantools_encoded(logged, keicar):
    sent, _run, db_path, _ = logged
    db = store.open_db(db_path)
    for msg in keicar.messages:
        expected = [
            msg.decode(bytes(m.data), decode_choices=False)
            for m in sent
            if m.arbitration_id == msg.frame_id and not m.is_extended_id
        ]
        rows = list(db.query(f"select * from [msg_{msg.name}] order by frame_id"))
        assert len(rows) == len(expected), msg.name
        for row, values in zip(rows, expected, strict=True):
            for name, value in values.items():
                assert row[name] == pytest.approx(value, rel=1e-9, abs=1e-12), (msg.name, name)


def test_reimporting_changes_nothing(logged, keicar):
    _sent, run, db_path, _ = logged
    db = store.open_db(db_path)
    before = {t: db[t].count for t in db.table_names()}
    again = store.import_files(db_path, run.segments, keicar)
    assert {r.status for r in again} == {"already imported"}
    assert {t: db[t].count for t in db.table_names()} == before


def test_firmware_reports_what_it_logged(logged):
    sent, run, _db, _ = logged
    assert f"logged {len(sent)} frames" in run.log
    assert "0 dropped" in run.log
