"""keilog decode -: candump's output on stdin, both its log and its screen format."""

from __future__ import annotations

import itertools
import json

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from keilog.cli import cli
from keilog.decode import CandumpParser, FrameBatch
from keilog.errors import LogFormatError

from tests.conftest import ROOT
from tests.decode.frame_rows import concat

KEICAR = str(ROOT / "dbc" / "keicar.dbc")

# The same four frames as candump -L prints them and as candump -t a prints them
# (can-utils candump.c: "%s  %3X   [%d]  %02X ..." for 11-bit ids, "%8X" for 29-bit).
LOG = (
    "(1700000000.000100) can0 1D0#9A10A4B0011EE203\n"
    "(1700000000.000200) can0 18DAF110#0102\n"
    "(1700000000.000300) can0 7DF#R3\n"
    "(1700000000.000400) can0 3E0#335000\n"
)
SCREEN = (
    " (1700000000.000100)  can0  1D0   [8]  9A 10 A4 B0 01 1E E2 03\n"
    " (1700000000.000200)  can0  18DAF110   [2]  01 02   '..'\n"
    " (1700000000.000300)  can0  7DF   [3]  remote request\n"
    " (1700000000.000400)  can0  3E0   [3]  33 50 00\n"
)


def _read(parser: CandumpParser, *chunks: bytes) -> FrameBatch:
    """Every frame of ``chunks`` fed in turn, then the parser closed, as one batch."""
    return concat([*(parser.feed(c) for c in chunks), parser.close()])


def _frames(text: str) -> list[tuple]:
    b = _read(CandumpParser(), text.encode())
    return [
        (t, i, x, r, d, b.payload(k))
        for k, (t, i, x, r, d) in enumerate(
            zip(
                b.timestamp.tolist(), b.arbitration_id.tolist(), b.is_extended.tolist(),
                b.flag("is_remote").tolist(), b.dlc.tolist(), strict=True,
            )
        )
    ]  # fmt: skip


def test_both_formats_read_as_the_same_frames():
    assert _frames(SCREEN) == _frames(LOG)
    assert [f[1:4] for f in _frames(LOG)] == [
        (0x1D0, False, False), (0x18DAF110, True, False), (0x7DF, False, True),
        (0x3E0, False, False),
    ]  # fmt: skip


@pytest.mark.parametrize("text", [LOG, SCREEN], ids=["log", "screen"])
def test_keilog_decode_dash_reads_stdin(text):
    out = CliRunner().invoke(cli, ["decode", "-", "--dbc", KEICAR, "--nl"], input=text)
    assert out.exit_code == 0, out.output
    frames = [json.loads(line) for line in out.stdout.splitlines()]
    assert [f["message"] for f in frames] == ["VEHICLE_SPEED", "TRANSMISSION"]
    # bytes 9A 10 little-endian * 0.01 km/h (dbc/keicar.dbc VEHICLE_SPEED: bit 0+16)
    assert frames[0]["signals"]["VEHICLE_SPEED"] == pytest.approx(0x109A * 0.01)
    assert frames[1]["signals"] == {"GEAR": 3, "SHIFT_LEVER": 3, "ATF_TEMP": 40}
    assert frames[0]["timestamp"] == 1700000000.0001
    assert out.stderr.startswith("decoded 2 of 4 frames")


def test_screen_lines_without_timestamps_are_timed_on_arrival():
    ((t, *_),) = _frames("  can0  3E0   [3]  33 50 00\n")
    assert t > 1_700_000_000


def test_a_bad_line_is_named_after_the_good_frames_before_it_are_printed():
    text = LOG + "  can0  3E0   [3]  33 50\n"
    out = CliRunner().invoke(cli, ["decode", "-", "--dbc", KEICAR, "--nl"], input=text)
    assert out.exit_code == 1
    assert len(out.stdout.splitlines()) == 2
    assert out.stderr.splitlines()[-1] == (
        "Error: stdin line 5: cannot read 'can0  3E0   [3]  33 50' as candump output ([3] but "
        "not 3 hex data bytes); pipe candump -L (its log format) or candump's default output"
    )


def test_dash_is_not_mixed_with_files(tmp_path):
    out = CliRunner().invoke(cli, ["decode", "-", "x.log", "--dbc", KEICAR])
    assert out.exit_code == 2
    assert "cannot be combined" in out.output


@given(st.lists(st.integers(1, len(LOG) - 1), max_size=8))
def test_chunks_split_anywhere_give_the_same_frames(cuts):
    data = (LOG + SCREEN.replace("(17", "(18")).encode()
    edges = [0, *sorted(set(cuts)), len(data)]
    got = _read(CandumpParser(), *(data[a:b] for a, b in itertools.pairwise(edges)))
    whole = CandumpParser().feed(data)
    assert got.arbitration_id.tolist() == whole.arbitration_id.tolist()
    assert [got.payload(i) for i in range(len(got))] == [whole.payload(i) for i in range(8)]
    assert len(got) == 8


@given(st.binary(max_size=300) | st.text(alphabet="0123456789ABCDEF()[]#R. can\n", max_size=200))
def test_any_input_gives_frames_or_one_error_naming_the_line(data):
    parser = CandumpParser()
    raw = data if isinstance(data, bytes) else data.encode()
    frames = _read(parser, raw)  # never raises: the error waits in .error
    assert all(0 <= i < 1 << 29 for i in frames.arbitration_id.tolist())
    if parser.error is not None:
        assert isinstance(parser.error, LogFormatError)
        assert str(parser.error).startswith("stdin line ")


def test_a_live_pipe_gets_each_frame_before_stdin_ends():
    import select
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-c", "from keilog.cli import main; main()", "decode", "-", "--dbc",
         KEICAR, "--nl", "-q"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    try:
        for value in (40, 41):
            proc.stdin.write(f"  can0  3E0   [3]  33 {value + 40:02X} 00\n".encode())
            proc.stdin.flush()
            ready, _, _ = select.select([proc.stdout], [], [], 60)
            assert ready, "no frame printed while stdin stays open"
            assert json.loads(proc.stdout.readline())["signals"]["ATF_TEMP"] == value
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)
