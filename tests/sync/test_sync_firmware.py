"""Sync against the real firmware under the real `micropython` binary, over a pty.

The firmware logs frames from a CAN stream while its sync service answers on the pty;
the host is keilog's own sync library on pyserial. The database must end up holding
exactly the frames the firmware was sent, in order: none lost, none twice.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
from keilog import store
from keilog.sync import (
    Archive,
    DeviceClient,
    DeviceError,
    Entry,
    LinkLostError,
    LinkTimeoutError,
    VersionMismatchError,
    open_port,
    sync,
    sync_port,
)
from keilog.sync.proto import load

from tests.sync.conftest import can_record, frame_bytes
from tests.sync.helpers import db_frames
from tests.sync.ptyfw import FirmwareOnPty, Relay, wait_for

P = load()


def logged_frames(port: str) -> int:
    ser = open_port(port)
    try:
        client = DeviceClient(ser, port)
        client.hello()
        frames = client.counters()["frames"]
        client.bye()
        return int(frames)
    finally:
        ser.close()


def write_frames(path: Path, first: int, count: int) -> list[tuple[int, bytes]]:
    frames = [frame_bytes(i) for i in range(first, first + count)]
    path.write_bytes(b"".join(can_record(i, d) for i, d in frames))
    return frames


def test_full_sync_imports_every_frame_once_and_anchors_the_clock(tmp_path: Path) -> None:
    sent = write_frames(tmp_path / "can.bin", 0, 2000)
    with FirmwareOnPty(tmp_path, tmp_path / "can.bin") as fw:
        wait_for(lambda: logged_frames(fw.port) == len(sent), 20, "the firmware to log")
        result = sync_port(fw.port, tmp_path / "archive", tmp_path / "k.db")
        again = sync_port(fw.port, tmp_path / "archive", tmp_path / "k.db")
    assert db_frames(tmp_path / "k.db") == sent
    assert result.device.device_id == "test-unit"
    assert result.device.board == "unix"
    assert result.sealed == "00010000.KLG"  # the first segment of boot 1, sealed for us
    assert [s.status for s in result.segments] == ["imported", "in progress"]
    assert all(s.acknowledged for s in result.segments if s.status == "imported")
    # every archived file is named by its bytes' sha256
    archived = sorted((tmp_path / "archive").glob("*.KLG"))
    imported = [s.sha256 for s in result.segments + again.segments if s.status == "imported"]
    assert sorted(p.stem for p in archived) == sorted(imported)
    # the host's time went into the log as a clock anchor with source "host"
    db = store.open_db(tmp_path / "k.db")
    sources = [r[0] for r in db.execute("select source from clock_anchors").fetchall()]
    assert "host" in sources
    # the second sync sealed the segment the first left open, and acked it too
    assert again.sealed == "00010001.KLG"
    assert [s.name for s in again.segments if s.status == "imported"] == ["00010001.KLG"]


def test_sync_while_logging_resumes_the_open_segment(tmp_path: Path) -> None:
    fifo = tmp_path / "can.fifo"
    os.mkfifo(fifo)
    sent = [frame_bytes(i) for i in range(3000)]
    first_sync_done = threading.Event()

    def feed() -> None:
        with open(fifo, "wb") as f:
            for k, (can_id, data) in enumerate(sent):
                f.write(can_record(can_id, data))
                # pause on a 32-frame boundary: the unix port's CAN reader takes whole
                # 32-frame chunks (hal_unix.StreamCan), a torn chunk would wait for more
                if k == 32 * 47 - 1:
                    f.flush()
                    first_sync_done.wait(30)
            f.flush()

    with FirmwareOnPty(tmp_path, fifo, flush_ms=50) as fw:
        writer = threading.Thread(target=feed, daemon=True)
        writer.start()
        wait_for(lambda: logged_frames(fw.port) == 32 * 47, 20, "half the frames")
        # the car keeps logging: fetch the open segment as far as it is flushed
        first = sync_port(fw.port, tmp_path / "archive", tmp_path / "k.db", seal=False)
        first_sync_done.set()
        writer.join(30)
        wait_for(lambda: logged_frames(fw.port) == len(sent), 20, "all frames")
        last = sync_port(fw.port, tmp_path / "archive", tmp_path / "k.db")
    (open_seg,) = first.segments
    assert open_seg.status == "in progress" and open_seg.fetched > 0
    assert db_frames(tmp_path / "k.db") == sent
    resumed = next(s for s in last.segments if s.name == open_seg.name)
    assert resumed.status == "imported"
    assert resumed.fetched == resumed.size - open_seg.fetched  # only the rest was fetched


def test_pulled_cable_then_resume_from_the_last_verified_byte(tmp_path: Path) -> None:
    sent = write_frames(tmp_path / "can.bin", 0, 3000)
    with FirmwareOnPty(tmp_path, tmp_path / "can.bin") as fw:
        wait_for(lambda: logged_frames(fw.port) == len(sent), 20, "the firmware to log")
        relay = Relay(fw.port, flip_rate=0.0, seed=0)
        relay.start()
        ser = open_port(relay.port)
        client = DeviceClient(ser, relay.port)

        def pull(progress: object) -> None:
            if getattr(progress, "done", 0) >= 20_000:
                relay.pull()  # the cable comes out mid-transfer

        try:
            with pytest.raises(LinkLostError, match="resumes where it stopped"):
                db = store.open_db(tmp_path / "k.db")
                sync(client, Archive(tmp_path / "archive"), db, progress=pull)
        finally:
            ser.close()
            relay.stop()
        kept = Archive(tmp_path / "archive").partial_size("test-unit", "00010000.KLG")
        result = sync_port(fw.port, tmp_path / "archive", tmp_path / "k.db")
    assert kept >= 20_000
    seg = result.segments[0]
    assert seg.name == "00010000.KLG" and seg.status == "imported"
    assert seg.fetched == seg.size - kept
    assert db_frames(tmp_path / "k.db") == sent


def test_damaged_bytes_are_caught_by_crc_and_fetched_again(tmp_path: Path) -> None:
    sent = write_frames(tmp_path / "can.bin", 0, 2000)
    with FirmwareOnPty(tmp_path, tmp_path / "can.bin") as fw:
        wait_for(lambda: logged_frames(fw.port) == len(sent), 20, "the firmware to log")
        relay = Relay(fw.port, flip_rate=1 / 3000, seed=7)
        relay.start()
        try:
            ser = open_port(relay.port)
            client = DeviceClient(ser, relay.port, timeout=0.3, retries=8)
            result = sync(client, Archive(tmp_path / "a"), store.open_db(tmp_path / "k.db"))
            ser.close()
        finally:
            relay.stop()
        counters = json.loads(json.dumps(logged_counters(fw.port)))
    assert relay.flipped > 0
    assert result.link.restarts + result.link.timeouts > 0
    assert (
        client.decoder.crc_errors
        + client.decoder.header_errors
        + counters["link_crc_errors"]
        + counters["link_header_errors"]
        > 0
    )
    assert db_frames(tmp_path / "k.db") == sent


def logged_counters(port: str) -> dict[str, int]:
    ser = open_port(port)
    try:
        client = DeviceClient(ser, port)
        client.hello()
        return client.counters()
    finally:
        ser.close()


def test_version_mismatch_is_refused_and_says_which_side_to_update(tmp_path: Path) -> None:
    write_frames(tmp_path / "can.bin", 0, 10)
    with FirmwareOnPty(tmp_path, tmp_path / "can.bin") as fw:
        ser = open_port(fw.port)
        try:
            newer_host = DeviceClient(ser, fw.port, version=P.PROTOCOL_VERSION + 1)
            with pytest.raises(VersionMismatchError) as info:
                newer_host.hello()
            # the same device still serves a host of its own version
            assert DeviceClient(ser, fw.port).hello().protocol == P.PROTOCOL_VERSION
        finally:
            ser.close()
        counters = logged_counters(fw.port)
    assert "update the firmware on the device" in str(info.value)
    assert info.value.device_version == P.PROTOCOL_VERSION
    assert counters["hello_refused"] == 1


def test_config_is_read_and_replaced_only_when_valid(tmp_path: Path) -> None:
    write_frames(tmp_path / "can.bin", 0, 10)
    with FirmwareOnPty(tmp_path, tmp_path / "can.bin") as fw:
        ser = open_port(fw.port)
        try:
            client = DeviceClient(ser, fw.port)
            client.hello()
            stored = client.get_config()
            with pytest.raises(DeviceError, match="flush_ms must be between 50 and 60000"):
                client.put_config(json.dumps({"flush_ms": 5}).encode())
            assert fw.cfg_path.read_bytes() == stored
            new = json.loads(stored)
            new["flush_ms"] = 250
            client.put_config(json.dumps(new).encode())
        finally:
            ser.close()
    assert json.loads(stored)["usb"] == {"path": "stdio"}
    assert json.loads(fw.cfg_path.read_text())["flush_ms"] == 250


def test_a_device_that_never_answers_times_out_with_a_clear_error(tmp_path: Path) -> None:
    master, slave = os.openpty()  # nobody serves the other end
    try:
        with pytest.raises(LinkTimeoutError) as info:
            sync_port(os.ttyname(slave), tmp_path / "a", tmp_path / "k.db", timeout=0.2, retries=1)
    finally:
        os.close(master)
        os.close(slave)
    assert "no answer to HELLO after 2 tries of 0.2 s" in str(info.value)
    assert "is the keilog firmware running" in str(info.value)


def test_a_port_that_cannot_be_opened_is_a_link_error(tmp_path: Path) -> None:
    with pytest.raises(LinkLostError, match="cannot open the port"):
        sync_port(str(tmp_path / "no-such-tty"), tmp_path / "a", tmp_path / "k.db")


def list_segments(port: str) -> list[Entry]:
    ser = open_port(port)
    try:
        client = DeviceClient(ser, port)
        client.hello()
        return client.list_segments(include_acked=True)
    finally:
        ser.close()


def test_with_the_ignition_off_the_last_segment_is_synced_and_acknowledged(
    tmp_path: Path,
) -> None:
    sent = write_frames(tmp_path / "can.bin", 0, 1000)
    ignition = tmp_path / "ignition_mv"
    ignition.write_text("12500\n")
    power = {"ignition_pin": str(ignition), "ignition_mv": 9000}
    with FirmwareOnPty(tmp_path, tmp_path / "can.bin", power=power) as fw:
        wait_for(lambda: logged_frames(fw.port) == len(sent), 20, "the firmware to log")
        ignition.write_text("0\n")  # key off: the logger closes its segment and parks
        wait_for(lambda: all(e.sealed for e in list_segments(fw.port)), 20, "the park")
        result = sync_port(fw.port, tmp_path / "archive", tmp_path / "k.db")
        after = list_segments(fw.port)
    assert result.sealed is None  # nothing was being written
    assert [(s.status, s.acknowledged) for s in result.segments] == [("imported", True)]
    assert [(e.name, e.acked) for e in after] == [("00010000.KLG", True)]
    assert db_frames(tmp_path / "k.db") == sent
