"""The tinkerer's path through the CLI on a virtual bus: play a log onto the bus while
keilog log records it; import with the DBC; export the decoded signals to MF4; asammdf
reads back the names, units and values that were put on the bus."""

from __future__ import annotations

import threading
import time

import can
import cantools
from asammdf import MDF
from click.testing import CliRunner
from keilog.cli import cli

from tests.bus.conftest import KEICAR

DB = cantools.database.load_file(str(KEICAR))


def test_play_log_import_export_signals(tmp_path, channel):
    temps = DB.get_message_by_name("ENGINE_TEMPS")
    log = tmp_path / "drive.log"
    with can.Logger(str(log)) as writer:
        for i in range(10):
            values = {"COOLANT_TEMP": 70 + i, "INTAKE_TEMP": 20, "FUEL_LEVEL": 50.0,
                      "BATTERY_VOLTAGE": 13.8, "ODOMETER": 1234.5}  # fmt: skip
            writer.on_message_received(
                can.Message(timestamp=1000.0 + 0.01 * i, arbitration_id=temps.frame_id,
                            is_extended_id=False, data=temps.encode(values))
            )  # fmt: skip
    logs = tmp_path / "logs"
    recorded: dict = {}

    def log_the_bus() -> None:
        recorded["out"] = CliRunner().invoke(
            cli, ["log", "-i", "virtual", "-c", channel, "--to", str(logs), "--frames", "10",
                  "--duration", "30", "-q"],
        )  # fmt: skip

    logger = threading.Thread(target=log_the_bus)
    logger.start()
    deadline = time.monotonic() + 30
    while not can.interfaces.virtual.channels.get(channel) and time.monotonic() < deadline:
        time.sleep(0.01)  # until keilog log has opened the bus
    played = CliRunner().invoke(
        cli, ["play", str(log), "-i", "virtual", "-c", channel, "--speedup", "10", "-q"]
    )
    logger.join(timeout=60)
    assert played.exit_code == 0, played.output
    assert recorded["out"].exit_code == 0, recorded["out"].output
    db = tmp_path / "t.db"
    imported = CliRunner().invoke(
        cli, ["import", str(logs), "--db", str(db), "--dbc", str(KEICAR), "-q"]
    )
    assert imported.exit_code == 0, imported.output
    mf4 = tmp_path / "trip.mf4"
    exported = CliRunner().invoke(
        cli, ["export", "--db", str(db), "--trip", "1", "--signals", "COOLANT_TEMP,ODOMETER",
              "--to", str(mf4), "-q"],
    )  # fmt: skip
    assert exported.exit_code == 0, exported.output
    with MDF(mf4) as mdf:
        coolant, odometer = mdf.get("COOLANT_TEMP"), mdf.get("ODOMETER")
    assert (coolant.unit, odometer.unit) == ("degC", "km")
    assert coolant.samples.tolist() == [70.0 + i for i in range(10)]
    assert odometer.samples.tolist() == [1234.5] * 10
    # played 10x faster than the 0.09 s it spans: about 9 ms from first to last frame
    # (a lower bound, less the time to send the first one)
    assert coolant.timestamps[-1] >= 0.008
