"""The host end of the sync protocol: requests, retries, pipelined reads.

:class:`DeviceClient` talks to a logger over anything with pyserial's ``read`` /
``write`` / ``reset_input_buffer`` / ``in_waiting`` (a :class:`serial.Serial`, or the
in-memory link of the tests). Frames are built and parsed by the firmware's own
``syncproto`` module (:mod:`keilog.sync.proto`). Every request is retried on timeout
or a damaged reply; reads keep several requests in flight and restart from the last
byte that arrived intact.
"""

from __future__ import annotations

import json
import re
import struct
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import serial

from keilog.sync.errors import (
    DeviceError,
    InvalidReplyError,
    LinkLostError,
    LinkTimeoutError,
    VersionMismatchError,
)
from keilog.sync.proto import SyncProto, load

US_PER_DAY = 86_400_000_000
_SMALLEST_CHUNK = 128
_FRAMES_PER_RUN = 8  # READ asks for runs of max_data * 8 bytes (32 KiB)
_MAX_CONFIG = 1 << 20
# What the host accepts of a device (docs/sync-protocol.md, "What the host checks"): a
# device id becomes a folder name in the archive, so it is letters, digits, '.', '_'
# and '-' only, starting with a letter or digit (never '.' or '..'); max_data divides
# the READ arithmetic and sizes frames.
DEVICE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,15}\Z")
MIN_MAX_DATA = 64


class Port(Protocol):
    """What the client needs of a serial port (pyserial's names)."""

    @property
    def in_waiting(self) -> int: ...

    def read(self, size: int = 1) -> bytes: ...

    def write(self, data: bytes, /) -> int | None: ...

    def reset_input_buffer(self) -> None: ...


@dataclass
class DeviceInfo:
    """What the device said in HELLO."""

    protocol: int
    caps: int
    firmware: str
    max_data: int
    boot: int
    device_id: str
    board: str
    free_bytes: int
    total_bytes: int
    mono_us: int
    device_utc_us: int | None
    host_utc_us: int

    @property
    def clock_offset_s(self) -> float | None:
        """Device clock minus host clock at HELLO, seconds (None: the device had none)."""
        if self.device_utc_us is None:
            return None
        return (self.device_utc_us - self.host_utc_us) / 1e6


@dataclass
class Entry:
    """One segment as LIST/STAT/ACK report it."""

    name: str
    size: int
    sealed: bool
    acked: bool
    sha256: str | None


@dataclass
class ClockSet:
    """The result of SET_CLOCK."""

    host_utc_us: int
    device_utc_before_us: int | None
    anchor_mono_us: int

    @property
    def offset_before_s(self) -> float | None:
        if self.device_utc_before_us is None:
            return None
        return (self.device_utc_before_us - self.host_utc_us) / 1e6


@dataclass
class LinkStats:
    """Bytes and trouble on the link, for reports and the benchmark."""

    bytes_out: int = 0
    bytes_in: int = 0
    payload_in: int = 0
    frames_in: int = 0
    timeouts: int = 0
    restarts: int = 0
    errors: dict[str, int] = field(default_factory=dict)


def utc_parts(utc_us: int) -> tuple[int, int, int]:
    """(days since 1970, ms of day, us) of a UTC time in microseconds."""
    day, rem = divmod(utc_us, US_PER_DAY)
    return day, rem // 1000, rem % 1000


def utc_now_us() -> int:
    return time.time_ns() // 1000


def _unpack(fmt: str, body: bytes, offset: int = 0) -> tuple[Any, ...]:
    try:
        return struct.unpack_from(fmt, body, offset)
    except struct.error as exc:
        raise DeviceError(f"malformed reply from the device ({exc})", 0, "reply") from exc


def _text(raw: bytes) -> str:
    return raw.rstrip(b"\x00").decode("ascii", errors="replace")


def _printable(text: str) -> bool:
    return all(32 <= ord(c) < 127 for c in text)


