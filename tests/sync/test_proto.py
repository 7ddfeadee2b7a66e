"""The sync protocol module (firmware/lib/logger/syncproto.py) and the parsers of
untrusted bytes on both ends, fuzzed with hypothesis."""

from __future__ import annotations

import contextlib
import json
import random
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from keilog.sync import DeviceClient, SyncError
from keilog.sync.proto import load, source_path

from tests.conftest import FIRMWARE_LIB, micropython_path
from tests.sync.conftest import device_service
from tests.sync.memlink import Wire

P = load()

kinds = st.integers(0, 255)
seqs = st.integers(0, 0xFFFF)
payloads = st.binary(max_size=600)
frames = st.tuples(kinds, seqs, payloads)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    out, last = [], 0
    for c in points:
        out.append(data[last:c])
        last = c
    out.append(data[last:])
    return out


def test_the_host_loads_the_firmware_file_itself() -> None:
    assert Path(P.__file__).resolve() == (FIRMWARE_LIB / "logger" / "syncproto.py").resolve()  # type: ignore[attr-defined]
    assert source_path().resolve() == Path(P.__file__).resolve()  # type: ignore[attr-defined]


def test_the_worked_example_frame() -> None:
    # docs/sync-protocol.md, "A frame, byte by byte": HELLO, seq 7, version 1
    frame = P.encode(P.HELLO, 7, struct.pack(P.FMT_HELLO_REQ, 1, 0))
    assert frame.hex(" ") == "4b 53 01 00 07 00 04 00 e0 dc 01 00 00 00 37 59 b4 74"


def test_micropython_encodes_the_same_bytes_as_cpython() -> None:
    request = "P.encode(P.READ, 513, struct.pack(P.FMT_READ_REQ, b'00010002.KLG', 4096, 4096))"
    script = (
        f"import sys\nsys.path.insert(0, {str(FIRMWARE_LIB)!r})\n"
        "from logger import syncproto as P\nimport struct\n"
        f"print({request}.hex())\n"
        "print(P.stuff(bytes(range(256))).hex())\n"
    )
    out = subprocess.run(
        [micropython_path(), "-c", script], capture_output=True, text=True, timeout=30, check=True
    ).stdout.split()
    assert out == [
        P.encode(P.READ, 513, struct.pack(P.FMT_READ_REQ, b"00010002.KLG", 4096, 4096)).hex(),
        P.stuff(bytes(range(256))).hex(),
    ]


@pytest.mark.parametrize(
    ("fmt", "size"),
    [
        (P.FMT_HELLO, P.HELLO_SIZE),
        (P.FMT_ENTRY, P.ENTRY_SIZE),
        (P.FMT_READ, P.READ_HEADER),
        (P.FMT_NAME, P.NAME_SIZE),
    ],
)
def test_layout_sizes_match_the_spec(fmt: str, size: int) -> None:
    assert struct.calcsize(fmt) == size


@given(st.binary(max_size=2000))
def test_stuffing_removes_every_ctrl_c_and_round_trips(data: bytes) -> None:
    wire = P.stuff(data)
    assert 0x03 not in wire
    assert P.unstuff(wire) == data


@given(st.lists(frames, max_size=6), st.binary(max_size=200), st.lists(st.integers(0, 10**6)))
def test_host_decoder_finds_every_frame_after_noise_in_any_chunks(
    fs: list[tuple[int, int, bytes]], noise: bytes, cuts: list[int]
) -> None:
    noise = noise.replace(b"K", b"k")  # noise without the magic's first byte
    data = noise + b"".join(P.encode(*f) for f in fs)
    dec = P.Decoder()
    got = [f for chunk in split(data, cuts) for f in dec.feed(chunk)]
    assert got == fs
    assert dec.skipped == len(noise)


@given(st.binary(max_size=3000), st.lists(st.integers(0, 10**6), max_size=8))
def test_host_decoder_never_invents_a_frame(data: bytes, cuts: list[int]) -> None:
    dec = P.Decoder()
    for chunk in split(data, cuts):
        for kind, seq, payload in dec.feed(chunk):
            assert P.encode(kind, seq, payload) in data


@given(
    st.lists(frames, min_size=1, max_size=4, unique_by=lambda f: f[1]),
    st.binary(max_size=3000),
    st.randoms(),
)
def test_host_decoder_survives_damage_and_keeps_undamaged_frames(
    fs: list[tuple[int, int, bytes]], noise: bytes, rnd: random.Random
) -> None:
    encoded = [P.encode(*f) for f in fs]
    hit = rnd.randrange(len(encoded))
    bad = bytearray(encoded[hit])
    bad[rnd.randrange(len(bad))] ^= 1 << rnd.randrange(8)
    stream = b"".join(bytes(bad) if i == hit else e for i, e in enumerate(encoded))
    got = P.Decoder().feed(noise.replace(b"K", b"k") + stream)
    assert got == [f for i, f in enumerate(fs) if i != hit]


