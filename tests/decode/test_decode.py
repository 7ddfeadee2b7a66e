"""The decoder on hand-made frames: every feature, with values worked out from the DBC.

``tests/data/decode/features.dbc`` holds one message per feature; ``dbc/keicar.dbc`` is
the simulated kei car's. Expected values are computed by hand from the DBC definitions
(start bit, length, byte order, scale, offset) and cross-checked against cantools.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import Any

import can
import cantools
import numpy as np
import pytest
from keilog.decode import Decoder, FrameBatch
from keilog.decode.result import TRUNCATED, UNDECODABLE, UNDEFINED_MULTIPLEXER
from keilog.errors import DbcError
from keilog.paths import keicar_dbc

FEATURES = Path(__file__).resolve().parents[1] / "data" / "decode" / "features.dbc"
T0 = 1717250400.0  # 2024-06-01 14:00:00 UTC


def batch(frames: list[tuple[int, bytes] | tuple[int, bytes, bool]], width: int = 8) -> FrameBatch:
    """Frames as (id, payload[, is_extended]), 1 ms apart."""
    n = len(frames)
    data = np.zeros((n, width), np.uint8)
    for i, frame in enumerate(frames):
        data[i, : len(frame[1])] = np.frombuffer(frame[1], np.uint8)
    return FrameBatch(
        timestamp=T0 + np.arange(n) * 0.001,
        arbitration_id=np.array([f[0] for f in frames], np.uint32),
        is_extended=np.array([f[2] if len(f) == 3 else False for f in frames], np.bool_),
        dlc=np.array([len(f[1]) for f in frames], np.uint8),
        data=data,
    )


@pytest.fixture(scope="module")
def features() -> Decoder:
    return Decoder.from_files([FEATURES])


@pytest.fixture(scope="module")
def keicar() -> Decoder:
    return Decoder.from_files([keicar_dbc()])


def only_frame(
    decoder: Decoder, frame: tuple[int, bytes] | tuple[int, bytes, bool], width: int = 8
) -> dict[str, Any]:
    frames = list(decoder.decode(batch([frame], width)).frames())
    assert len(frames) == 1
    return frames[0]["signals"]


def test_keicar_vehicle_speed_frame_decodes_to_hand_computed_values(keicar: Decoder) -> None:
    # VEHICLE_SPEED 0|16@1+ (0.01): 0x2710 = 10000 -> 100 km/h.
    # WHEEL_SPEED_FL 23|12@0+ (0.1): network bits 16..27 = 0x3E8 = 1000 -> 100 km/h.
    # WHEEL_SPEED_FR 27|12@0+ (0.1): network bits 28..39 = 0x3E8 -> 100 km/h.
    # ACCEL_LONG 48|8@1- (0.05): 0xF6 = -10 -> -0.5 m/s^2. COUNTER 56|4@1+: 5.
    payload = bytes.fromhex("10273e83e800f605")
    assert only_frame(keicar, (464, payload)) == {
        "VEHICLE_SPEED": 100.0,
        "WHEEL_SPEED_FL": 100.0,
        "WHEEL_SPEED_FR": 100.0,
        "ACCEL_LONG": -0.5,
        "COUNTER": 5,
    }
    expected = cantools.database.load_file(str(keicar_dbc())).decode_message(
        464, payload, decode_choices=False
    )
    assert only_frame(keicar, (464, payload)) == expected


@pytest.mark.parametrize(
    ("frame_id", "payload", "expected"),
    [
        # Le16 0x2710*0.01; BeSigned12 network bits 16..27 = 0xFFE = -2 -> -2*0.5-10;
        # Signed8 0x80 = -128; Gear low nibble of byte 7.
        (
            100,
            bytes.fromhex("1027ffe000008003"),
            {"Le16": 100.0, "BeSigned12": -11.0, "Signed8": -128, "Gear": 3},
        ),
        # F32 little-endian IEEE 1.5; F32Be big-endian IEEE -2.25 -> -2.25*2+1.
        (101, struct.pack("<f", 1.5) + struct.pack(">f", -2.25), {"F32": 1.5, "F32Be": -3.5}),
        (102, struct.pack("<d", math.pi), {"F64": math.pi}),
        # Page 0 selects P0 (byte 1); Always is bits 4..7 of byte 0.
        (103, bytes([0x50, 42, 0, 0]), {"Page": 0, "Always": 5, "P0": 42}),
        # Page 1 selects P1 (bytes 1..2 little-endian, 0x3039 = 12345 -> 1234.5).
        (103, bytes([0x51, 0x39, 0x30, 0]), {"Page": 1, "Always": 5, "P1": 1234.5}),
        # Unsigned 64-bit: all ones is 2**64 - 1, exactly.
        (104, b"\xff" * 8, {"U64": 2**64 - 1}),
        # 3 * (2**64 - 1) + 7 does not fit 64 bits: a Python int, as cantools gives.
        (105, b"\xff" * 8, {"U64x3": 3 * (2**64 - 1) + 7}),
    ],
    ids=[
        "intel-motorola-signed",
        "float32",
        "float64",
        "mux-page-0",
        "mux-page-1",
        "uint64",
        "int-beyond-64-bits",
    ],
)
def test_features_decode_to_hand_computed_values(
    features: Decoder, frame_id: int, payload: bytes, expected: dict[str, Any]
) -> None:
    got = only_frame(features, (frame_id, payload))
    assert got == pytest.approx(expected, rel=1e-12)
    assert {k: type(v) for k, v in got.items()} == {k: type(v) for k, v in expected.items()}
    reference = features.database.decode_message(frame_id, payload, decode_choices=False)
    assert got == reference


def test_extended_and_standard_frames_with_the_same_number_are_different_messages(
    features: Decoder,
) -> None:
    result = features.decode(batch([(100, bytes(8)), (100, bytes([0x34, 0x12]), True)]))
    assert [(f["message"], f["is_extended_id"], f["signals"]) for f in result.frames()] == [
        ("Plain", False, {"Le16": 0.0, "BeSigned12": -10.0, "Signed8": 0, "Gear": 0}),
        ("ExtSameNumber", True, {"E": 0x1234}),
    ]


def test_can_fd_signals_past_byte_8_and_across_an_8_byte_boundary(features: Decoder) -> None:
    payload = bytearray(64)
    payload[40:42] = (0x1234).to_bytes(2, "little")  # FdLe 320|16@1+
    payload[55:58] = bytes([0x3F, 0xFF, 0xFC])  # FdBe 445|20@0+: network bits 442..461 set
    payload[63] = 7  # FdTail 504|8@1+
    assert only_frame(features, (300, bytes(payload)), width=64) == {
        "FdLe": 0x1234,
        "FdBe": (2**20 - 1) * 0.5,
        "FdTail": 7,
    }


def test_short_frame_keeps_the_signals_it_carries_and_counts_the_frame(features: Decoder) -> None:
    payload = bytearray(48)  # Fd is 64 bytes long in the DBC
    payload[40:42] = (0x1234).to_bytes(2, "little")
    result = features.decode(batch([(300, bytes(payload))], width=64))
    assert next(result.frames())["signals"] == {"FdLe": 0x1234}
    fd = result["Fd"]
    assert fd.problems == {TRUNCATED: 1}
    assert result.stats.truncated == 1
    assert fd.is_present("FdBe").tolist() == [False]
    assert math.isnan(fd.signals["FdBe"][0])
    # cantools with allow_truncated=True drops the same signals.
    message = features.database.get_message_by_name("Fd")
    assert message.decode(bytes(payload), decode_choices=False, allow_truncated=True) == {
        "FdLe": 0x1234
    }


def test_undefined_multiplexer_value_keeps_unmultiplexed_signals_and_counts_the_frame(
    features: Decoder,
) -> None:
    # Page 2 is defined neither by a multiplexed signal nor by a choice: cantools raises
    # "expected multiplexer id 0 or 1, but got 2" for the whole frame.
    result = features.decode(batch([(103, bytes([0x52, 1, 2, 3])), (103, bytes([0x50, 9, 0, 0]))]))
    assert [f["signals"] for f in result.frames()] == [
        {"Page": 2, "Always": 5},
        {"Page": 0, "Always": 5, "P0": 9},
    ]
    assert result["Muxed"].problems == {UNDEFINED_MULTIPLEXER: 1}
    assert result["Muxed"].is_present("P0").tolist() == [False, True]
    assert result["Muxed"].signals["P0"].tolist() == [0, 9]


def test_message_the_fast_path_cannot_express_is_decoded_by_cantools(features: Decoder) -> None:
    assert features.fallback_messages == {"FdSpan": "signal Long spreads over 9 bytes"}
    payload = bytes(range(16))
    # Long is Intel 4|64: bits 4..67 of the payload read as one little-endian number.
    long_value = (int.from_bytes(payload, "little") >> 4) & (2**64 - 1)
    assert only_frame(features, (301, payload), width=64) == {"Long": long_value, "Tail": 12}
    short = features.decode(batch([(301, payload[:9])], width=64))
    assert next(short.frames())["signals"] == {"Long": (int.from_bytes(payload[:9], "little") >> 4)}


def test_cantools_failure_in_the_fallback_is_counted_not_raised(tmp_path: Path) -> None:
    dbc = tmp_path / "span.dbc"
    dbc.write_text(FEATURES.read_text().replace("SG_ Tail : 96|8@1+", "SG_ Tail : 130|8@1+"))
    decoder = Decoder.from_files([dbc])  # Tail now lies past FdSpan's 16 bytes
    result = decoder.decode(batch([(301, bytes(16))], width=64))
    assert result["FdSpan"].problems == {UNDECODABLE: 1}
    assert next(result.frames())["signals"] == {}


def test_unknown_ids_are_skipped_and_counted_by_id(keicar: Decoder) -> None:
    result = keicar.decode(
        batch([(0x123, b"\x01"), (464, bytes(8)), (0x123, b""), (0x18DAF110, bytes(8), True)])
    )
    assert [f["message"] for f in result.frames()] == ["VEHICLE_SPEED"]
    assert result.stats.as_dict() == {
        "frames": 4,
        "decoded": 1,
        "unknown": 3,
        "remote": 0,
        "error_frames": 0,
        "truncated": 0,
        "undefined_multiplexer": 0,
        "undecodable": 0,
        "unsupported": 0,
        "unknown_ids": {"0x123": 2, "0x18daf110x": 1},
    }


def test_remote_and_error_frames_are_skipped_and_counted(keicar: Decoder) -> None:
    messages = [
        can.Message(timestamp=T0, arbitration_id=464, is_extended_id=False, data=bytes(8)),
        can.Message(
            timestamp=T0, arbitration_id=464, is_extended_id=False, is_remote_frame=True, dlc=8
        ),
        can.Message(timestamp=T0, arbitration_id=0, is_error_frame=True, data=bytes(8)),
    ]
    result = keicar.decode(FrameBatch.from_messages(messages))
    assert len(result["VEHICLE_SPEED"]) == 1
    assert (
        result.stats.decoded,
        result.stats.remote,
        result.stats.error_frames,
        result.stats.unknown,
    ) == (1, 1, 1, 0)


def test_choices_give_labels_where_the_dbc_has_them(features: Decoder) -> None:
    frames = batch(
        [(100, bytes(7) + b"\x03"), (100, bytes(7) + b"\x09"), (103, bytes([0x52, 0, 0, 0]))]
    )
    result = features.decode(frames, choices=True)
    assert result["Plain"].labels["Gear"].tolist() == ["D", None]
    assert [f["signals"].get("Gear", f["signals"].get("Page")) for f in result.frames()] == [
        "D",
        9,
        2,
    ]
    plain = features.decode(frames)
    assert [f["signals"].get("Gear") for f in plain.frames()] == [3, 9, None]


def test_columns_have_cantools_types_and_rows_index_the_batch(keicar: Decoder) -> None:
    frames = batch([(200, bytes(8)), (464, bytes(8)), (200, b"\x40\x1f" + bytes(6))])
    result = keicar.decode(frames)
    engine = result["ENGINE_STATUS"]
    assert engine.rows.tolist() == [0, 2]
    assert engine.timestamps.tolist() == [T0, T0 + 0.002]
    assert engine.signals["ENGINE_RPM"].dtype == np.float64  # scale 0.25: cantools gives float
    assert engine.signals["ENGINE_RPM"].tolist() == [0.0, 2000.0]  # 0x1F40 * 0.25
    assert engine.signals["COUNTER"].dtype == np.int64  # identity: cantools gives int
    assert engine.present == {}


def test_frames_are_yielded_in_batch_order_with_the_documented_keys(keicar: Decoder) -> None:
    frames = batch([(992, bytes([0x33, 80, 0, 0])), (1008, bytes([0x02, 0]))])
    assert list(keicar.decode(frames).frames()) == [
        {
            "timestamp": T0,
            "arbitration_id": 992,
            "is_extended_id": False,
            "message": "TRANSMISSION",
            "signals": {"GEAR": 3, "SHIFT_LEVER": 3, "ATF_TEMP": 40},
        },
        {
            "timestamp": T0 + 0.001,
            "arbitration_id": 1008,
            "is_extended_id": False,
            "message": "BODY_STATUS",
            "signals": {"IGNITION": 2, "HEADLIGHTS": 0, "PARKING_BRAKE": 0},
        },
    ]


def test_empty_batch_decodes_to_nothing(keicar: Decoder) -> None:
    result = keicar.decode(FrameBatch.empty())
    assert dict(result) == {}
    assert result.stats.frames == 0


def test_batch_rejects_a_frame_longer_than_its_width() -> None:
    with pytest.raises(
        ValueError, match="frame 0 has 9 data bytes but the batch is only 8 bytes wide"
    ):
        FrameBatch(
            np.zeros(1),
            np.zeros(1, np.uint32),
            np.zeros(1, bool),
            np.array([9], np.uint8),
            np.zeros((1, 8), np.uint8),
        )


def test_from_messages_picks_64_byte_rows_for_can_fd() -> None:
    fd = can.Message(arbitration_id=200, is_fd=True, data=bytes(range(64)))
    frames = FrameBatch.from_messages([fd, can.Message(arbitration_id=1, data=b"\x01")])
    assert frames.width == 64
    assert frames.dlc.tolist() == [64, 1]
    assert frames.payload(0) == bytes(range(64))
    assert frames.payload(1) == b"\x01"


def test_missing_file_is_a_dbc_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.dbc"
    with pytest.raises(DbcError, match=f"^{missing}: cannot read the file"):
        Decoder.from_files([missing])


def test_wrong_kind_of_file_is_a_dbc_error(tmp_path: Path) -> None:
    with pytest.raises(DbcError, match=r"drive\.log: not a database file"):
        Decoder.from_files([tmp_path / "drive.log"])


@pytest.mark.parametrize(
    ("bad_line", "complaint"),
    [
        (
            "BO_ 4096 TooWide: 8 ECU",
            "Standard frame id 0x1000 is more than 11 bits in message TooWide",
        ),
        ("BO_ 300 2Bad: 8 ECU", "Invalid syntax at line 4, column 9"),
    ],
)
def test_rejected_dbc_names_the_file_and_line(
    tmp_path: Path, bad_line: str, complaint: str
) -> None:
    dbc = tmp_path / "car.dbc"
    dbc.write_text(
        f'VERSION ""\nBS_:\nBU_: ECU\n{bad_line}\n SG_ S : 0|8@1+ (1,0) [0|255] "" ECU\n'
    )
    with pytest.raises(DbcError) as caught:
        Decoder.from_files([dbc])
    assert str(caught.value).startswith(f"{dbc}:4: cantools cannot load this database: {complaint}")


def test_two_files_defining_the_same_id_are_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.dbc"
    other.write_text(
        'VERSION ""\nBS_:\nBU_: ECU\nBO_ 464 SPEED2: 8 ECU\n SG_ S : 0|8@1+ (1,0) [0|255] "" ECU\n'
    )
    with pytest.raises(
        DbcError,
        match=r"message SPEED2 has frame id 0x1d0, which .*keicar\.dbc already gives to VEHICLE_SP",
    ):
        Decoder.from_files([keicar_dbc(), other])


def test_several_files_decode_together(tmp_path: Path) -> None:
    decoder = Decoder.from_files([keicar_dbc(), FEATURES])
    result = decoder.decode(batch([(464, bytes(8)), (101, bytes(8))]))
    assert sorted(result) == ["Floats", "VEHICLE_SPEED"]
