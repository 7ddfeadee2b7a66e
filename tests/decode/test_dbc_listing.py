"""keilog dbc: what a DBC defines, as text and JSON."""

from __future__ import annotations

import json

from click.testing import CliRunner
from keilog.cli import cli

from tests.conftest import ROOT

KEICAR = ROOT / "dbc" / "keicar.dbc"


def test_text_lists_messages_signals_units_and_choices():
    out = CliRunner().invoke(cli, ["dbc", str(KEICAR)])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    # dbc/keicar.dbc: BO_ 464 VEHICLE_SPEED: 8 ABS, cycle time 20 ms
    assert "VEHICLE_SPEED  0x1D0  8 bytes  from ABS  every 20 ms" in lines
    assert "  VEHICLE_SPEED   bit 0+16 LE unsigned  x0.01 +0  [0 .. 655.35]  km/h" in lines
    assert (
        "  SHIFT_LEVER  bit 4+4 LE unsigned  x1 +0  [0 .. 15]  choices 0=P, 1=R, 2=N, 3=D, "
        "4=2, 5=L" in lines
    )


def test_json_has_every_field():
    out = CliRunner().invoke(cli, ["dbc", str(KEICAR), "--json"])
    listing = json.loads(out.output)
    by_name = {m["name"]: m for m in listing["messages"]}
    temps = {s["name"]: s for s in by_name["ENGINE_TEMPS"]["signals"]}
    assert temps["COOLANT_TEMP"]["unit"] == "degC"
    assert (temps["COOLANT_TEMP"]["offset"], temps["COOLANT_TEMP"]["scale"]) == (-40, 1)
    ignition = {s["name"]: s for s in by_name["BODY_STATUS"]["signals"]}["IGNITION"]
    assert ignition["choices"] == {"0": "OFF", "1": "ACC", "2": "ON", "3": "START"}
    assert [m["frame_id"] for m in listing["messages"]] == sorted(
        m["frame_id"] for m in listing["messages"]
    )


def test_a_file_cantools_rejects_is_one_error_line(tmp_path):
    bad = tmp_path / "bad.dbc"
    bad.write_text('VERSION ""\n\nBO_ x BROKEN: 8 ECU\n')
    out = CliRunner().invoke(cli, ["dbc", str(bad)])
    assert out.exit_code == 1
    assert out.output.startswith(f"Error: {bad}:3: cantools cannot load this database")
    assert len(out.output.splitlines()) == 1
