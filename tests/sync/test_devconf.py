"""An installed logger's config, read and replaced over the sync link (real firmware)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from keilog.cli import cli
from keilog.errors import ConfigError
from keilog.sync.devconf import pull_config, push_config

from tests.conftest import ROOT
from tests.sync.ptyfw import FirmwareOnPty
from tests.sync.test_sync_firmware import write_frames


def test_keilog_config_push_stores_a_validated_config(tmp_path: Path) -> None:
    write_frames(tmp_path / "can.bin", 0, 10)
    with FirmwareOnPty(tmp_path, tmp_path / "can.bin") as fw:
        before = pull_config(fw.port)
        assert before["usb"] == {"path": "stdio"}
        dbc = str(ROOT / "dbc/keicar.dbc")
        args = ["config", "--board", "pyboard_v11", "--dbc", dbc, "--flush-ms", "500"]
        result = CliRunner().invoke(cli, [*args, "--push", fw.port])
        assert result.exit_code == 0, result.output
        assert "it takes effect at the next boot" in result.stderr
        after = pull_config(fw.port)
    assert after["board"] == "pyboard_v11"
    assert after["flush_ms"] == 500
    assert json.loads(fw.cfg_path.read_text()) == after


def test_a_bad_config_is_refused_before_the_cable_is_used(tmp_path: Path) -> None:
    # No device at all: validation fails first, naming the key.
    with pytest.raises(ConfigError, match="flush_ms must be between 50 and 60000"):
        push_config(str(tmp_path / "no-such-port"), {"flush_ms": 5})