def feed_reader(reader: Any, data: bytes) -> list[tuple[int, int, bytes]]:
    out = []
    i = 0
    while i < len(data):
        i = reader.feed(data, i, len(data))
        if reader.ready:
            reader.ready = False
            out.append((reader.kind, reader.seq, bytes(reader.buf[10 : 10 + reader.length])))
    return out


small_frames = st.tuples(kinds, seqs, st.binary(max_size=P.MAX_REQUEST))


@given(
    st.lists(small_frames, max_size=5),
    st.binary(max_size=200),
    st.lists(st.integers(0, 10**6)),
)
def test_device_reader_finds_every_stuffed_frame_after_noise_in_any_chunks(
    fs: list[tuple[int, int, bytes]], noise: bytes, cuts: list[int]
) -> None:
    noise = noise.replace(b"K", b"k")
    data = noise + b"".join(P.stuff(P.encode(*f)) for f in fs)
    reader = P.StuffedReader(P.MAX_REQUEST)  # type: ignore[attr-defined]
    got: list[tuple[int, int, bytes]] = []
    for chunk in split(data, cuts):
        got += feed_reader(reader, chunk)
    assert got == fs


@given(st.binary(max_size=3000))
def test_device_reader_never_invents_a_frame(data: bytes) -> None:
    reader = P.StuffedReader(P.MAX_REQUEST)  # type: ignore[attr-defined]
    for kind, seq, payload in feed_reader(reader, data):
        assert (
            P.encode(kind, seq, payload) in P.unstuff(data)
            or P.stuff(P.encode(kind, seq, payload)) in data
        )


def test_a_raw_ctrl_c_drops_the_frame_in_progress() -> None:
    frame = P.stuff(P.encode(P.LIST, 1, b"\x00" * 14))
    reader = P.StuffedReader(P.MAX_REQUEST)  # type: ignore[attr-defined]
    assert feed_reader(reader, frame[:6] + b"\x03" + frame) == [(P.LIST, 1, b"\x00" * 14)]


def test_an_oversized_length_is_a_header_error_at_once() -> None:
    frame = bytearray(P.encode(P.READ, 1, b"x" * 20))
    frame[6:8] = struct.pack("<H", P.MAX_REQUEST + 1)
    reader = P.StuffedReader(P.MAX_REQUEST)  # type: ignore[attr-defined]
    assert feed_reader(reader, P.stuff(bytes(frame))) == []
    assert reader.header_errors >= 1


# -- the device's request handler, fed any request with a valid CRC ------------------


@pytest.fixture(scope="module")
def served(fw: Any, logged: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("served")
    for name in logged.names[:2]:
        (folder / name).write_bytes((logged.folder / name).read_bytes())
    config = folder / "config.json"
    config.write_text(json.dumps({"flush_ms": 200}))
    service = device_service(fw, folder, config_path=str(config))
    return service


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=300)
@given(kinds, seqs, st.binary(max_size=120), st.booleans())
def test_device_answers_any_request_with_exactly_one_frame(
    served: Any, kind: int, seq: int, payload: bytes, greet: bool
) -> None:
    wire = Wire(served)
    if greet:
        wire.write(P.stuff(P.encode(P.HELLO, 0, struct.pack(P.FMT_HELLO_REQ, 1, 0))))
        wire.pump()
        wire.to_host.clear()
    wire.write(P.stuff(P.encode(kind, seq, payload)))
    wire.pump()
    got = P.Decoder().feed(bytes(wire.to_host))
    assert len(got) == 1
    rkind, rseq, _body = got[0]
    assert rseq == seq
    assert rkind in (kind | P.REPLY, P.ERROR)


class ReplyAnything:
    """A port whose 'device' answers every request with the given payload."""

    def __init__(self, payload: bytes) -> None:
        self.payload = payload
        self.out = bytearray()
        self.now = 0.0
        self.reader = P.StuffedReader(P.MAX_REQUEST)  # type: ignore[attr-defined]

    @property
    def in_waiting(self) -> int:
        return len(self.out)

    def read(self, size: int = 1) -> bytes:
        if not self.out:
            self.now += 0.1
            return b""
        data = bytes(self.out[:size])
        del self.out[:size]
        return data

    def write(self, data: bytes, /) -> int:
        for kind, seq, _ in feed_reader(self.reader, data):
            self.out += P.encode(kind | P.REPLY, seq, self.payload)
        return len(data)

    def reset_input_buffer(self) -> None:
        self.out.clear()


@given(st.binary(max_size=200))
def test_host_parses_any_reply_or_raises_a_sync_error(payload: bytes) -> None:
    port = ReplyAnything(payload)
    client = DeviceClient(port, "fuzz", timeout=0.3, retries=1, clock=lambda: port.now)
    client.sleep = lambda s: setattr(port, "now", port.now + s)
    for call in (
        client.hello,
        client.list_segments,
        lambda: client.stat("00010000.KLG"),
        client.counters,
        client.get_config,
        lambda: client.read("00010000.KLG", 0, 100, lambda off, d: None),
        lambda: client.set_clock(0),
        client.rotate,
    ):
        with contextlib.suppress(SyncError):
            call()
