"""keilog config: filters from DBC ids, merged to fit the controller; firmware schema."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from keilog.cli import cli
from keilog.errors import ConfigError, DbcError
from keilog.hardware import boards, devconfig

REPO = Path(__file__).resolve().parents[2]
KEICAR = REPO / "dbc" / "keicar.dbc"
PYBOARD = boards.load_board("pyboard_v11")
NUCLEO = boards.load_board("nucleo_g474re")
TEENSY = boards.load_board("teensy41")


def _accepts_all(filters, ids, extended=False):
    return all(any(f.extended == extended and f.matches(i) for f in filters) for i in ids)


def test_no_ids_means_log_all():
    assert devconfig.merge_filters([], [], PYBOARD) == ([], 0)


def test_few_ids_get_exact_filters():
    filters, extra = devconfig.merge_filters([0x100, 0x200], [], PYBOARD)
    assert [f.as_config() for f in filters] == [[0x100, 0x7FF], [0x200, 0x7FF]]
    assert extra == 0


def test_merging_adjacent_ids_costs_nothing():
    # 0x7E8..0x7EF differ only in the low 3 bits: one filter 0x7E8/0x7F8 takes exactly them
    filters = devconfig._merge_group(list(devconfig.OBD_RESPONSE_IDS), False, 1)
    assert [f.as_config() for f in filters] == [[0x7E8, 0x7F8]]
    assert filters[0].accepts == 8


@pytest.mark.parametrize(
    ("board", "limit"),
    [(PYBOARD, 14), (TEENSY, 128)],  # bxCAN 14 (stm32/can.h); FlexCAN 128
)
def test_many_ids_fit_the_controller(board, limit):
    ids = random.Random(7).sample(range(0x800), 150)
    filters, extra = devconfig.merge_filters(ids, [], board)
    assert len(filters) == min(limit, 150)
    assert _accepts_all(filters, ids)
    assert extra == sum(f.accepts for f in filters) - 150


def test_fdcan_counts_standard_and_extended_separately():
    # STM32G4 FDCAN: 28 standard + 8 extended filters (stm32/can.h)
    std = random.Random(1).sample(range(0x800), 40)
    ext = random.Random(2).sample(range(0x800, 1 << 29), 20)
    filters, _ = devconfig.merge_filters(std, ext, NUCLEO)
    assert sum(not f.extended for f in filters) == 28
    assert sum(f.extended for f in filters) == 8
    assert _accepts_all(filters, std) and _accepts_all(filters, ext, extended=True)


@settings(max_examples=40, deadline=None)
@given(
    st.sets(st.integers(0, 0x7FF), max_size=40), st.sets(st.integers(0, (1 << 29) - 1), max_size=10)
)
def test_merged_filters_always_accept_every_wanted_id(std, ext):
    for board in (PYBOARD, NUCLEO):
        filters, extra = devconfig.merge_filters(sorted(std), sorted(ext), board)
        assert _accepts_all(filters, std) and _accepts_all(filters, ext, extended=True)
        assert len(filters) <= board.can_filters["machine_can_max"]
        assert extra >= 0


def test_config_from_keicar_dbc_is_valid_for_the_firmware():
    result = devconfig.build_config(PYBOARD, [KEICAR])
    flat = devconfig.check_config(result.config)
    assert flat["board"] == "pyboard_v11"
    assert flat["can.bus"] == 1 and flat["gps.uart"] == 6
    assert flat["can.mode"] == "silent"
    assert flat["power.ignition_pin"] == "X19" and flat["power.ignition_mv"] == 13200
    std, ext = devconfig.dbc_frame_ids([KEICAR])
    assert len(result.filters) == len(std) + len(ext) <= 14  # keicar.dbc is small: exact
    assert result.extra_ids == 0


def test_obd_adds_response_ids_and_normal_mode():
    result = devconfig.build_config(PYBOARD, [KEICAR], obd=True)
    assert result.config["can"]["mode"] == "normal"
    assert result.config["obd"]["enabled"] is True
    accepted = [i for i in devconfig.OBD_RESPONSE_IDS if any(f.matches(i) for f in result.filters)]
    assert accepted == list(devconfig.OBD_RESPONSE_IDS)
    assert any("S jumper to GND" in n for n in result.notes)


def test_nucleo_config_warns_about_json():
    result = devconfig.build_config(NUCLEO)
    assert any("MICROPY_PY_JSON=1" in n for n in result.notes)


def test_firmware_rejections_are_reported_with_every_reason():
    with pytest.raises(ConfigError, match=r"gps\.rate_hz must be between 1 and 10, got 20"):
        devconfig.build_config(PYBOARD, gps_rate_hz=20)


def test_missing_dbc_names_the_file(tmp_path):
    with pytest.raises(DbcError, match=r"nope\.dbc: no such DBC file"):
        devconfig.dbc_frame_ids([tmp_path / "nope.dbc"])


def test_bad_dbc_names_the_file(tmp_path):
    bad = tmp_path / "bad.dbc"
    bad.write_text("BO_ this is not a dbc\n")
    with pytest.raises(DbcError, match=r"bad\.dbc: cannot load DBC"):
        devconfig.dbc_frame_ids([bad])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", r"cfg\.json:1:2: not valid JSON"),
        ("[]", "must be a JSON object"),
        ('{"can": {"bitrate": 12345}}', "can.bitrate must be one of"),
    ],
)
def test_load_config_rejects_bad_files(tmp_path, content, message):
    path = tmp_path / "cfg.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        devconfig.load_config(path)


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=200))
def test_load_config_on_untrusted_bytes_raises_only_config_error(tmp_path_factory, blob):
    path = tmp_path_factory.mktemp("cfg") / "cfg.json"
    path.write_bytes(blob)
    try:
        devconfig.load_config(path)
    except ConfigError as exc:
        assert "cfg.json" in str(exc)


def test_cli_config_writes_valid_json(tmp_path):
    out = tmp_path / "config.json"
    result = CliRunner().invoke(
        cli,
        ["config", "--board", "teensy41", "--dbc", str(KEICAR), "--gps-rate", "5", "-o", str(out)],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["board"] == "teensy41" and data["gps"] == {"baud": 9600, "rate_hz": 5, "uart": 2}
    assert devconfig.load_config(out) == data


def test_cli_config_unknown_board():
    result = CliRunner().invoke(cli, ["config", "--board", "esp32"])
    assert result.exit_code == 1
    assert "unknown board 'esp32'" in result.output


@pytest.mark.parametrize(
    "text",
    ["[" * 100_000, '{"a": ' * 100_000, '{"can": {"x": [[[[[[[[[1]]]]]]]]]}}'],
    ids=["lists", "objects", "nine"],
)
def test_a_config_nested_too_deep_is_refused_before_json_recurses(tmp_path, text):
    path = tmp_path / "config.json"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"config\.json: nested more than 8 deep \(at character"):
        devconfig.load_config(path)


def test_brackets_inside_strings_are_not_nesting(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{"device": {"id": "[[[[[[[[[[\\"{{{{{{{{{{"}}')
    with pytest.raises(ConfigError, match=r"device\.id must be"):
        devconfig.load_config(path)


_json_ish = st.text(st.sampled_from('{}[]":,0123456789.-etruefalsn \\ab'), max_size=200)


@settings(max_examples=300, deadline=None)
@given(
    text=st.one_of(
        _json_ish,
        st.text(max_size=200),
        st.integers(4000, 5000).map(lambda n: '{"a": 1' + "1" * n + "}"),
    )
)
def test_fuzz_any_config_text_is_a_dict_or_a_config_error(text):
    """What a device sends back, or a file holds: parsed, or ConfigError naming where."""
    try:
        data = devconfig.parse_config(text, "the device")
    except ConfigError as exc:
        assert str(exc).startswith("the device")
    else:
        assert isinstance(data, dict)
