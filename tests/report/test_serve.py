"""keilog serve: Datasette metadata (titles, units, descriptions, canned queries), served."""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from keilog import store
from keilog.report import as_check, list_trips
from keilog.report import serve as srv
from keilog.store.framequery import print_frames

from tests.conftest import ROOT

START = 1_780_322_400.0  # florida_rural.json start_utc, 2026-06-01T14:00:00Z


def test_metadata_explains_tables_columns_and_units(florida):
    db = store.open_db(florida.db)
    meta = srv.metadata(db, "florida")
    tables = meta["databases"]["florida"]["tables"]
    speed = tables["msg_VEHICLE_SPEED"]
    # Units and comments come from dbc/keicar.dbc through the signals table.
    assert speed["units"]["VEHICLE_SPEED"] == "km/h"
    assert speed["columns"]["VEHICLE_SPEED"] == "Vehicle speed (km/h). [km/h]"
    assert tables["msg_ENGINE_STATUS"]["units"]["ENGINE_RPM"] == "rpm"
    assert tables["msg_ENGINE_TEMPS"]["units"]["COOLANT_TEMP"] == "degC"
    assert tables["gps_fixes"]["units"]["speed_mps"] == "m/s"
    assert tables["gps_fixes"]["columns"]["lat"] == "Latitude, degrees north (WGS84)."
    assert set(meta["databases"]["florida"]["queries"]) == {
        "trips", "speed_between", "frames_of_id", "frames_between"
    }  # fmt: skip
    assert "frames" not in tables  # schema 3 packs raw frames: frame_blocks + canned queries
    assert tables["frame_blocks"]["columns"]["t_start"].startswith("UTC of the block's first")


def test_the_canned_trips_query_agrees_with_keilog_trips(tmp_path):
    from tests.report.synth import START, Drive, make_db

    db = store.open_db(make_db(tmp_path / "k.db", Drive(boot=1), Drive(boot=2, start=START + 900)))
    rows = db.execute(srv.TRIPS_SQL).fetchall()
    trips = list_trips(db)
    assert [r[0] for r in rows] == [t.id for t in trips]
    assert [r[5] for r in rows] == [round(t.duration_s, 1) for t in trips]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, deadline: float) -> bytes:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return bytes(r.read())
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_datasette_serves_the_database_and_the_checks_violations(florida, tmp_path):
    # Datasette comes with the test extra: a missing one is a failed install, not a skip.
    assert srv.datasette_available(), "Datasette is missing: pip install -e '.[test]'"
    check = as_check(florida.check)
    files, meta = srv.prepare(florida.db, tmp_path, check)
    port = _free_port()
    proc = subprocess.Popen(
        srv.command(files, meta, "127.0.0.1", port),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        served = json.loads(_get(f"{base}/-/metadata.json", deadline))
        assert served["databases"]["florida"]["tables"]["gps_fixes"]["title"] == "GPS fixes"
        trips = json.loads(_get(f"{base}/florida/trips.json?_shape=array", deadline))
        assert [(t["trip"], t["boot"], t["start_utc"]) for t in trips] == [
            (1, 7, "2026-06-01 14:00:00")  # florida_rural.json start_utc; the sim's boot 7
        ]
        rows = json.loads(_get(f"{base}/check/violations.json?_shape=array", deadline))
        expected = florida.check["trips"][0]["violations"]
        assert [(r["rule"], r["source"]) for r in rows] == [
            (v["rule"], v["source"]) for v in expected
        ]
        # The canned query of raw frames returns the frames keilog frames prints.
        window = "id=0x1D0&start=2026-06-01+14:01:00&end=2026-06-01T14:01:02Z"
        frames = json.loads(
            _get(f"{base}/florida/frames_of_id.json?{window}&_shape=array", deadline)
        )
        out = io.StringIO()
        print_frames(florida.db, out, "nl", ids=[0x1D0], start=START + 60, end=START + 62)
        expected = [json.loads(line) for line in out.getvalue().splitlines()]
        assert len(frames) == len(expected) > 0
        assert [(f["frame"], f["timestamp"], f["data"]) for f in frames] == [
            (e["id"], e["timestamp"], e["data"]) for e in expected
        ]
        every = json.loads(
            _get(f"{base}/florida/frames_between.json?{window}&_shape=array", deadline)
        )
        assert {f["arbitration_id"] for f in every} > {0x1D0}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_serve_says_how_to_install_datasette_when_it_is_missing(florida):
    code = (
        "import sys; sys.modules['datasette'] = None\n"
        "from keilog.cli import cli\n"
        f"cli(['serve', '--db', {str(florida.db)!r}])\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 1
    assert r.stderr == (
        "Error: Datasette is not installed; install it with: pip install 'keilog[serve]'\n"
    )


def test_serve_metadata_option_writes_the_file(florida, tmp_path):
    from click.testing import CliRunner
    from keilog.cli import cli

    out = tmp_path / "metadata.json"
    r = CliRunner().invoke(cli, ["serve", "--db", str(florida.db), "--metadata", str(out)])
    assert r.exit_code == 0, r.output
    assert json.loads(out.read_text())["databases"]["florida"]["title"] == "keilog log database"


def _candump(path, frames: int, start: float) -> None:
    path.write_text(
        "".join(f"({start + i / 100:.6f}) can0 123#{i % 256:02X}\n" for i in range(frames))
    )


def test_serve_reads_rows_committed_after_it_started(tmp_path):
    """Read-only, not immutable: an import that commits while serve runs is seen whole
    (issue 14: immutable mode showed 289,144 of 600,000 frames on disk)."""
    _candump(tmp_path / "a.log", 10, START)
    _candump(tmp_path / "b.log", 5000, START + 3600)
    store.import_files(tmp_path / "k.db", [tmp_path / "a.log"])
    files, meta = srv.prepare(tmp_path / "k.db", tmp_path)
    port = _free_port()
    proc = subprocess.Popen(
        srv.command(files, meta, "127.0.0.1", port),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/k.json?sql=select+sum(frames)+as+n+from+frame_blocks&_shape=array"
        deadline = time.monotonic() + 30
        assert json.loads(_get(url, deadline)) == [{"n": 10}]
        store.import_files(tmp_path / "k.db", [tmp_path / "b.log"])
        assert json.loads(_get(url, deadline)) == [{"n": 5010}]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
