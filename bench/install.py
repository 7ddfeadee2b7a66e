"""Firmware size: what `keilog deploy` puts on the board, and the heap it takes at boot.

- install_flash_bytes: bytes of the install set for the Pyboard v1.1 (compiled .mpy
  modules, main.py and config.json), vs the Pyboard's internal flash filesystem
  (stm32f405.ld: FLASH_FS 112K), where the firmware lives when the SD card holds the
  logs. Lower is better; the ratio is the headroom factor.
- install_heap_bytes: GC heap the firmware holds after boot on the MicroPython unix
  port, running the same compiled .mpy files: the heap in use after importing the
  modules, loading config.json and building the Logger (buffers, ring, encoder),
  minus the interpreter's own use before the imports. The reference is the
  Pyboard's main SRAM (stm32f405.ld: RAM 128K), where its GC heap lives.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from keilog.hardware import boards, deploy, devconfig

from bench import entry

ROOT = Path(__file__).resolve().parents[1]
PYBOARD_FLASH_FS = 112 * 1024  # ports/stm32/boards/stm32f405.ld: FLASH_FS LENGTH = 112K
PYBOARD_SRAM = 128 * 1024  # ports/stm32/boards/stm32f405.ld: RAM LENGTH = 128K

_BOOT = r"""
import gc, sys, json
gc.collect()
before = gc.mem_alloc()
sys.path.insert(0, LIB)
from logger import config, app, hal_unix
cfg, errors = config.load(CFG)
cfg["storage.path"] = STORE
cfg["can.enabled"] = False
log = app.Logger(cfg, hal_unix, errors)
gc.collect()
print("KEILOG-HEAP %d %d" % (before, gc.mem_alloc()))
"""


def run(quick: bool) -> dict[str, dict[str, Any]]:
    board = boards.load_board("pyboard_v11")
    config = devconfig.build_config(board, [ROOT / "dbc" / "keicar.dbc"]).config
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="keilog-bench-install-") as tmp:
        install = deploy.build_install_set(board, config, Path(tmp) / "set")
        flash = sum(f.size for f in install.files)
        mpy = sum(f.size for f in install.files if f.dest.endswith(".mpy"))
        results["install_flash_bytes"] = entry(
            flash,
            PYBOARD_FLASH_FS,
            "Pyboard v1.1 internal flash filesystem (stm32f405.ld FLASH_FS 112K)",
            "bytes",
            higher_is_better=False,
            mpy_bytes=mpy,
            files=len(install.files),
        )
        micropython = shutil.which("micropython")
        if micropython is None:
            return results  # the heap figure needs the unix port; flash needs only mpy-cross
        store = Path(tmp) / "store"
        store.mkdir()
        # The unix port's HAL never ships to a board; it joins the compiled package here
        # (after the flash figure was taken) because a package cannot span directories.
        for hal in (ROOT / "firmware" / "lib" / "logger").glob("hal_unix*.py"):
            shutil.copyfile(hal, install.directory / "lib" / "logger" / hal.name)
        prefix = (
            f"LIB = {str(install.directory / 'lib')!r}\n"
            f"CFG = {str(install.directory / 'config.json')!r}\n"
            f"STORE = {str(store)!r}\n"
        )
        proc = subprocess.run(
            [micropython, "-c", prefix + _BOOT], capture_output=True, text=True, timeout=60
        )
        line = next((x for x in proc.stdout.splitlines() if x.startswith("KEILOG-HEAP ")), None)
        if line is None:
            raise RuntimeError(f"firmware boot under micropython failed: {proc.stderr.strip()}")
        before, after = (int(v) for v in line.split()[1:3])
        results["install_heap_bytes"] = entry(
            after - before,
            PYBOARD_SRAM,
            "Pyboard v1.1 main SRAM (stm32f405.ld RAM 128K)",
            "bytes",
            higher_is_better=False,
            interpreter_bytes=before,
        )
    return results
