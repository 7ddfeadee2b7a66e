# Run under MicroPython by bench/importing.py: log frames from a file through the
# firmware's real path (ring -> encoder -> 512-byte blocks -> segments rotated at
# storage.rotate_bytes), as the logger does on the car.
# Input: records of <I t_us> <H id> <B dlc> <8s data> (15 bytes), little-endian.
import struct
import sys

from logger import config, hal_unix
from logger.app import Logger


def main():
    src, out = sys.argv[1], sys.argv[2]
    cfg, _ = config.validate({"storage": {"path": out}, "can": {"ring": 64}})
    log = Logger(cfg, hal_unix)
    now = log.clock.update()
    log.open_segment(now)
    ring = log.ring
    rotate = cfg["storage.rotate_bytes"]
    rec = bytearray(15)
    data = bytearray(8)
    with open(src, "rb") as f:
        while f.readinto(rec) == 15:
            t, can_id, dlc = struct.unpack_from("<IHB", rec, 0)
            data[:] = rec[7:15]
            ring.put(now + t, can_id, 0, dlc, data)
            if len(ring) >= 32:
                log.drain()
                if log.store.size >= rotate:
                    log.flush()
                    log.open_segment(now + t)
    log.drain()
    log.flush()
    log.store.close()


main()
