"""The front door: a mistake gives one line naming the thing and what to do, and leaves
nothing behind; Ctrl-C is one line and exit 130; scripts can rely on exit codes."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from keilog import store
from keilog.cli import cli
from keilog.roads import build_roads
from keilog.store.frames import frame_count

from tests.conftest import DATA
from tests.roads.osm_testdata import GAINESVILLE, NETWORK, write_osm
from tests.rules.check_testdata import drive, make_db, utc

MIXED = DATA / "logformat" / "segment_mixed.klg"
KEILOG = [sys.executable, "-c", "from keilog.cli import main; main()"]


def run(tmp_path: Path, *args: str):
    """Run a command in an empty folder; return the result and what it left there."""
    before = set(tmp_path.rglob("*"))
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    left = sorted(str(p.relative_to(tmp_path)) for p in set(tmp_path.rglob("*")) - before)
    return result, left


def one_line_error(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


def test_sync_to_a_missing_port_names_it_and_creates_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result, left = run(
        tmp_path, "sync", "--port", "/dev/keilog-no-such-port", "--db", "s.db", "--into", "logs"
    )
    assert result.exit_code == 1
    assert "/dev/keilog-no-such-port: cannot open the port" in one_line_error(result)
    assert left == []


def test_importing_an_unknown_format_names_the_formats_and_creates_nothing(tmp_path):
    (tmp_path / "notes.txt").write_text("hello\n")
    result, left = run(
        tmp_path, "import", str(tmp_path / "notes.txt"), "--db", str(tmp_path / "k.db")
    )
    assert result.exit_code == 1
    assert "notes.txt: unknown log format .txt; keilog reads" in one_line_error(result)
    assert left == []


def test_an_empty_folder_is_an_error_not_a_silent_success(tmp_path):
    (tmp_path / "empty").mkdir()
    result, left = run(tmp_path, "import", str(tmp_path / "empty"), "--db", str(tmp_path / "k.db"))
    assert result.exit_code == 1
    assert "empty: no log segments (*.KLG) in this folder" in one_line_error(result)
    assert left == []


def test_a_file_named_klg_that_is_not_a_segment_is_refused_not_marked_imported(tmp_path):
    fake = tmp_path / "00010000.KLG"
    fake.write_bytes(bytes(range(256)) * 4)
    result, left = run(tmp_path, "import", str(fake), "--db", str(tmp_path / "k.db"))
    assert result.exit_code == 1
    assert "00010000.KLG: not a keilog log segment: no readable block in 1024 bytes" in (
        one_line_error(result)
    )
    assert left == []


def test_a_database_in_a_missing_folder_says_so(tmp_path):
    db = tmp_path / "nowhere" / "k.db"
    result, left = run(tmp_path, "import", str(MIXED), "--db", str(db))
    assert result.exit_code == 1
    assert f"the folder {db.parent} does not exist" in one_line_error(result)
    assert left == []


def test_a_failure_after_a_stored_file_keeps_what_was_stored(tmp_path):
    fake = tmp_path / "junk.KLG"
    fake.write_bytes(b"\x00" * 600)
    db = tmp_path / "k.db"
    result, left = run(tmp_path, "import", str(MIXED), str(fake), "--db", str(db))
    assert result.exit_code == 1
    assert "junk.KLG: not a keilog log segment" in result.stderr
    assert "k.db" in left
    assert frame_count(store.open_db(db).conn) == 6  # segment_mixed.klg's frames


def test_deploy_to_a_missing_port_is_one_line(tmp_path):
    result = CliRunner().invoke(
        cli, ["deploy", "--port", "/dev/keilog-no-such-port", "--board", "pyboard_v11"]
    )
    assert result.exit_code == 1
    line = one_line_error(result)
    assert line.startswith("Error: /dev/keilog-no-such-port: ")
    assert "check the cable and --port" in line


def test_every_quiet_option_has_its_short_form():
    from tests.cli.test_start import _commands

    for path in _commands():
        command = cli
        for name in path:
            command = command.get_command(None, name)
        for param in command.params:
            if "--quiet" in getattr(param, "opts", []):
                assert "-q" in param.opts, f"keilog {' '.join(path)}: --quiet without -q"


@pytest.fixture(scope="module")
def fast_trip(tmp_path_factory):
    """An LSV at 30 mph on a Gainesville street: Florida caps LSVs at 25 mph."""
    tmp = tmp_path_factory.mktemp("trip")
    fixes = drive(GAINESVILLE, [((-1400, 3), (1400, 3), 30)], utc("2026-06-01T16:00:00"))
    roads = tmp / "net.roads.npz"
    build_roads(write_osm(tmp / "net.osm", GAINESVILLE, NETWORK), roads)
    return make_db(tmp / "trip.db", fixes), roads


@pytest.mark.parametrize(("vehicle_class", "code"), [("lsv", 3), ("mini_truck", 0)])
def test_check_fail_on_violation_exits_3_only_when_a_trip_broke_a_rule(
    fast_trip, vehicle_class, code
):
    db, roads = fast_trip
    args = ["check", "--db", str(db), "--state", "FL", "--class", vehicle_class]
    result = CliRunner().invoke(cli, [*args, "--roads", str(roads), "--fail-on-violation", "-q"])
    assert result.exit_code == code, result.output
    assert ("VIOLATIONS" in result.stdout) == (code == 3)
    without = CliRunner().invoke(cli, [*args, "--roads", str(roads), "-q"])
    assert without.exit_code == 0


INTERRUPTED = "Interrupted: nothing stored before this was lost."


def assert_interrupted(proc: subprocess.Popen[str], out: Path) -> None:
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == INTERRUPTED
    assert not out.exists(), sorted(map(str, out.rglob("*")))


def test_ctrl_c_is_one_line_and_exit_130_and_leaves_no_database(tmp_path):
    # Ctrl-C in a terminal signals the whole foreground process group: keilog and the
    # firmware it runs. It is sent once the firmware is logging (its first segment).
    out = tmp_path / "demo"
    proc = subprocess.Popen(
        [*KEILOG, "demo", "--out", str(out), "-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not any((out / "work" / "storage").glob("*.KLG")):
            assert proc.poll() is None and time.monotonic() < deadline, "no segment in 60 s"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)
        assert_interrupted(proc, out)
    finally:
        if proc.poll() is None:
            proc.kill()


# Runs keilog with an audit hook that sends the process SIGINT (a real signal, the one
# Ctrl-C sends) the first time an audit event whose first arguments name NEEDLE occurs,
# so that the interrupt lands in one known phase however loaded the machine is.
INTERRUPT_AT = """
import os, signal, sys
event, needle = sys.argv.pop(1), sys.argv.pop(1)
sent = []
def hook(name, args):
    if not sent and name == event and needle in str(args[:2]):
        sent.append(name)
        os.kill(os.getpid(), signal.SIGINT)
