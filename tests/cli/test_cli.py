"""The CLI: thin commands over the library, data on stdout, `Error: ...` and exit 1."""

import importlib
import json
from pathlib import Path

import click
import keilog.cli
from click.testing import CliRunner
from keilog import store
from keilog.cli import cli
from keilog.cli.main import COMMAND_MODULES
from keilog.store.frames import frame_count

from tests.conftest import DATA, ROOT

MIXED = str(DATA / "logformat" / "segment_mixed.klg")


def test_import_prints_what_it_did_and_is_idempotent(tmp_path):
    db = str(tmp_path / "k.db")
    runner = CliRunner()
    first = runner.invoke(cli, ["import", MIXED, "--db", db, "--dbc", str(ROOT / "dbc/keicar.dbc")])
    assert first.exit_code == 0, first.output
    assert first.stdout == (
        "segment_mixed.klg: imported, 6 frames, 1 decoded, 2 GPS fixes, 4 events\n"
    )
    again = runner.invoke(cli, ["import", MIXED, "--db", db, "--json"])
    assert json.loads(again.stdout)["status"] == "already imported"
    assert frame_count(store.open_db(db).conn) == 6


def test_bad_dbc_is_an_error_naming_the_file(tmp_path):
    bad = tmp_path / "broken.dbc"
    bad.write_text('VERSION ""\nBO_ nonsense\n')
    result = CliRunner().invoke(
        cli, ["import", MIXED, "--db", str(tmp_path / "k.db"), "--dbc", str(bad)]
    )
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {bad}")


def test_demo_runs_the_pipeline_and_prints_a_summary(tmp_path):
    out = tmp_path / "d"
    result = CliRunner().invoke(cli, ["demo", "--out", str(out), "--duration", "30", "-q"])
    assert result.exit_code == 0, result.output
    assert "scenario 'Kei truck on a rural Florida road'" in result.stdout
    assert "synced over USB (pty) and imported: damage found: none" in result.stdout
    db = store.open_db(out / "keilog.db")
    assert frame_count(db.conn) > 0
    assert db.table("gps_fixes").count >= 25  # 1 Hz GPS for 30 s, less the first fix
    assert json.loads((out / "check.json").read_text())["trips"]
    assert (out / "report.html").read_text().startswith("<!DOCTYPE html>")


def leaf_commands(group, prefix=""):
    for name in group.list_commands(None):
        command = group.get_command(None, name)
        if isinstance(command, click.Group):
            yield from leaf_commands(command, f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}", command


def test_every_command_has_an_example():
    commands = dict(leaf_commands(cli))
    assert {"demo", "import", "firmware run"} <= set(commands)
    for name, command in commands.items():
        assert "Example:" in (command.help or ""), name


def test_the_command_table_names_the_module_of_every_command():
    # Every command module, imported: the commands they register are those the group's
    # table lists, each with the module that registers it.
    folder = Path(keilog.cli.__file__).parent
    for path in sorted(folder.glob("*_cmd.py")):
        importlib.import_module(f"keilog.cli.{path.stem}")
    registered = {name: command.callback.__module__ for name, command in cli.commands.items()}
    assert registered == COMMAND_MODULES
