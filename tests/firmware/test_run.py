"""The whole firmware on the unix port (docs/firmware-unix.md): bus events, the clock set
by GPS mid-run, a car without CAN, OBD-II polling over a unix stream socket."""

from __future__ import annotations

import functools
import os
import socket
import struct
import threading
import time
from datetime import UTC, datetime

import cantools
from keilog.logformat.reader import CanFrame, ClockAnchor, GpsFix, apply_clock
from keilog.unixport.firmware import pack_can_frame

from tests.conftest import ROOT
from tests.firmware.fwrun import events, frame_number, frames, records, run, segments, seq_frame

CAN_ERR = 0x20000000  # Linux can/error.h: CAN_ERR_FLAG
ERR_CRTL, ERR_BUSOFF = 0x04, 0x40  # error classes (in the id)
CRTL_RX_OVERFLOW, CRTL_RX_WARNING, CRTL_RX_PASSIVE = 0x01, 0x04, 0x10  # data[1]


def error_frame(cls: int, ctrl: int = 0) -> bytes:
    """A SocketCAN error frame: class bits in the id, controller status in data[1]."""
    return struct.pack("<IB3x8s", CAN_ERR | cls, 8, bytes([0, ctrl, 0, 0, 0, 0, 0, 0]))


def nmea(body: str) -> bytes:
    cs = functools.reduce(lambda a, c: a ^ c, body.encode(), 0)
    return f"${body}*{cs:02X}\r\n".encode()


def test_overrun_and_bus_state_events_from_socketcan_error_frames(tmp_path):
    stream = b"".join(
        [
            seq_frame(0),
            error_frame(ERR_CRTL, CRTL_RX_OVERFLOW),  # the controller lost frames
            seq_frame(1),
            error_frame(ERR_CRTL, CRTL_RX_WARNING),
            error_frame(ERR_CRTL, CRTL_RX_PASSIVE),
            error_frame(ERR_BUSOFF),
            seq_frame(2),
        ]
    )
    (tmp_path / "bus.bin").write_bytes(stream)
    cfg = {
        "can": {"source": str(tmp_path / "bus.bin"), "eof": "wait"},
        "storage": {"path": str(tmp_path / "log")},
        "run_s": 2,  # bus-off: the CAN service restarts the controller after 1 s
    }
    run(tmp_path, cfg)
    segs = segments(tmp_path / "log")
    assert [frame_number(f) for f in frames(segs) if not f.is_error_frame] == [0, 1, 2]
    errors = [f for f in frames(segs) if f.is_error_frame]
    assert [f.arbitration_id for f in errors] == [ERR_CRTL, ERR_CRTL, ERR_CRTL, ERR_BUSOFF]
    assert events(segs, "overrun") == [1]
    # passive (2) and bus-off (3) come in one read; the last state is what is logged,
    # then error-active (0) after the restart
    assert events(segs, "bus_state") in ([1, 2, 3, 0], [3, 0], [2, 3, 0], [1, 3, 0])
    assert events(segs, "bus_state")[-2:] == [3, 0]


class Writer(threading.Thread):
    def __init__(self, path, chunks):
        super().__init__(daemon=True)
        self.path, self.chunks = path, chunks

    def run(self) -> None:
        with open(self.path, "wb", buffering=0) as f:
            for delay, data in self.chunks:
                time.sleep(delay)
                f.write(data)


def test_the_first_gps_fix_sets_the_clock_mid_run(tmp_path):
    # The system clock says one thing; at 0.5 s the GPS says it is 2025-06-01 12:00:00
    # UTC. The GPS anchor wins for every record of the boot, also those before the fix.
    can_fifo, gps_fifo = tmp_path / "can.fifo", tmp_path / "gps.fifo"
    os.mkfifo(can_fifo)
    os.mkfifo(gps_fifo)
    fix = nmea("GPRMC,120000.00,A,3520.000,N,13845.000,E,010.0,090.0,010625,,,A")
    fix += nmea("GPGGA,120000.00,3520.000,N,13845.000,E,1,09,0.8,12.0,M,40.0,M,,")
    can_chunks = [(0.01, seq_frame(i)) for i in range(200)]  # ~2 s at 100 frames/s
    gps_chunks = [(0.5, fix)]
    writers = [Writer(can_fifo, can_chunks), Writer(gps_fifo, gps_chunks)]
    for w in writers:
        w.start()
    cfg = {
        "can": {"source": str(can_fifo)},
        "gps": {"source": str(gps_fifo)},
        "storage": {"path": str(tmp_path / "log"), "rotate_bytes": 4096},
        "flush_ms": 100,
    }
    run(tmp_path, cfg)
    segs = segments(tmp_path / "log")
    recs = records(segs)
    anchors = [r for r in recs if isinstance(r, ClockAnchor)]
    assert anchors[0].source == "system"
    gps_anchor = next(a for a in anchors if a.source == "gps")
    fix_utc = int(datetime(2025, 6, 1, 12, tzinfo=UTC).timestamp() * 1e6)
    assert gps_anchor.utc_us == fix_utc
    assert events(segs, "clock_set") == [1]  # source 1: GPS
    # Once the fix is in (its epoch completes half an epoch period after its last
    # sentence), new segments anchor themselves from the RTC the GPS set.
    later = anchors[anchors.index(gps_anchor) + 1 :]
    assert later and {a.source for a in later} == {"rtc"}
    for a in later:
        assert abs((a.utc_us - fix_utc) - (a.mono_us - gps_anchor.mono_us)) < 2000
    # Every frame, before and after the fix, on the GPS time line, in order.
    timed = [r for r in apply_clock(recs, anchors) if isinstance(r, CanFrame)]
    stamps = [r.timestamp for r in timed]
    assert stamps == sorted(stamps)
    assert fix_utc / 1e6 - 1 < stamps[0] < fix_utc / 1e6 < stamps[-1] < fix_utc / 1e6 + 3
    assert [frame_number(f) for f in timed] == list(range(200))
    fixes = [r for r in recs if isinstance(r, GpsFix)]
    assert len(fixes) == 1 and fixes[0].utc_us == fix_utc
    assert (fixes[0].lat, fixes[0].lon) == (35.333333, 138.75)


