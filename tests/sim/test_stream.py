"""The firmware's 16-byte stream: Linux SocketCAN struct can_frame, little-endian."""

import os
import struct

import can
import pytest
from hypothesis import given
from hypothesis import strategies as st
from keilog.errors import LogFormatError
from keilog.sim.stream import FRAME_SIZE, StreamWriter, pack, unpack, unpack_all
from keilog.unixport.firmware import pack_can_frame


def test_a_standard_frame_byte_by_byte():
    msg = can.Message(arbitration_id=0x1D0, is_extended_id=False, data=bytes(range(1, 9)))
    # can_id 0x000001D0 little-endian, len 8, 3 pad bytes, 8 data bytes
    assert pack(msg) == bytes.fromhex("d0010000080000000102030405060708")


@pytest.mark.parametrize(
    ("msg", "can_id"),
    [
        # 29-bit id with CAN_EFF_FLAG (0x80000000), as <linux/can.h> defines it
        (can.Message(arbitration_id=0x18DAF110, is_extended_id=True, data=b"\x01"), 0x98DAF110),
        # remote frame: CAN_RTR_FLAG 0x40000000
        (
            can.Message(arbitration_id=0x123, is_extended_id=False, is_remote_frame=True, dlc=2),
            0x40000123,
        ),
        # error frame: CAN_ERR_FLAG 0x20000000
        (
            can.Message(
                arbitration_id=0x4, is_extended_id=False, is_error_frame=True, dlc=8, data=bytes(8)
            ),
            0x20000004,
        ),
    ],
)
def test_flag_bits_follow_linux(msg, can_id):
    raw = pack(msg)
    assert len(raw) == FRAME_SIZE == 16
    assert struct.unpack("<IB3x8s", raw)[0] == can_id
    back = unpack(raw)
    assert back.arbitration_id == msg.arbitration_id
    assert back.is_extended_id == msg.is_extended_id
    assert back.is_remote_frame == msg.is_remote_frame
    assert back.is_error_frame == msg.is_error_frame
    assert back.dlc == msg.dlc


@given(
    extended=st.booleans(),
    can_id=st.integers(0, 0x1FFFFFFF),
    data=st.binary(max_size=8),
)
def test_round_trip_and_agreement_with_the_firmware_harness(extended, can_id, data):
    can_id = can_id if extended else can_id & 0x7FF
    msg = can.Message(arbitration_id=can_id, is_extended_id=extended, data=data)
    raw = pack(msg)
    assert raw == pack_can_frame(can_id, data, is_extended_id=extended)
    back = unpack(raw)
    assert (back.arbitration_id, back.is_extended_id, bytes(back.data)) == (can_id, extended, data)


@given(blob=st.binary(max_size=80))
def test_any_bytes_read_as_frames_or_a_format_error_naming_the_offset(blob):
    try:
        frames = unpack_all(blob, where="fuzz.bin")
    except LogFormatError as exc:
        assert str(exc).startswith("fuzz.bin: byte ")
        return
    assert len(frames) * FRAME_SIZE == len(blob)
    assert all(f.dlc <= 8 for f in frames)


def test_writer_to_a_file_and_to_a_fifo(tmp_path):
    frames = [
        can.Message(arbitration_id=i, is_extended_id=False, data=bytes([i])) for i in range(5)
    ]
    path = tmp_path / "can.bin"
    with StreamWriter(path) as w:
        for f in frames:
            w.write(f)
    assert [m.arbitration_id for m in unpack_all(path.read_bytes())] == list(range(5))

    fifo = tmp_path / "can.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        with StreamWriter(fifo) as w:
            w.write(frames[3])
        assert unpack(os.read(reader, 64)).arbitration_id == 3
    finally:
        os.close(reader)