class DeviceClient:
    """One sync session with a device over ``port`` (``name`` is used in messages)."""

    def __init__(
        self,
        port: Port,
        name: str = "the device",
        *,
        timeout: float = 1.0,
        retries: int = 4,
        window: int = 4,
        version: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.p: SyncProto = load()
        self.port = port
        self.name = name
        self.timeout = timeout
        self.retries = retries
        self.window = max(1, window)
        self.version = self.p.PROTOCOL_VERSION if version is None else version
        self.clock = clock
        self.sleep = sleep
        self.decoder = self.p.Decoder()
        self.pending: deque[tuple[int, int, bytes]] = deque()
        self.seq = 0
        self.stats = LinkStats()
        self.info: DeviceInfo | None = None

    # -- frames ---------------------------------------------------------------------
    def _next_seq(self) -> int:
        self.seq = (self.seq + 1) & 0xFFFF
        return self.seq

    def _send(self, kind: int, seq: int, payload: bytes) -> None:
        wire = self.p.stuff(self.p.encode(kind, seq, payload))
        try:
            self.port.write(wire)
        except (serial.SerialException, OSError) as exc:
            raise LinkLostError(
                f"{self.name}: the link was lost while sending ({exc}); plug the logger "
                "back in and run keilog sync again: it resumes where it stopped"
            ) from exc
        self.stats.bytes_out += len(wire)

    def _recv(self, deadline: float) -> tuple[int, int, bytes] | None:
        """The next frame from the device, or None at the deadline."""
        while not self.pending:
            try:
                data = self.port.read(max(1, self.port.in_waiting))
            except (serial.SerialException, OSError) as exc:
                raise LinkLostError(
                    f"{self.name}: the link was lost ({exc}); plug the logger back in and "
                    "run keilog sync again: it resumes where it stopped"
                ) from exc
            if data:
                self.stats.bytes_in += len(data)
                self.pending.extend(self.decoder.feed(data))
            elif self.clock() >= deadline:
                return None
        frame = self.pending.popleft()
        self.stats.frames_in += 1
        return frame

    def _device_error(self, kind: int, payload: bytes) -> DeviceError:
        code = _unpack("<H", payload)[0] if len(payload) >= 2 else 0
        text = payload[2:].decode("utf-8", errors="replace")
        cmd = _COMMAND_NAMES.get(kind, f"0x{kind:02X}")
        what = self.p.ERROR_NAMES.get(code, f"error {code}")
        name = what.replace(" ", "_")
        self.stats.errors[name] = self.stats.errors.get(name, 0) + 1
        return DeviceError(f"{self.name}: {cmd} refused ({what}): {text}", code, cmd)

    def request(self, kind: int, payload: bytes = b"", timeout: float | None = None) -> bytes:
        """Send one request, return the reply payload. Retries keep the same sequence
        number, so the device answers a repeated non-idempotent request only once."""
        wait = self.timeout if timeout is None else timeout
        seq = self._next_seq()
        rehello = kind != self.p.HELLO
        for _attempt in range(self.retries + 1):
            self._send(kind, seq, payload)
            deadline = self.clock() + wait
            while True:
                frame = self._recv(deadline)
                if frame is None:
                    self.stats.timeouts += 1
                    break
                fkind, fseq, body = frame
                if fseq != seq:
                    continue  # a late reply to an earlier request
                if fkind == self.p.ERROR:
                    err = self._device_error(kind, body)
                    if err.code == self.p.E_NO_SESSION and rehello:
                        rehello = False  # the device restarted: greet it again, once
                        self.hello()
                        seq = self._next_seq()
                        break
                    raise err
                if fkind == kind | self.p.REPLY:
                    return body
        raise LinkTimeoutError(
            f"{self.name}: no answer to {_COMMAND_NAMES.get(kind, hex(kind))} after "
            f"{self.retries + 1} tries of {wait:g} s: is the keilog firmware running (not "
            "the REPL or another program), with usb.enabled in its config?"
        )

    # -- commands -------------------------------------------------------------------
    def hello(self) -> DeviceInfo:
        p = self.p
        host_utc = utc_now_us()
        body = self.request(p.HELLO, struct.pack(p.FMT_HELLO_REQ, self.version, 0))
        if len(body) < 3:
            raise DeviceError(f"{self.name}: HELLO reply too short", 0, "HELLO")
        device_version, accepted = _unpack("<HB", body)
        if not accepted or device_version != self.version:
            advice = p.version_advice(self.version, device_version)
            raise VersionMismatchError(f"{self.name}: {advice}", self.version, device_version)
        (
            version,
            _accepted,
            caps,
            fw_major,
            fw_minor,
            fw_patch,
            max_data,
            boot,
            device_id,
            board,
            free_kib,
            total_kib,
            mono_hi,
            mono_lo,
            utc_known,
            day,
            ms,
            us,
        ) = _unpack(p.FMT_HELLO, body)
        ident = _text(device_id)
        if not DEVICE_ID.match(ident):
            raise InvalidReplyError(
                f"{self.name}: the device calls itself {ident!r}, which is not a device id "
                "(1 to 16 letters, digits, '.', '_' or '-', starting with a letter or digit): "
                "nothing was synced; set device.id in its config (keilog config) or reinstall "
                "its firmware (keilog deploy)"
            )
        max_payload = p.MAX_PAYLOAD - p.READ_HEADER
        problems = []
        if not MIN_MAX_DATA <= max_data <= max_payload:
            problems.append(f"max_data {max_data} (not {MIN_MAX_DATA}..{max_payload})")
        if mono_lo >= 1 << 30:
            problems.append(f"monotonic clock µs {mono_lo} (not below 2^30)")
        if utc_known and (ms >= 86_400_000 or us >= 1000):
            problems.append(f"UTC ms of day {ms}, µs {us}")
        if free_kib > total_kib:
            problems.append(f"{free_kib} KiB free of {total_kib}")
        if not _printable(_text(board)):
            problems.append(f"board {_text(board)!r}")
        if problems:
            raise InvalidReplyError(
                f"{self.name}: device {ident}: its HELLO says {', '.join(problems)}: "
                "nothing was synced; reinstall its firmware (keilog deploy)"
            )
        self.info = DeviceInfo(
            protocol=version,
            caps=caps,
            firmware=f"{fw_major}.{fw_minor}.{fw_patch}",
            max_data=max_data,
            boot=boot,
            device_id=ident,
            board=_text(board),
            free_bytes=free_kib * 1024,
            total_bytes=total_kib * 1024,
            mono_us=mono_hi * (1 << 30) + mono_lo,
            device_utc_us=(day * US_PER_DAY + ms * 1000 + us) if utc_known else None,
            host_utc_us=host_utc,
        )
        return self.info

    @property
    def who(self) -> str:
        """The port and, once HELLO told it, the device id: what messages name."""
        return f"{self.name}: device {self.info.device_id}" if self.info else self.name

    def segment_name(self, raw: bytes, what: str) -> str:
        """A segment name the device sent, refused unless it is BBBBSSSS.KLG."""
        name = _text(raw)
        if not self.p.is_segment_name(name):
            raise InvalidReplyError(
                f"{self.who}: {what} a segment named {name!r}, which is not a segment name "
                "(BBBBSSSS.KLG): refused and nothing was written; reinstall its firmware "
                "(keilog deploy)"
            )
        return name

    def _entry(self, body: bytes, offset: int = 0, what: str = "listed") -> Entry:
        p = self.p
        raw, size, flags, sha = _unpack(p.FMT_ENTRY, body, offset)
        return Entry(
            name=self.segment_name(raw, what),
            size=size,
            sealed=bool(flags & p.F_SEALED),
            acked=bool(flags & p.F_ACKED),
            sha256=sha.hex() if flags & p.F_HASHED else None,
        )

    def list_segments(self, include_acked: bool = False) -> list[Entry]:
        """Every segment on the device (unacknowledged ones unless include_acked)."""
        p = self.p
        out: list[Entry] = []
        after = b""
        flags = p.L_ACKED if include_acked else 0
        while True:
            body = self.request(p.LIST, struct.pack(p.FMT_LIST_REQ, after, flags, 0))
            count, more = _unpack(p.FMT_LIST, body)
            for i in range(count):
                entry = self._entry(body, 2 + i * p.ENTRY_SIZE)
                if out and entry.name <= out[-1].name:
                    raise InvalidReplyError(
                        f"{self.who}: listed {entry.name} after {out[-1].name} (names must "
                        "increase): nothing more was synced; reinstall its firmware "
                        "(keilog deploy)"
                    )
                out.append(entry)
            if not more or not count or out[-1].name.encode() <= after:
                return out  # (names only ever increase: a device saying otherwise is done)
            after = out[-1].name.encode()

    def stat(self, name: str) -> Entry:
        body = self.request(self.p.STAT, struct.pack(self.p.FMT_NAME, name.encode()))
        return self._entry(body, what="answered STAT with")

    def wait_hashed(self, name: str, timeout: float) -> Entry:
        """STAT until the device has the segment's sha256 (it hashes in the background)."""
        deadline = self.clock() + timeout
        while True:
            entry = self.stat(name)
            if entry.sha256 is not None or not entry.sealed or entry.acked:
                return entry
            if self.clock() >= deadline:
                raise LinkTimeoutError(
                    f"{self.name}: {name}: the device did not finish its sha256 in "
                    f"{timeout:g} s; run keilog sync again"
                )
            self.sleep(0.02)

    def read(
        self,
        name: str,
        start: int,
        end: int,
        sink: Callable[[int, bytes], None],
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Read bytes [start, end) of a segment into sink(offset, data), in order.

        Each READ asks for a run of up to 32 KiB, which the device answers frame by
        frame; two runs stay in flight. A frame that is missing (lost or damaged) makes
        the read restart from the last byte that arrived, with runs and frames halved
        (they grow back after clean replies), up to ``retries`` times in a row without
        progress. Returns where it stopped: end, or less when the device has less (the
        segment being written ends at its last flushed block)."""
        p = self.p
        info = self.info
        frame_max = info.max_data if info else p.MAX_DATA
        largest = max(frame_max, min(frame_max * _FRAMES_PER_RUN, 0xFFFF // frame_max * frame_max))
        run = largest
        clean = 0
        done = start
        ask = start
        # seq -> [end of the run, deadline of its next frame]
        inflight: OrderedDict[int, list[float]] = OrderedDict()
        failures = 0
        stalled_at = -1
        raw_name = name.encode()
        window = 2 if self.window > 1 else 1
        while done < end:
            while len(inflight) < window and ask < end:
                n = min(run, end - ask)
                seq = self._next_seq()
                self._send(p.READ, seq, struct.pack(p.FMT_READ_REQ, raw_name, ask, n))
                inflight[seq] = [ask + n, self.clock() + self.timeout]
                ask += n
            oldest_seq, oldest = next(iter(inflight.items()))
            frame = self._recv(oldest[1])
            restart = False
            if frame is None:
                self.stats.timeouts += 1
                restart = True
            else:
                kind, seq, body = frame
                if seq not in inflight:
                    continue  # a late reply from before a restart
                if kind == p.ERROR:
                    raise self._device_error(p.READ, body)
                if seq != oldest_seq or kind != p.READ | p.REPLY or len(body) < p.READ_HEADER:
                    restart = True  # frames come in order: an earlier one went missing
                else:
                    r_off, size, _flags = _unpack(p.FMT_READ, body)
                    data = body[p.READ_HEADER :]
                    run_end = min(int(oldest[0]), size)
                    if r_off != done or done + len(data) > run_end:
                        restart = True
                    elif not data:
                        return done  # the device has no more (yet)
                    else:
                        sink(done, data)
                        done += len(data)
                        self.stats.payload_in += len(data)
                        if progress is not None:
                            progress(len(data))
                        oldest[1] = self.clock() + self.timeout
                        if done >= run_end:
                            del inflight[oldest_seq]
                            if run_end < oldest[0]:
                                return done  # the segment is shorter than asked
                            clean += 1
                            if clean >= 4 and run < largest:
                                run = min(largest, run * 2)
                                clean = 0
            if restart:
                failures = failures + 1 if done == stalled_at else 1
                stalled_at = done
                if failures > self.retries:
                    raise LinkTimeoutError(
                        f"{self.name}: reading {name} stalled at byte {done} after "
                        f"{self.retries + 1} tries; run keilog sync again: it resumes there"
                    )
                self.stats.restarts += 1
                run = max(_SMALLEST_CHUNK, run // 2)
                clean = 0
                inflight.clear()
                ask = done
        return done

    def ack(self, name: str, size: int, sha256: str, timeout: float = 60.0) -> Entry:
        """Tell the device the segment is safe; waits while it finishes its sha256."""
        p = self.p
        payload = struct.pack(p.FMT_ACK_REQ, name.encode(), size, bytes.fromhex(sha256))
        deadline = self.clock() + timeout
        while True:
            try:
                return self._entry(self.request(p.ACK, payload), what="answered ACK with")
            except DeviceError as exc:
                if exc.code != p.E_BUSY or self.clock() >= deadline:
                    raise
            self.sleep(0.02)

    def set_clock(self, utc_us: int | None = None) -> ClockSet:
        """Offer the host's UTC (now, unless given); the device anchors its log to it."""
        p = self.p
        host = utc_now_us() if utc_us is None else utc_us
        body = self.request(p.SET_CLOCK, struct.pack(p.FMT_CLOCK_REQ, *utc_parts(host)))
        known, day, ms, us, hi, lo = _unpack(p.FMT_CLOCK, body)
        before = day * US_PER_DAY + ms * 1000 + us if known else None
        return ClockSet(host, before, hi * (1 << 30) + lo)

    def rotate(self) -> str | None:
        """Seal the segment being written; returns its name (None if none was open)."""
        body = self.request(self.p.ROTATE)
        raw = body[: self.p.NAME_SIZE]
        if not raw.rstrip(b"\x00"):
            return None
        return self.segment_name(raw, "sealed")

    def counters(self) -> dict[str, Any]:
        try:
            data = json.loads(self.request(self.p.COUNTERS).decode())
        except ValueError as exc:
            raise DeviceError(f"{self.who}: COUNTERS is not JSON ({exc})", 0, "COUNTERS") from exc
        except RecursionError:  # json's limit on nesting: a lying device's 16 KiB of '['
            raise DeviceError(f"{self.who}: COUNTERS is nested too deep", 0, "COUNTERS") from None
        if not isinstance(data, dict):
            raise DeviceError(f"{self.who}: COUNTERS is not a JSON object", 0, "COUNTERS")
        return data

    def get_config(self) -> bytes:
        """The device's config file as stored (empty: it runs on defaults)."""
        p = self.p
        out = bytearray()
        while True:
            body = self.request(p.CONFIG_GET, struct.pack(p.FMT_OFFSET, len(out)))
            (total,) = _unpack(p.FMT_OFFSET, body)
            if total > _MAX_CONFIG:
                raise DeviceError(f"{self.name}: a config of {total} bytes?", 0, "CONFIG_GET")
            out += body[4:]
            if len(out) >= total or len(body) <= 4:
                return bytes(out[:total])

    def put_config(self, data: bytes) -> None:
        """Replace the device's config file; the device validates it against its SCHEMA
        first and refuses (DeviceError, code E_CONFIG) with the reasons. It takes effect
        at the next boot."""
        p = self.p
        step = p.MAX_REQUEST - 8
        offset = 0
        while True:
            piece = data[offset : offset + step]
            self.request(p.CONFIG_PUT, struct.pack(p.FMT_CONFIG_PUT_REQ, offset, len(data)) + piece)
            offset += len(piece)
            if offset >= len(data):
                return

    def bye(self) -> None:
        self.request(self.p.BYE)


_COMMAND_NAMES = {
    0x01: "HELLO",
    0x02: "LIST",
    0x03: "STAT",
    0x04: "READ",
    0x05: "ACK",
    0x06: "SET_CLOCK",
    0x07: "CONFIG_GET",
    0x08: "CONFIG_PUT",
    0x09: "COUNTERS",
    0x0A: "ROTATE",
    0x0B: "BYE",
}
