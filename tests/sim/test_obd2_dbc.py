"""dbc/obd2.dbc loads in cantools and decodes SAE J1979 service 01 examples by hand.

Each expected value is computed by hand from the J1979 formula named beside it
(SAE J1979 / ISO 15031-5 service 01 PID definitions).
"""

import cantools
import pytest
from keilog import paths
from keilog.decode import dbc

OBD2 = paths.dbc_dir() / "obd2.dbc"


@pytest.fixture(scope="module")
def db():
    return cantools.database.load_file(str(OBD2))


def test_loads_with_keilog_and_cantools_and_has_every_ecu(db):
    assert dbc.load_database(OBD2).get_message_by_frame_id(0x7E8).name == "OBD2_RESPONSE_ECU1"
    ids = sorted(m.frame_id for m in db.messages)
    assert ids == [0x7DF, *range(0x7E0, 0x7E1), *range(0x7E8, 0x7F0)]


def test_keicar_and_obd2_can_be_loaded_together():
    merged = dbc.load_databases([paths.keicar_dbc(), OBD2])
    assert {0xC8, 0x7DF, 0x7E8, 0x7EF} <= {m.frame_id for m in merged.messages}


@pytest.mark.parametrize(
    ("frame", "signal", "value"),
    [
        # 0x0C engine speed: (256 * 0x1A + 0xF8) / 4 = (6656 + 248) / 4 = 1726 rpm
        ("04410C1AF8555555", "ENGINE_RPM", 1726.0),
        # 0x0D vehicle speed: A = 0x64 = 100 km/h
        ("03410D6455555555", "VEHICLE_SPEED", 100),
        # 0x05 coolant: A - 40 = 0x7B - 40 = 123 - 40 = 83 degC
        ("0341057B55555555", "COOLANT_TEMP", 83),
        # 0x0F intake air: A - 40 = 0x41 - 40 = 25 degC
        ("03410F4155555555", "INTAKE_AIR_TEMP", 25),
        # 0x11 throttle: 100/255 * 0x33 = 100 * 51 / 255 = 20 %
        ("0341113355555555", "THROTTLE_POS", 20.0),
        # 0x2F fuel level: 100/255 * 0xFF = 100 %
        ("03412FFF55555555", "FUEL_LEVEL", 100.0),
        # 0x04 engine load: 100/255 * 0x66 = 100 * 102 / 255 = 40 %
        ("0341046655555555", "ENGINE_LOAD", 40.0),
        # 0x10 MAF: (256 * 0x01 + 0xF4) / 100 = 500 / 100 = 5 g/s
        ("04411001F4555555", "MAF_RATE", 5.0),
        # 0x1F run time: 256 * 0x02 + 0x58 = 600 s
        ("04411F0258555555", "RUN_TIME", 600),
        # 0x42 module voltage: (256 * 0x37 + 0x6E) / 1000 = 14190 / 1000 = 14.19 V
        ("044142376E555555", "CONTROL_MODULE_VOLTAGE", 14.19),
        # 0x46 ambient: A - 40 = 0x3C - 40 = 20 degC
        ("0341463C55555555", "AMBIENT_AIR_TEMP", 20),
        # 0x33 barometric pressure: A = 0x65 = 101 kPa
        ("0341336555555555", "BARO_PRESSURE", 101),
        # 0x00 supported PIDs: A B C D as one big-endian 32-bit value
        ("064100BE1FA81355", "PIDS_SUPPORTED_01_20", 0xBE1FA813),
    ],
)
def test_responses_decode_to_the_j1979_formula(db, frame, signal, value):
    decoded = db.decode_message(0x7E8, bytes.fromhex(frame), decode_choices=False)
    assert decoded["SERVICE"] == 0x41
    assert decoded["PID"] == int(frame[4:6], 16)
    assert decoded[signal] == pytest.approx(value, abs=1e-9)
    # every ECU's response id carries the same layout
    assert db.decode_message(0x7EF, bytes.fromhex(frame), decode_choices=False)[signal] == (
        pytest.approx(value, abs=1e-9)
    )


def test_encoding_gives_the_same_bytes_as_the_hand_computed_frame(db):
    data = db.encode_message(
        0x7E8,
        {"SF_LENGTH": 4, "FRAME_TYPE": 0, "SERVICE": 0x41, "PID": 0x0C, "ENGINE_RPM": 1726},
    )
    assert data[:5] == bytes.fromhex("04410C1AF8")


def test_request_decodes_service_and_pid(db):
    decoded = db.decode_message(0x7DF, bytes.fromhex("02010D5555555555"), decode_choices=False)
    assert decoded == {"SF_LENGTH": 2, "FRAME_TYPE": 0, "SERVICE": 1, "PID": 0x0D}


def test_negative_response_decodes_to_its_service_only(db):
    decoded = db.decode_message(0x7E8, bytes.fromhex("037F011200000000"), decode_choices=False)
    assert decoded == {"SF_LENGTH": 3, "FRAME_TYPE": 0, "SERVICE": 0x7F}
