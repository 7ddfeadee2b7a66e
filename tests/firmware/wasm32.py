"""The 32-bit test tier: the firmware as ``keilog deploy`` installs it, on MicroPython's
own 32-bit build (the WebAssembly port from npm, run by node).

``.ci/run`` installs the port with ``npm ci --prefix tests/firmware/wasm`` (the
package.json and lock file there). Where node or the package is missing the tier
skips, saying how to get it; with ``CI=true`` it fails instead, as the unix-port tests
do.

The install set is the real one: :func:`keilog.hardware.deploy.build_install_set` for a
Pyboard v1.1 and its default config, so every module is compiled by ``mpy-cross
-march=armv7emsp`` exactly as deploy compiles it. The firmware has no
``@micropython.native`` or ``@micropython.viper`` code (tests/firmware/test_wasm32.py
checks the files are bytecode only), so those very files load on the WebAssembly port,
which loads no native code. Should a per-frame path ever go native, this tier must
compile it without the emitter (the same source, as bytecode) and say so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from keilog.hardware import boards, deploy, devconfig

from tests.conftest import ROOT

WASM = Path(__file__).resolve().parent / "wasm"
PACKAGE = WASM / "node_modules" / "@micropython" / "micropython-webassembly-pyscript"
# The Pyboard v1.1's free heap after boot (MicroPython 1.2x, gc.mem_free() at the REPL
# with nothing imported): the board keilog must fit, with headroom.
PYBOARD_FREE_HEAP = 101_500
# keilog's goal for itself: all of it loaded and the logger built in at most this.
HEAP_GOAL = 70 * 1024


def node_path() -> str:
    """node, with the WebAssembly port installed; skip (fail under CI=true) otherwise."""
    node = shutil.which("node")
    hint = ""
    if not node:
        hint = "node is missing (apt-get install nodejs)"
    elif not (PACKAGE / "micropython.mjs").exists():
        hint = f"the WebAssembly port is not installed: npm ci --prefix {WASM.relative_to(ROOT)}"
    if hint:
        if os.environ.get("CI"):
            pytest.fail(f"the 32-bit firmware tier needs it under CI: {hint}")
        pytest.skip(f"32-bit firmware tier: {hint}")
    assert node
    return node


def install_set(out: Path) -> Path:
    """The Pyboard's install set in ``out``, plus the tier's HAL compiled the same way.
    Returns the folder that goes to the device's root (main.py, lib/logger/*.mpy)."""
    board = boards.load_board("pyboard_v11")
    config = devconfig.build_config(board, []).config
    install = deploy.build_install_set(board, config, out)
    deploy._compile(WASM / "hal_wasm.py", out / "lib" / "hal_wasm.mpy", board.mpy_cross_arch)
    # the unix port's input stream decoder, which the tier's HAL uses for the inputs
    feed = ROOT / "firmware" / "lib" / "logger" / "hal_unix_inputs.py"
    deploy._compile(feed, out / "lib" / "logger" / "hal_unix_inputs.mpy", board.mpy_cross_arch)
    arch = board.mpy_cross_arch
    deploy._compile(WASM / "hal_wasm_inputs.py", out / "lib" / "hal_wasm_inputs.mpy", arch)
    return install.directory


def run_wasm(
    script: Path,
    *args: str,
    put: dict[Path, str] | None = None,
    get: dict[str, Path] | None = None,
    timeout: float = 120,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run ``script`` on the 32-bit port. ``put`` copies host paths into its in-memory
    filesystem first, ``get`` copies device folders back out after the run."""
    cmd = [node_path(), str(WASM / "run.mjs")]
    for host, dev in (put or {}).items():
        cmd += ["--put", f"{host}={dev}"]
    for dev, host in (get or {}).items():
        cmd += ["--get", f"{dev}={host}"]
    proc = subprocess.run(
        [*cmd, str(script), *args], capture_output=True, text=True, timeout=timeout
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{script.name} on the 32-bit port exited {proc.returncode}:\n"
            f"{proc.stdout}\n{proc.stderr}"
        )
    return proc
