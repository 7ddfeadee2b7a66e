"""keilog log: this computer as the logger, writing the firmware's segments."""

from __future__ import annotations

import json
import time

import can
import pytest
from click.testing import CliRunner
from keilog import store
from keilog.bus import record
from keilog.cli import cli
from keilog.decode import open_log
from keilog.logformat import reader
from keilog.store.frames import temp_frames

from tests.bus.conftest import key, sample_frames, send_when_listening


def _stored(db_path) -> list[tuple[int, bool, bool, int, bytes]]:
    db = store.open_db(db_path)
    temp_frames(db.conn)  # raw frames are packed (keilog.store.frames): unpacked for SQL
    rows = db.execute(
        "select arbitration_id, is_extended, is_remote, dlc, data from frames order by id"
    ).fetchall()
    return [(i, bool(x), bool(r), n, bytes(d)) for i, x, r, n, d in rows]


def test_recorded_segments_import_as_the_frames_that_were_sent(tmp_path, channel):
    frames = sample_frames()
    with can.Bus(interface="virtual", channel=channel) as bus:
        with can.Bus(interface="virtual", channel=channel) as tx:
            for msg in frames:
                tx.send(msg)
        result = record(bus, tmp_path / "logs", frames=len(frames))
    assert result.frames == len(frames)
    assert result.stopped_by == "frames"
    assert [p.name for p in result.segments] == ["00010000.KLG"]
    store.import_files(tmp_path / "t.db", result.segments)
    assert _stored(tmp_path / "t.db") == [key(m) for m in frames]


def test_frame_times_are_kept_to_the_microsecond_and_anchored_to_utc(tmp_path, channel):
    now = time.time()
    frames = [
        can.Message(timestamp=now + i * 0.0123457, arbitration_id=0x123, data=bytes([i]))
        for i in range(20)
    ]
    with can.Bus(interface="virtual", channel=channel) as bus:
        with can.Bus(interface="virtual", channel=channel, preserve_timestamps=True) as tx:
            for msg in frames:
                tx.send(msg)
        result = record(bus, tmp_path, frames=len(frames))
    (batch,) = open_log(result.segments[0]).batches()
    assert batch.timestamp.tolist() == pytest.approx([m.timestamp for m in frames], abs=2e-6)


def test_a_segment_has_the_boards_layout(tmp_path, channel):
    # docs/log-format.md: a segment header first, a clock anchor, the boot event; a
    # frames count and a clean shutdown (value 0) at the end.
    with can.Bus(interface="virtual", channel=channel) as bus:
        result = record(bus, tmp_path, duration=0.05, device_id="bench-pc")
    assert result.stopped_by == "duration"
    segment = reader.read_segment(result.segments[0])
    assert segment.header.device_id == "bench-pc"
    assert segment.header.boot == 1
    assert [a.source for a in segment.anchors] == ["system"]
    kinds = [(e.code, e.value) for e in segment.records if isinstance(e, reader.Event)]
    assert kinds == [(1, 1), (7, 0), (14, 0)]
    assert segment.damage == []


def test_each_run_is_a_new_boot_in_the_same_folder(tmp_path, channel):
    with can.Bus(interface="virtual", channel=channel) as bus:
        first = record(bus, tmp_path, duration=0.01)
        second = record(bus, tmp_path, duration=0.01)
    assert (first.boot, second.boot) == (1, 2)
    assert [p.name for p in second.segments] == ["00020000.KLG"]


def test_segments_rotate_and_every_frame_is_in_one_of_them(tmp_path, channel):
    frames = sample_frames() * 10
    with can.Bus(interface="virtual", channel=channel) as bus:
        with can.Bus(interface="virtual", channel=channel) as tx:
            for msg in frames:
                tx.send(msg)
        result = record(bus, tmp_path, frames=len(frames), rotate_bytes=4 * 512)
    assert len(result.segments) > 3
    for path in result.segments:
        assert path.stat().st_size % 512 == 0
        assert reader.read_segment(path).damage == []
    store.import_files(tmp_path / "t.db", result.segments)
    assert _stored(tmp_path / "t.db") == [key(m) for m in frames]