sys.addaudithook(hook)
from keilog.cli import main
main()
"""

INTERRUPT_DEMO = [sys.executable, "-c", INTERRUPT_AT]

DEMO_PHASES = {
    # asammdf (imported with python-can) imports sympy inside a bare `except:`, which
    # once swallowed this Ctrl-C: the demo ran on and exited 0.
    "importing python-can": ("import", "sympy"),
    "driving": ("subprocess.Popen", "main.py"),  # the firmware has just started
    "syncing over USB": ("open", "index.jsonl"),  # the first segment is archived
    "importing the segments": ("sqlite3.connect", "keilog.db"),
    "checking the rules": ("open", "check.json"),
    "writing the report": ("open", "report.html"),
}


@pytest.mark.parametrize("phase", DEMO_PHASES)
def test_ctrl_c_in_any_phase_of_the_demo_is_exit_130_and_leaves_nothing(tmp_path, phase):
    if phase == "importing python-can":
        pytest.importorskip("sympy", reason="asammdf imports sympy only when it is installed")
    event, needle = DEMO_PHASES[phase]
    out = tmp_path / "demo"
    argv = [*INTERRUPT_DEMO, event, needle, "demo", "--out", str(out), "-q", "--duration", "60"]
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert_interrupted(proc, out)  # exit 0 here: the phase swallowed the Ctrl-C
    finally:
        if proc.poll() is None:
            proc.kill()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_serve_stops_its_server_and_removes_its_folder_on_sigterm(tmp_path):
    db = tmp_path / "k.db"
    CliRunner().invoke(cli, ["import", str(MIXED), "--db", str(db)])
    port = _free_port()
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = dict(os.environ, TMPDIR=str(tmpdir))
    proc = subprocess.Popen(
        [*KEILOG, "serve", "--db", str(db), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not _listening(port):
            assert proc.poll() is None and time.monotonic() < deadline, "serve did not start"
            time.sleep(0.2)
        assert any(tmpdir.iterdir())  # its working folder
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not _listening(port)
    assert list(tmpdir.iterdir()) == []


def test_keilog_is_on_path_after_install():
    assert shutil.which("keilog"), "pip install -e . puts the keilog command on PATH"


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["report", "--db", "{db}", "--out", "{missing}/r.html"], "--out"),
        (["export", "--db", "{db}", "--to", "{missing}/x.csv"], "--to"),
        (["config", "--board", "pyboard_v11", "-o", "{missing}/c.json"], "--output"),
    ],
    ids=["report", "export", "config"],
)
def test_an_output_in_a_missing_folder_is_one_line_and_makes_nothing(tmp_path, args, option):
    db = tmp_path / "k.db"
    CliRunner().invoke(cli, ["import", str(MIXED), "--db", str(db)])
    missing = tmp_path / "nowhere"
    argv = [a.format(db=db, missing=missing) for a in args]
    result, left = run(tmp_path, *argv)
    assert result.exit_code == 1
    line = one_line_error(result)
    assert f"the folder {missing} does not exist; create it or give another {option} path" in line
    assert left == []
