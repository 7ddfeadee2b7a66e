# pyright: reportUndefinedVariable=false
# Freeze keilog into a MicroPython build (docs/firmware.md, "Frozen build"): its
# bytecode, strings and constants then live in flash and leave the heap to buffers.
#   make -C ports/stm32 BOARD=PYBV11 FROZEN_MANIFEST=/path/to/keilog/firmware/manifest.py
# The default manifest of the port is included first, so the build keeps what the
# board's own firmware freezes; main.py stays a file on the board (keilog deploy
# copies it and config.json).
include("$(PORT_DIR)/boards/manifest.py")  # noqa: F821
package("logger", base_path="lib", opt=3)  # noqa: F821