def test_can_fd_frames_longer_than_8_bytes_are_counted_not_written(tmp_path, channel):
    with can.Bus(interface="virtual", channel=channel) as bus:
        with can.Bus(interface="virtual", channel=channel) as tx:
            tx.send(can.Message(arbitration_id=0x10, is_fd=True, data=bytes(12)))
            tx.send(can.Message(arbitration_id=0x11, data=b"\x01"))
        result = record(bus, tmp_path, frames=1, duration=2)
    assert (result.frames, result.skipped_fd) == (1, 1)


class _InterruptedBus(can.interfaces.virtual.VirtualBus):
    """A virtual bus where Ctrl-C arrives once the queued frames are read."""

    def _recv_internal(self, timeout):
        msg, filtered = super()._recv_internal(0)
        if msg is None:
            raise KeyboardInterrupt
        return msg, filtered


def test_ctrl_c_finishes_the_segment(tmp_path, channel):
    frames = sample_frames()
    with _InterruptedBus(channel=channel) as bus:
        with can.Bus(interface="virtual", channel=channel) as tx:
            for msg in frames:
                tx.send(msg)
        result = record(bus, tmp_path)
    assert (result.stopped_by, result.frames) == ("interrupt", len(frames))
    segment = reader.read_segment(result.segments[0])
    assert segment.damage == []
    events = [e for e in segment.records if isinstance(e, reader.Event)]
    assert (events[-1].code, events[-1].value) == (14, 0)  # shutdown, clean
    assert len(segment.frames) == len(frames)


def test_keilog_log_then_keilog_import(tmp_path, channel):
    frames = sample_frames()
    sender = send_when_listening(channel, frames)
    out = CliRunner().invoke(
        cli,
        ["log", "-i", "virtual", "-c", channel, "--to", str(tmp_path / "logs"),
         "--frames", str(len(frames)), "--duration", "30", "--json"],
    )  # fmt: skip
    sender.join(timeout=30)
    assert out.exit_code == 0, out.output
    written = json.loads(out.stdout)
    assert (written["frames"], written["stopped_by"]) == (len(frames), "frames")
    imported = CliRunner().invoke(
        cli, ["import", str(tmp_path / "logs"), "--db", str(tmp_path / "t.db"), "-q"]
    )
    assert imported.exit_code == 0, imported.output
    assert _stored(tmp_path / "t.db") == [key(m) for m in frames]


def test_keilog_log_names_a_bus_it_cannot_open(tmp_path):
    out = CliRunner().invoke(
        cli, ["log", "-i", "no-such-interface", "--to", str(tmp_path), "--duration", "1"]
    )
    assert out.exit_code == 1
    assert out.output.startswith("Error: cannot open the CAN bus (interface=no-such-interface")
    assert len(out.output.splitlines()) == 1


def test_bus_arguments_are_python_cans_key_value_pairs(tmp_path, channel):
    from keilog.bus import BusError, open_bus

    with open_bus("virtual", channel, args=["preserve_timestamps=true", "rx_queue_size=5"]) as bus:
        assert (bus.preserve_timestamps, bus.queue.maxsize) == (True, 5)
    with pytest.raises(BusError, match="bus argument 'fd' is not key=value"):
        open_bus("virtual", channel, args=["fd"])


class _FailingBus(can.interfaces.virtual.VirtualBus):
    """A virtual bus whose adapter goes away once the queued frames are read."""

    def _recv_internal(self, timeout):
        msg, filtered = super()._recv_internal(0)
        if msg is None:
            raise can.CanOperationError("adapter unplugged")
        return msg, filtered


def test_a_failing_bus_is_one_error_and_the_frames_before_it_are_kept(tmp_path, channel):
    from keilog.bus import BusError

    frames = sample_frames()
    with _FailingBus(channel=channel) as bus:
        with can.Bus(interface="virtual", channel=channel) as tx:
            for msg in frames:
                tx.send(msg)
        with pytest.raises(BusError, match=r"failed after 62 frames: adapter unplugged; what"):
            record(bus, tmp_path)
    (segment,) = tmp_path.glob("*.KLG")
    assert len(reader.read_segment(segment).frames) == len(frames)


def test_a_stop_event_ends_the_recording(tmp_path, channel):
    import threading

    stop = threading.Event()
    timer = threading.Timer(0.2, stop.set)
    timer.start()
    with can.Bus(interface="virtual", channel=channel) as bus:
        result = record(bus, tmp_path, stop=stop, duration=30)
    assert result.stopped_by == "stop"
