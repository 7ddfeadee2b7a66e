"""Import says when a DBC decodes nothing and which identifiers no DBC defines
(issue 19, item 3), in the library's result and in a few stderr lines; and the
``keilog redecode`` command decodes such a database again."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from keilog import paths, store
from keilog.cli import cli
from keilog.decode import dbc
from keilog.store.coverage import Coverage, coverage_warnings

KEICAR = paths.keicar_dbc()
OBD2 = paths.dbc_dir() / "obd2.dbc"
# Frames per identifier in the log below: the car's engine (0x0C8, in keicar.dbc) and
# seven identifiers no DBC here defines, one of them extended.
COUNTS = {0x0C8: 40, 0x123: 30, 0x124: 20, 0x125: 10, 0x126: 5, 0x127: 3, 0x128: 2}
EXTENDED = (0x18FEEF00, 7)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    lines = []
    t = 1_780_000_000.0
    for arbitration_id, n in COUNTS.items():
        for _ in range(n):
            t += 0.01
            lines.append(f"({t:.6f}) can0 {arbitration_id:03X}#A00F283201000A00")
    for _ in range(EXTENDED[1]):
        t += 0.01
        lines.append(f"({t:.6f}) can0 {EXTENDED[0]:08X}#0102")
    path = tmp_path / "drive.log"
    path.write_text("\n".join(lines) + "\n")
    return path


TOTAL = sum(COUNTS.values()) + EXTENDED[1]  # 117 frames
UNKNOWN = TOTAL - COUNTS[0x0C8]  # 77


def test_the_result_counts_frames_per_message_and_per_unknown_identifier(log, tmp_path):
    [r] = store.import_files(tmp_path / "k.db", [log], dbc.load_databases([KEICAR]))
    assert r.message_frames == {"ENGINE_STATUS": 40}
    # Most frames first; the extended id marked with x (as keilog decode's stats).
    assert r.unknown_ids == {"0x123": 30, "0x124": 20, "0x125": 10, "0x18feef00x": 7,
                             "0x126": 5, "0x127": 3, "0x128": 2}  # fmt: skip


def test_warnings_name_the_silent_dbc_and_the_top_unknown_ids(log, tmp_path):
    can_db = dbc.load_databases([KEICAR, OBD2])
    [r] = store.import_files(tmp_path / "k.db", [log], can_db)
    found = Coverage()
    found.add(r.frames, r.message_frames, r.unknown_ids)
    lines = coverage_warnings(found, [(str(KEICAR), can_db), (str(OBD2), can_db)], "k.db")
    # keicar.dbc decodes the engine frames, so only obd2.dbc is named; it shares the
    # merged database here, so give each file its own (keilog.store.coverage.by_file).
    assert lines == [
        f"warning: {UNKNOWN} of {TOTAL} frames were not decoded (7 identifiers no DBC "
        "defines): 0x123 (30), 0x124 (20), 0x125 (10), 0x18feef00x (7), 0x126 (5), and 2 "
        "more (5 frames); keilog redecode --db k.db --dbc CAR.dbc decodes the stored frames "
        "again"
    ]
    obd2 = dbc.load_databases([OBD2])
    lines = coverage_warnings(found, [(str(KEICAR), can_db), (str(OBD2), obd2)], "k.db")
    assert lines[0] == (
        f"warning: {OBD2} decodes nothing: none of its {len(obd2.messages)} messages' "
        f"identifiers occurs among the {TOTAL} frames; check that it is this car's DBC "
        "(keilog redecode --db k.db --dbc CAR.dbc decodes the stored frames again)"
    )
    assert len(lines) == 2


def test_no_warning_when_every_frame_is_decoded(tmp_path):
    found = Coverage(40, {"ENGINE_STATUS": 40}, {})
    assert coverage_warnings(found, [("keicar.dbc", dbc.load_databases([KEICAR]))], "k") == []
    assert coverage_warnings(Coverage(), [], "k") == []


def _run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(cli, list(args))
    return r.exit_code, r.stdout, r.stderr


def test_import_warns_on_stderr_and_quiet_keeps_it_off(log, tmp_path):
    db = str(tmp_path / "k.db")
    code, out, err = _run("import", str(log), "--db", db, "--dbc", str(OBD2))
    assert code == 0
    assert out == f"drive.log: imported, {TOTAL} frames, 0 decoded, 0 GPS fixes, 0 events\n"
    assert err.splitlines() == [
        f"warning: {OBD2} decodes nothing: none of its 10 messages' identifiers occurs "
        f"among the {TOTAL} frames; check that it is this car's DBC (keilog redecode --db "
        f"{db} --dbc CAR.dbc decodes the stored frames again)",
        f"warning: {TOTAL} of {TOTAL} frames were not decoded (8 identifiers no DBC defines): "
        "0xc8 (40), 0x123 (30), 0x124 (20), 0x125 (10), 0x18feef00x (7), and 3 more "
        f"(10 frames); keilog redecode --db {db} --dbc CAR.dbc decodes the stored frames "
        "again",
    ]
    code, out, err = _run("import", str(log), "--db", str(tmp_path / "q.db"), "--dbc",
                          str(OBD2), "--quiet")  # fmt: skip
    assert (code, err) == (0, "")
    code, out, err = _run("import", str(log), "--db", str(tmp_path / "n.db"), "--json")
    assert code == 0 and json.loads(out)["unknown_ids"]["0x123"] == 30
    assert err.startswith(f"warning: {TOTAL} of {TOTAL} frames were not decoded (no DBC was "
                          "given; 8 identifiers): 0xc8 (40)")  # fmt: skip


def test_redecode_command_decodes_a_database_imported_with_the_wrong_dbc(log, tmp_path):
    db = str(tmp_path / "k.db")
    assert _run("import", str(log), "--db", db, "--dbc", str(OBD2), "-q")[0] == 0
    code, out, err = _run("redecode", "--db", db, "--dbc", str(KEICAR))
    assert code == 0, err
    assert out == "msg_ENGINE_STATUS: 40 rows\n"
    assert err.splitlines()[0] == f"{db}: {TOTAL} raw frames read, 40 decoded"
    assert "7 identifiers no DBC defines" in err
    conn = sqlite3.connect(db)
    assert conn.execute("select count(*) from msg_ENGINE_STATUS").fetchone() == (40,)
    conn.close()
    code, out, err = _run("redecode", "--db", db, "--dbc", str(KEICAR), "--json", "-q")
    assert (code, err) == (0, "")
    assert json.loads(out)["tables"] == {"msg_ENGINE_STATUS": 40}


def test_redecode_errors_are_one_line(tmp_path):
    code, out, err = _run("redecode", "--db", str(tmp_path / "none.db"), "--dbc", str(KEICAR))
    assert code == 1 and out == ""
    assert (
        err == f"Error: {tmp_path / 'none.db'}: no such database; give the file keilog "
        "import wrote\n"
    )
    code, out, err = _run("redecode", "--db", str(tmp_path / "none.db"))
    assert code == 2 and "Missing option '--dbc'" in err
