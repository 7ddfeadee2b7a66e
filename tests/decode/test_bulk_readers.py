"""keilog's bulk readers of candump and BLF logs give python-can's frames, exactly.

The reference is python-can's own reader (CanutilsLogReader, BLFReader) turned into a
FrameBatch: on logs python-can writes, on python-can's sample logs (the peer corpus),
and on hypothesis' lines and bytes, however the input is cut into chunks.
"""

from __future__ import annotations

import io
import itertools
import struct
from pathlib import Path

import can
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from keilog.decode.blf import BlfReader
from keilog.decode.candump import CandumpLogParser
from keilog.decode.logs import open_log, reader_errors

from tests.conftest import ROOT
from tests.decode.frame_rows import python_can_rows, rows

PEER_LOGS = ROOT / ".." / "shared" / "peer" / "python-can-logs"


def every_kind_of_frame() -> list[can.Message]:
    """Classic, extended, remote, empty, CAN FD (with BRS/ESI) and error frames."""
    out = []
    for i in range(300):
        t = 1_700_000_000.0 + i * 0.001237
        k = i % 6
        if k == 0:
            out.append(can.Message(timestamp=t, arbitration_id=0x123, is_extended_id=False,
                                   data=struct.pack("<Q", i * 977)))  # fmt: skip
        elif k == 1:
            out.append(can.Message(timestamp=t, arbitration_id=0x18DAF110 + i,
                                   data=bytes(range(i % 9))))  # fmt: skip
        elif k == 2:
            out.append(can.Message(timestamp=t, arbitration_id=0x7DF, is_extended_id=False,
                                   is_remote_frame=True, dlc=i % 9))  # fmt: skip
        elif k == 3:
            out.append(
                can.Message(
                    timestamp=t,
                    arbitration_id=0x456,
                    is_extended_id=False,
                    is_fd=True,
                    bitrate_switch=bool(i % 2),
                    error_state_indicator=bool(i % 4 == 3),
                    data=bytes([i % 256]) * (12, 16, 20, 24, 32, 48, 64)[i % 7],
                )
            )
        elif k == 4:
            out.append(can.Message(timestamp=t, is_error_frame=True))
        else:
            out.append(can.Message(timestamp=t, arbitration_id=i, is_extended_id=False, data=b""))
    return out


def written(path: Path, messages: list[can.Message]) -> Path:
    with can.Logger(str(path)) as writer:
        for m in messages:
            writer.on_message_received(m)
    return path


@pytest.mark.parametrize("suffix", [".log", ".log.gz", ".blf"])
def test_a_log_python_can_writes_reads_as_python_can_reads_it(tmp_path, suffix) -> None:
    path = written(tmp_path / f"all{suffix}", every_kind_of_frame())
    log = open_log(path)
    assert rows(log.batches(chunk_frames=50)) == python_can_rows(can.LogReader(str(path)))
    assert log.problems == []


def peer_blf_logs() -> list[Path]:
    return sorted(PEER_LOGS.glob("*.blf")) if PEER_LOGS.is_dir() else []


@pytest.mark.skipif(not peer_blf_logs(), reason="../shared/peer/python-can-logs is absent")
@pytest.mark.parametrize("path", peer_blf_logs(), ids=lambda p: p.name)
def test_python_can_sample_blf_logs_read_as_python_can_reads_them(path: Path) -> None:
    log = open_log(path)
    assert rows(log.batches()) == python_can_rows(can.BLFReader(str(path)))
    assert log.problems == []


# Lines in candump's log format, and near misses: python-can reads some of them its own
# way (no parentheses needed, '+' in hex, remote, FD), refuses others.
TOKENS = ["(1700000000.000100)", "(0.5)", "(12)", "(.25)", "[1.5]", "(1.2.3)",
          "(99999999999999999)", " ", "  ", "\t", "can0", "vcan1", "7", "123#", "18DAF110#",
          "7FF#", "20000080#",
          "0#", "1D0#9A10A4B0011EE203", "11223344", "1", "R", "R3", "#1", "#011", "+f",
          "zz", " R", " T", " r", "#", "\r", "\n", "\r\n", "\xa0", "é"]  # fmt: skip
