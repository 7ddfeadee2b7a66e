"""Loading DBC files: errors name the file and the line."""

import pytest
from keilog import paths
from keilog.decode import dbc
from keilog.errors import DbcError


def test_keicar_dbc_loads_with_cycle_times():
    db = dbc.load_databases([paths.keicar_dbc()])
    cycles = {m.name: m.cycle_time for m in db.messages}
    assert cycles == {
        "ENGINE_STATUS": 10,
        "VEHICLE_SPEED": 20,
        "TRANSMISSION": 100,
        "ENGINE_TEMPS": 1000,
        "BODY_STATUS": 100,
    }


def test_syntax_error_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.dbc"
    text = paths.keicar_dbc().read_text().replace("BO_ 464 VEHICLE_SPEED: 8 ABS", "BO_ 464 :: 8")
    bad.write_text(text)
    with pytest.raises(DbcError, match=r"bad\.dbc:\d+: cantools cannot load"):
        dbc.load_database(bad)


def test_missing_file_says_so(tmp_path):
    with pytest.raises(DbcError, match=r"nope\.dbc: cannot read the file .*check the path"):
        dbc.load_database(tmp_path / "nope.dbc")


def test_the_same_id_in_two_files_is_refused(tmp_path):
    copy = tmp_path / "copy.dbc"
    copy.write_text(paths.keicar_dbc().read_text())
    with pytest.raises(DbcError, match=r"copy\.dbc: message ENGINE_STATUS has frame id 0xc8, "):
        dbc.load_databases([paths.keicar_dbc(), copy])
