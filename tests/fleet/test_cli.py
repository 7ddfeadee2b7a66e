"""keilog fleet simulate / ingest / check / report from the command line."""

from __future__ import annotations

import json

from click.testing import CliRunner
from keilog.cli import cli


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_the_whole_fleet_path(tmp_path):
    sim, lake, html = tmp_path / "sim", tmp_path / "lake", tmp_path / "fleet.html"
    code, out, _ = run(
        "fleet", "simulate", "--vehicles", "2", "--days", "1", "--out", str(sim), "--json"
    )
    assert code == 0 and json.loads(out)["trips"] >= 4
    args = ["fleet", "ingest", str(sim / "segments"), "--lake", str(lake), "--json", "-q"]
    code, out, _ = run(*args, "--fleet", str(sim / "fleet.toml"))
    assert code == 0 and json.loads(out)["partitions_written"] == 2
    code, out, _ = run(*args)
    assert code == 0 and json.loads(out) == {
        "sources": 1,
        "trips_added": 0,
        "trips_replaced": 0,
        "trips_unchanged": json.loads(out)["trips_unchanged"],
        "partitions_written": 0,
    }
    code, out, _ = run("fleet", "check", "--lake", str(lake), "--json", "-q")
    assert code == 0 and json.loads(out)["fixes"] > 0
    code, _, err = run("fleet", "report", "--lake", str(lake), "--out", str(html))
    assert code == 0 and err.strip() == f"wrote {html}"
    page = html.read_text()
    assert "KEI00001" in page and "Driver-days" in page and "Not legal advice" in page


def test_a_folder_that_is_not_a_lake_is_one_line(tmp_path):
    code, _, err = run("fleet", "check", "--lake", str(tmp_path))
    assert code == 1
    assert err.startswith(f"Error: {tmp_path}: not a fleet lake") and err.count("\n") == 1