def test_a_car_without_can_still_logs_gps(tmp_path):
    sentences = b"".join(
        nmea(f"GNRMC,0800{s:02d}.00,A,3520.000,N,13845.{s:03d},E,020.0,090.0,010625,,,A")
        for s in range(5)
    )
    (tmp_path / "gps.nmea").write_bytes(sentences)
    cfg = {
        "gps": {"source": str(tmp_path / "gps.nmea")},
        "storage": {"path": str(tmp_path / "log")},
    }
    proc = run(tmp_path, cfg)
    assert "logged 0 frames" in proc.stderr
    fixes = [r for r in records(segments(tmp_path / "log")) if isinstance(r, GpsFix)]
    assert len(fixes) == 5
    assert [round(f.speed_mps, 2) for f in fixes] == [10.29] * 5  # 20 knots
    # 138°45.00s' E: 1e-6 degree resolution, rounded
    assert [f.lon for f in fixes] == [round(138.75 + s / 1000 / 60, 6) for s in range(5)]


def obd_ecu(server: socket.socket, stop: threading.Event, log: list) -> None:
    """An engine ECU on the other end of the firmware's CAN socket: answers mode 01."""
    conn, _ = server.accept()
    conn.settimeout(0.1)
    buf = b""
    while not stop.is_set():
        try:
            data = conn.recv(64)
        except TimeoutError:
            continue
        if not data:
            break
        buf += data
        while len(buf) >= 16:
            can_id, _dlc, payload = struct.unpack("<IB3x8s", buf[:16])
            buf = buf[16:]
            log.append((can_id, payload))
            if can_id == 0x7DF and payload[1] == 0x01:
                pid = payload[2]
                value = {0x0D: b"\x3c", 0x0C: b"\x1a\xf8"}.get(pid)
                if value is not None:
                    answer = bytes([2 + len(value), 0x41, pid]) + value
                    conn.sendall(pack_can_frame(0x7E8, answer.ljust(8, b"\x00")))
    conn.close()


def test_obd_polling_over_a_unix_socket_decodes_with_obd2_dbc(tmp_path):
    path = str(tmp_path / "can.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    stop, seen = threading.Event(), []
    ecu = threading.Thread(target=obd_ecu, args=(server, stop, seen), daemon=True)
    ecu.start()
    cfg = {
        "can": {"source": path, "eof": "wait"},
        "obd": {"enabled": True, "pids": [0x0D, 0x0C], "interval_ms": 400},
        "storage": {"path": str(tmp_path / "log")},
        "run_s": 1,
    }
    run(tmp_path, cfg)
    stop.set()
    ecu.join(5)
    server.close()
    # 400 ms / 2 PIDs: a request every 200 ms, so 5 or 6 in the 1 s run
    assert 5 <= len(seen) <= 6
    assert [p.hex() for _, p in seen[:2]] == ["02010d0000000000", "02010c0000000000"]
    db = cantools.database.load_file(str(ROOT / "dbc" / "obd2.dbc"))
    logged = frames(segments(tmp_path / "log"))
    answers = [db.decode_message(0x7E8, f.data) for f in logged if f.arbitration_id == 0x7E8]
    assert {a["PID"] for a in answers} == {0x0D, 0x0C}
    assert {a["VEHICLE_SPEED"] for a in answers if "VEHICLE_SPEED" in a} == {60}
    assert {a["ENGINE_RPM"] for a in answers if "ENGINE_RPM" in a} == {1726}  # 0x1AF8 / 4
    assert [f.data.hex() for f in logged if f.arbitration_id == 0x7DF] == [
        p.hex() for i, p in seen if i == 0x7DF
    ]
