# Run on the 32-bit WebAssembly port (tests/firmware/wasm/run.mjs) with the install set
# in /lib: start the logger as firmware/main.py does (startup.start: the config from
# /config.json, build.logger(), the boot-only modules dropped) from the Pyboard's
# config, measure the heap it holds, then log the fed-in CAN frames (and NMEA) with the whole
# main loop under micropython.heap_lock(). Prints one JSON line.
# Usage: mp32_logger.py CONFIG FRAMES NMEA LOCK [INPUTS]
#   CONFIG  the install set's config.json; FRAMES a file of SocketCAN records or "-"
#   (no CAN: can.enabled false); NMEA a file of NMEA text or "-"; LOCK "lock" to run
#   the steady state heap-locked; INPUTS a file of the unix port's input stream: the
#   VSS, tach, battery, coolant, fuel and switch inputs are wired and fed from it.
import array  # noqa: F401
import binascii  # noqa: F401
import gc
import hashlib  # noqa: F401
import json
import os  # noqa: F401
import select  # noqa: F401
import struct  # noqa: F401
import sys
import time  # noqa: F401

import micropython
import vfs  # noqa: F401

# MicroPython's own modules are C in the board's flash; on this port some are partly
# Python on the heap (binascii: 7 KB). They and this script are loaded before the base
# is read (in a call of its own: see run.mjs), so that the figure is keilog's alone.
# keilog is imported after it, in start(); the tier's HAL is counted too (it stands
# for hal_board, which the board holds).


def start():
    import hal_wasm
    from logger import startup

    with open(sys.argv[1]) as f:
        obj = json.load(f)
    obj.setdefault("can", {})["source"] = None if sys.argv[2] == "-" else sys.argv[2]
    obj["can"]["enabled"] = sys.argv[2] != "-"
    obj["can"]["eof"] = "exit"
    if len(sys.argv) > 5:
        obj["inputs"] = {"source": sys.argv[5], "pulse_hz": 50, "analog_hz": 10}
        for name in ("vss", "tach", "battery", "coolant", "fuel", "oil", "brake", "lights"):
            obj[name] = {"pin": "X" + name}
    obj.setdefault("gps", {})["source"] = None if sys.argv[3] == "-" else sys.argv[3]
    obj.setdefault("storage", {})["min_free_bytes"] = 0
    obj["flush_ms"] = 50
    obj["counters_s"] = 1
    with open(hal_wasm.config_path(), "w") as f:
        json.dump(obj, f)
    log = startup.start(hal_wasm)
    if log.errors:
        raise ValueError("config: " + "; ".join(log.errors))
    return log


def main(log):
    gc.collect()
    built = gc.mem_alloc() - base
    log.start()
    while log.store.bytes_written < 4 * 512:  # warm-up: blocks written, one flush
        log.step()
    gc.collect()
    logging = gc.mem_alloc() - base
    warm = log.frames
    bytes_warm = log.store.bytes_written
    lock = sys.argv[4] == "lock"
    if lock:
        micropython.heap_lock()
    try:
        while log.stop_reason < 0:
            log.step()
    finally:
        if lock:
            micropython.heap_unlock()
    in_lock = log.frames - warm
    log.shutdown(log.stop_reason)
    print(
        json.dumps(
            {
                "built": built,
                "logging": logging,
                "frames": log.frames,
                "in_lock": in_lock if lock else 0,
                "bytes_in_lock": log.store.bytes_written - bytes_warm if lock else 0,
                "dropped": log.ring.dropped,
                "segments": log.segments,
                "services": [type(s).__name__ for s in log.services],
                "maxsize": sys.maxsize,
                "modules": sorted(k for k in sys.modules if k.startswith("logger")),
            }
        )
    )


# wasm: next call
gc.collect()
base = gc.mem_alloc()
# wasm: next call
log = start()
# wasm: next call
main(log)