candump_text = st.lists(st.sampled_from(TOKENS), max_size=60).map("".join)


def python_can_per_line(text: str) -> tuple[list, list[int]]:
    """python-can's frames of each line, and the numbers of the lines it refuses."""
    messages, bad = [], []
    for number, line in enumerate(io.StringIO(text, newline=None), 1):
        try:
            messages += list(can.CanutilsLogReader(io.StringIO(line.strip() + "\n")))
        except (ValueError, IndexError, KeyError, TypeError, AttributeError):
            bad.append(number)
    kept, refused = [], list(bad)
    for m in messages:  # frames keilog cannot hold are refused lines there
        if m.is_remote_frame and not m.dlc >= 0:
            continue
        kept.append(m)
    return python_can_rows(kept), refused


def parse(data: bytes, cuts: list[int]) -> tuple[list, list[int], CandumpLogParser]:
    parser = CandumpLogParser("t.log", skip_bad_lines=True)
    edges = [0, *sorted({c % (len(data) + 1) for c in cuts}), len(data)]
    batches = [parser.feed(data[a:b]) for a, b in itertools.pairwise(edges)]
    return rows([*batches, parser.close()]), [b.line for b in parser.skipped], parser


@settings(max_examples=300, deadline=None)
@given(text=candump_text, cuts=st.lists(st.integers(0, 1 << 12), max_size=5))
def test_fuzz_candump_lines_read_as_python_can_reads_each_line(text, cuts) -> None:
    expected, refused = python_can_per_line(text)
    got, skipped, _ = parse(text.encode(), cuts)
    negative_remote = [n for n in skipped if n not in refused]
    assert got == expected
    assert sorted(set(skipped) - set(negative_remote)) == refused


@given(data=st.binary(max_size=400), cuts=st.lists(st.integers(0, 1 << 10), max_size=4))
def test_fuzz_candump_bytes_give_frames_and_numbered_bad_lines(data, cuts) -> None:
    got, skipped, parser = parse(data, cuts)
    assert all(0 <= row[1] < 1 << 29 for row in got)
    assert skipped == sorted(skipped) and all(1 <= n <= parser.line for n in skipped)
    stopping = CandumpLogParser("t.log")
    stopping.feed(data)
    stopping.close()
    assert (stopping.stopped is None) == (skipped == [])


def test_a_bad_candump_line_stops_reading_after_the_frames_before_it() -> None:
    parser = CandumpLogParser("t.log")
    batch = parser.feed(b"(1.0) can0 123#11\n(2.0) can0 124#22\nnot a frame\n(3.0) can0 1#\n")
    assert batch.arbitration_id.tolist() == [0x123, 0x124]
    assert parser.stopped is not None and parser.stopped.line == 3
    assert len(parser.feed(b"(4.0) can0 125#33\n")) == 0  # nothing after it


@pytest.fixture(scope="module")
def blf_sample(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("blf") / "all.blf"
    return written(path, every_kind_of_frame() * 3).read_bytes()


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(bulk=st.integers(1, 1 << 16))
def test_blf_read_in_any_bulk_size_gives_python_can_frames(blf_sample, bulk) -> None:
    reader = BlfReader(io.BytesIO(blf_sample), bulk_bytes=bulk)
    assert rows(reader.batches()) == python_can_rows(can.BLFReader(io.BytesIO(blf_sample)))
    assert reader.problems == [] and reader.short_at is None


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(
    flips=st.lists(st.integers(0, 1 << 20), min_size=1, max_size=6),
    cut=st.integers(0, 1 << 20),
    bulk=st.integers(64, 1 << 16),
)
def test_fuzz_blf_bytes_give_frames_damage_or_a_reader_error(blf_sample, flips, cut, bulk):
    data = bytearray(blf_sample[: 144 + cut % len(blf_sample)])
    for f in flips:
        data[f % len(data)] ^= 1 << (f % 8)
    try:
        reader = BlfReader(io.BytesIO(bytes(data)), bulk_bytes=bulk)
        got = rows(reader.batches())
    except reader_errors():
        return  # keilog.decode.logs turns these into one LogFormatError naming the file
    assert all(0 <= row[1] < 1 << 29 and 0 <= row[3] <= 64 for row in got)
