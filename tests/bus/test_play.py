"""keilog play: logs and database trips onto a bus, in order and paced by their times."""

from __future__ import annotations

import itertools
import json

import can
import pytest
from click.testing import CliRunner
from keilog import store
from keilog.bus import log_messages, play, record
from keilog.cli import cli

from tests.bus.conftest import key, received, sample_frames


def _write(path, frames):
    with can.Logger(str(path)) as writer:
        for msg in frames:
            writer.on_message_received(msg)
    return path


# (candump .log does not keep a remote frame's DLC: keilog.export.canlogs lists what each
# format keeps.)
@pytest.mark.parametrize("suffix", [".asc", ".blf", ".csv"])
def test_a_log_plays_onto_the_bus_with_the_same_ids_data_and_order(
    tmp_path, channel, listener, suffix
):
    frames = sample_frames()
    log = _write(tmp_path / f"drive{suffix}", frames)
    with can.Bus(interface="virtual", channel=channel) as bus:
        result = play(bus, log_messages([log]), as_fast_as_possible=True)
    assert result.frames == len(frames)
    assert [key(m) for m in received(listener)] == [key(m) for m in frames]


def test_frames_are_paced_by_their_timestamps_divided_by_the_speedup(tmp_path, channel, listener):
    # 5 frames 0.1 s apart in the log, played 2x: the last goes out 0.2 s after the first.
    frames = [
        can.Message(timestamp=100.0 + 0.1 * i, arbitration_id=0x10 + i, data=b"\x00")
        for i in range(5)
    ]
    with can.Bus(interface="virtual", channel=channel) as bus:
        result = play(bus, iter(frames), speedup=2.0)
    got = received(listener)
    assert [m.arbitration_id for m in got] == [0x10, 0x11, 0x12, 0x13, 0x14]
    gaps = [b.timestamp - a.timestamp for a, b in itertools.pairwise(got)]
    assert all(g >= 0.045 for g in gaps), gaps
    assert got[-1].timestamp - got[0].timestamp >= 0.195
    assert result.log_seconds == pytest.approx(0.4)


def test_long_gaps_are_cut(channel, listener):
    frames = [can.Message(timestamp=t, arbitration_id=1) for t in (0.0, 3600.0, 3600.05)]
    with can.Bus(interface="virtual", channel=channel) as bus:
        result = play(bus, iter(frames), max_gap_s=0.05)
    assert result.frames == 3
    assert result.seconds < 60  # not the hour of the log


def test_error_frames_are_counted_not_sent(channel, listener):
    frames = [
        can.Message(arbitration_id=1, data=b"\x01"),
        can.Message(is_error_frame=True),
        can.Message(arbitration_id=2, data=b"\x02"),
    ]
    with can.Bus(interface="virtual", channel=channel) as bus:
        result = play(bus, iter(frames), as_fast_as_possible=True)
    assert (result.frames, result.error_frames) == (2, 1)
    assert [m.arbitration_id for m in received(listener)] == [1, 2]


def test_keilog_play_a_database_trip(tmp_path, channel, listener):
    frames = sample_frames()
    with can.Bus(interface="virtual", channel=channel) as rx:
        with can.Bus(interface="virtual", channel=channel) as tx:
            for msg in frames:
                tx.send(msg)
        recorded = record(rx, tmp_path / "logs", frames=len(frames))
    received(listener)  # (the listener saw the frames being recorded)
    store.import_files(tmp_path / "t.db", recorded.segments)
    out = CliRunner().invoke(
        cli,
        ["play", "--db", str(tmp_path / "t.db"), "--trip", "1", "-i", "virtual", "-c", channel,
         "--as-fast-as-possible", "--json", "-q"],
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["frames"] == len(frames)
    assert [key(m) for m in received(listener)] == [key(m) for m in frames]


def test_keilog_play_klg_segments(tmp_path, channel, listener):
    frames = sample_frames()
    with can.Bus(interface="virtual", channel=channel + "-rec") as rx:
        with can.Bus(interface="virtual", channel=channel + "-rec") as tx:
            for msg in frames:
                tx.send(msg)
        recorded = record(rx, tmp_path, frames=len(frames))
    out = CliRunner().invoke(
        cli,
        ["play", *map(str, recorded.segments), "-i", "virtual", "-c", channel, "--speedup",
         "1000"],
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    assert out.stderr.startswith(f"sent {len(frames)} frames")
    assert [key(m) for m in received(listener)] == [key(m) for m in frames]


def test_keilog_play_refuses_a_file_it_cannot_read(tmp_path):
    bad = tmp_path / "drive.xyz"
    bad.write_text("nothing")
    out = CliRunner().invoke(cli, ["play", str(bad), "-i", "virtual", "-c", "x"])
    assert out.exit_code == 1
    assert out.output.startswith(f"Error: {bad}: unknown log format .xyz")


def test_keilog_play_needs_logs_or_a_database():
    out = CliRunner().invoke(cli, ["play", "-i", "virtual"])
    assert out.exit_code == 2
    assert "give LOG files or --db" in out.output


def test_an_unknown_trip_fails_before_the_bus_is_opened(tmp_path):
    frames_db = tmp_path / "t.db"
    log = _write(tmp_path / "d.log", sample_frames())
    store.import_files(frames_db, [log])
    out = CliRunner().invoke(
        cli, ["play", "--db", str(frames_db), "--trip", "9", "-i", "no-such-interface"]
    )
    assert out.exit_code == 1
    assert out.output.startswith("Error: no trip 9; the database has trips 1..1")
