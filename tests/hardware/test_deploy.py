"""keilog deploy: the install set, the device checks, and copy + verify on the unix port."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from keilog.cli import cli
from keilog.errors import FirmwareError
from keilog.hardware import boards, deploy, devconfig

REPO = Path(__file__).resolve().parents[2]
FIRMWARE = REPO / "firmware"
PYBOARD = boards.load_board("pyboard_v11")
TEENSY = boards.load_board("teensy41")
NUCLEO = boards.load_board("nucleo_g474re")
# The unix port comes with the test extra: these tests run always (no skip); a missing
# binary fails them with the install hint from tests.conftest.micropython_path.
needs_micropython = pytest.mark.usefixtures("micropython_binary")


@pytest.fixture(scope="module")
def install(tmp_path_factory):
    config = devconfig.build_config(PYBOARD, [REPO / "dbc" / "keicar.dbc"]).config
    return deploy.build_install_set(PYBOARD, config, tmp_path_factory.mktemp("dry") / "set")


def test_dry_run_set_has_every_module_compiled_and_nothing_else(install):
    expected = {"/main.py", "/config.json"}
    for src in sorted((FIRMWARE / "lib").rglob("*.py")):
        if src.name.startswith("hal_unix"):
            continue
        expected.add("/" + src.relative_to(FIRMWARE).with_suffix(".mpy").as_posix())
    assert {f.dest for f in install.files} == expected
    on_disk = {
        "/" + p.relative_to(install.directory).as_posix()
        for p in install.directory.rglob("*")
        if p.is_file()
    }
    assert on_disk == expected | {"/" + deploy.MANIFEST}
    assert not any("test" in d.split("/")[-1] for d in on_disk if d != "/" + deploy.MANIFEST)


def test_mpy_files_are_bytecode_only_mpy_v6(install):
    # .mpy header: b"M", version 6, feature byte (arch << 2) | sub-version; a bytecode-only
    # file has no arch (0) and loads on any MicroPython reading v6 (py/persistentcode.h)
    for f in install.files:
        if f.dest.endswith(".mpy"):
            assert f.local.read_bytes()[:3] == b"M\x06\x00"
    assert install.native is False


def test_manifest_hashes_match_files(install):
    manifest = json.loads((install.directory / deploy.MANIFEST).read_text())
    assert manifest["board"] == "pyboard_v11" and manifest["mpy_cross_arch"] == "armv7emsp"
    assert manifest["firmware_version"] == deploy.firmware_version()
    for f in install.files:
        assert manifest["files"][f.dest]["sha256"] == f.sha256


def test_config_in_set_is_valid(install):
    assert devconfig.load_config(install.directory / "config.json")["board"] == "pyboard_v11"


def test_config_for_another_board_is_refused(tmp_path):
    config = devconfig.build_config(TEENSY).config
    with pytest.raises(FirmwareError, match="config is for board 'teensy41'"):
        deploy.build_install_set(PYBOARD, config, tmp_path / "set")


@needs_micropython
def test_compiled_firmware_imports_and_reads_its_config_under_micropython(install):
    # The bytecode-only .mpy files load on any MicroPython that reads mpy v6.
    lib, cfg = str(install.directory / "lib"), str(install.directory / "config.json")
    script = (
        f"import sys; sys.path.insert(0, {lib!r})\n"
        "import logger.config as c, logger.app\n"
        f"cfg, errors = c.load({cfg!r})\n"
        "print(cfg['board'], cfg['gps.uart'], len(errors))\n"
    )
    out = subprocess.run(["micropython", "-c", script], capture_output=True, text=True, timeout=30)
    assert out.stdout.split() == ["pyboard_v11", "6", "0"], out.stderr


@needs_micropython
@pytest.mark.parametrize("method", ["auto", "adler32"])
def test_copy_and_verify_on_the_unix_port(install, tmp_path, method):
    kind = deploy.copy_and_verify(install, deploy.UnixTransport(tmp_path), method=method)
    assert kind == ("sha256" if method == "auto" else "adler32")
    for f in install.files:
        assert (tmp_path / f.dest.lstrip("/")).read_bytes() == f.local.read_bytes()


class _Tamper(deploy.UnixTransport):
    # A real copy whose config.json arrives with one byte changed.
    def put(self, local: Path, remote: str) -> None:
        super().put(local, remote)
        if remote == "/config.json":
            target = self.root / "config.json"
            data = bytearray(target.read_bytes())
            data[0] ^= 1
            target.write_bytes(bytes(data))


@needs_micropython
def test_corrupted_copy_is_detected(install, tmp_path):
    with pytest.raises(FirmwareError, match=r"/config\.json on the board does not match"):
        deploy.copy_and_verify(install, _Tamper(tmp_path))


@needs_micropython
def test_unix_port_probe_is_refused_for_lack_of_can(install, tmp_path):
    # The unix port has neither machine.CAN nor pyb: a real "too old / no CAN" answer.
    transport = deploy.UnixTransport(tmp_path)
    info = deploy.parse_probe(transport.run(deploy.PROBE))
    assert info.modules["json"] and not info.modules["machine.CAN"]
    with pytest.raises(FirmwareError, match=r"no machine.CAN and no pyb.CAN; .*>= 1\.28\.0"):
        deploy.deploy(PYBOARD, install, transport)
    assert not (tmp_path / "main.py").exists()


def _info(version, modules, mpy=0x1C06):
    base = dict.fromkeys(deploy.REQUIRED_MODULES, True)
    return deploy.DeviceInfo(version, mpy, "board", "pyboard", base | modules)


@pytest.mark.parametrize(
    ("board", "info", "refusal"),
    [
        # pyboard on 1.27 has pyb.CAN only: accepted (with a warning)
        (PYBOARD, _info((1, 27, 0), {"machine.CAN": False, "pyb.CAN": True}), None),
        (PYBOARD, _info((1, 28, 0), {"machine.CAN": True, "pyb.CAN": True}), None),
        # Teensy on 1.28: no machine.CAN (mimxrt got it in 1.29) and no pyb at all
        (TEENSY, _info((1, 28, 0), {"machine.CAN": False, "pyb.CAN": False}, 0x2306), ">= 1.29.0"),
        (TEENSY, _info((1, 29, 0), {"machine.CAN": True, "pyb.CAN": False}, 0x2306), None),
        # stock NUCLEO_G474RE build: machine.CAN but no json
        (NUCLEO, _info((1, 28, 0), {"machine.CAN": True, "json": False}), "lacks json"),
        # mpy v6.1 (MicroPython 1.22) still loads bytecode-only v6 files
        (PYBOARD, _info((1, 22, 0), {"machine.CAN": False, "pyb.CAN": True}, 0x1D06), None),
        # mpy v5 (MicroPython 1.12..1.18) does not
        (PYBOARD, _info((1, 18, 0), {"machine.CAN": False, "pyb.CAN": True}, 0x1C05), "v5"),
    ],
)
def test_check_device(board, info, refusal):
    if refusal is None:
        deploy.check_device(board, info)
    else:
        with pytest.raises(FirmwareError, match=refusal):
            deploy.check_device(board, info)


def test_native_code_needs_matching_arch_and_subversion():
    info = _info(
        (1, 28, 0), {"machine.CAN": True}, mpy=(deploy.ARCH_CODES["armv7emdp"] << 10) | 0x306
    )
    with pytest.raises(FirmwareError, match="native code for armv7emsp"):
        deploy.check_device(PYBOARD, info, native=True)
    assert (
        deploy.check_device(PYBOARD, _info((1, 28, 0), {"machine.CAN": True}, 0x1F06), native=True)
        == []
    )


def test_pyb_fallback_is_reported():
    warnings = deploy.check_device(
        PYBOARD, _info((1, 27, 0), {"machine.CAN": False, "pyb.CAN": True})
    )
    assert warnings == ["MicroPython 1.27.0 has no machine.CAN: the logger will use pyb.CAN"]


@pytest.mark.parametrize("text", ["", "hello", "KEILOG-PROBE {", 'KEILOG-PROBE {"version": "x"}'])
def test_garbled_probe_is_an_error(text):
    with pytest.raises(FirmwareError, match="probe"):
        deploy.parse_probe(text)


def test_cli_dry_run(tmp_path):
    cfg = tmp_path / "config.json"
    cfg.write_text(devconfig.build_config(TEENSY).to_json())
    out = tmp_path / "set"
    result = CliRunner().invoke(cli, ["deploy", "--config", str(cfg), "--dry-run", str(out)])
    assert result.exit_code == 0, result.output
    manifest = json.loads(result.stdout)
    assert manifest["board"] == "teensy41" and manifest["mpy_cross_arch"] == "armv7emdp"
    assert (out / "lib" / "logger" / "config.mpy").read_bytes()[:2] == b"M\x06"


def test_cli_without_board_or_config_is_an_error():
    result = CliRunner().invoke(cli, ["deploy", "--dry-run", "/tmp/never"])
    assert result.exit_code == 1
    assert "give --board or a --config" in result.output


def test_heap_check_refuses_a_board_without_room_and_warns_without_headroom():
    assert deploy.check_heap("KEILOG-HEAP 101500\n") == 101500  # a Pyboard v1.1 after boot
    with pytest.raises(FirmwareError, match="60000 bytes of heap free"):
        deploy.check_heap("KEILOG-HEAP 60000\n")
    with pytest.raises(FirmwareError, match="did not report its free heap"):
        deploy.check_heap("Traceback ...\n")
