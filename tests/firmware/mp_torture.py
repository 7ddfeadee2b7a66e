# Run under MicroPython: power-cut torture of the logger on littlefs and FAT.
#
# A block device over a RAM image counts every write (every 512-byte sector of a FAT
# write, every program operation of littlefs) and, at write number N, cuts the power:
# in "stop" mode that write never happens, in "tear" mode only a random prefix of it
# lands. Then nothing more runs: PowerCut unwinds the firmware wherever it was. The next
# boot mounts the same image with a healthy device, recovers the newest segment and
# starts a new one (a quarter of the trials cut that boot too, a double fault); the
# files are copied out for the host to check with its own reader.
#
# Usage: mp_torture.py FS MODE SEED TRIALS OUTDIR; prints one JSON line per trial.
import json
import os
import random
import sys
import time

from logger import config, hal_unix, recover, storage
from logger.app import Logger
from logger.segment import SegmentStore

FS, MODE, SEED, TRIALS, OUT = (
    sys.argv[1],
    sys.argv[2],
    int(sys.argv[3]),
    int(sys.argv[4]),
    sys.argv[5],
)
IMAGE_BLOCKS = 256  # 128 KiB
FRAMES = 500
ROTATE = 4096  # 8 blocks per segment: rotation happens several times per run
MOUNT = "/torture"


class PowerCut(Exception):
    pass


# The stores of cut boots, kept referenced: their open files must not be finalised
# (closed, written) later, when the garbage collector meets them.
_KEEP = []


class FaultDev:
    # MODE "stop": the cut write never lands. "tear": a random prefix of it lands.
    # "cache": like an SD card's write cache, writes since the last sync (ioctl 3) are
    # held back and, at the cut (a write or a sync), a random subset of them lands: the
    # medium reorders what it had not yet made durable.
    def __init__(self, image, cut_at, rng):
        self.image = image
        self.cut_at = cut_at  # 0: never
        self.rng = rng
        self.writes = 0
        self.dead = False
        self.cache = []  # (address, bytes) not yet synced, "cache" mode only

    # After the cut nothing reaches the medium and reads see nothing. What the firmware
    # does then (a with-block closing its file while PowerCut unwinds, the garbage
    # collector finalising a cut boot's files later and printing their errors: lines
    # that are not JSON) is what a board never gets to do, and is ignored.
    def readblocks(self, n, buf, off=0):
        if self.dead:
            return
        a = n * 512 + off
        end = a + len(buf)
        buf[:] = self.image[a:end]
        for addr, data in self.cache:  # the card answers reads from its cache
            lo = max(a, addr)
            hi = min(end, addr + len(data))
            if lo < hi:
                buf[lo - a : hi - a] = data[lo - addr : hi - addr]

    def writeblocks(self, n, buf, off=None):
        if self.dead:
            return
        a = n * 512 + (off or 0)
        mv = memoryview(buf)
        for s in range(0, len(buf), 512):  # FAT writes several sectors at once
            part = mv[s : s + 512]
            self.writes += 1
            if self.writes == self.cut_at:
                self._cut(a + s, part)
            if MODE == "cache":
                self.cache.append((a + s, bytes(part)))
            else:
                self.image[a + s : a + s + len(part)] = part

    def _cut(self, addr, part):
        if MODE == "tear" and len(part) > 1:
            k = self.rng.randrange(1, len(part))
            self.image[addr : addr + k] = part[:k]
        elif MODE == "cache":
            for a, data in self.cache:
                if self.rng.randrange(2):
                    self.image[a : a + len(data)] = data
        self.cache = []
        self.dead = True
        raise PowerCut()

    def ioctl(self, op, arg):
        if op == 4:
            return IMAGE_BLOCKS
        if op == 5:
            return 512
        if op == 3 and not self.dead and MODE == "cache":
            # sync: the cache goes to the medium, in order; the power may fail while
            # it does (then a random part of it lands)
            self.writes += 1
            if self.writes == self.cut_at:
                self._cut(0, None)
            self.commit()
        return 0

    # The power stays on after a boot that ends by itself: the card empties its cache.
    def commit(self):
        for a, data in self.cache:
            self.image[a : a + len(data)] = data
        self.cache = []


def template():
    image = bytearray(IMAGE_BLOCKS * 512)
    dev = FaultDev(image, 0, None)
    storage.mount(dev, FS, MOUNT)  # a blank image: formatted here, outside the faults
    umount()
    dev.commit()
    return image


def umount():
    try:
        __import__("vfs").umount(MOUNT)
    except ImportError:
        os.umount(MOUNT)


def cfg():
    c, errors = config.validate(
        {
            "storage": {"path": MOUNT, "rotate_bytes": ROTATE, "min_free_bytes": 0},
            "counters_s": 3600,
        }
    )
    assert not errors
    return c


def boot(image, cut_at, rng, frames, progress):
    # One boot: mount, recover, log `frames` frames (flushing every 37). progress[0]
    # counts frames handed to the logger, progress[1] those covered by a flush that
    # completed. Returns the device's write count.
    dev = FaultDev(image, cut_at, rng)
    try:
        storage.mount(dev, FS, MOUNT)
        store = SegmentStore(MOUNT)
        _KEEP.append(store)
        recover.recover(MOUNT, None, recover.tail_blocks(1000))
        log = Logger(cfg(), hal_unix, (), store)
        log.start()
        data = bytearray(8)
        for i in range(frames):
            for k in range(4):
                data[k] = (i >> (8 * k)) & 0xFF
                data[4 + k] = data[k] ^ 0x5A
            log.ring.put(time.ticks_us(), 0x100 + (i % 0x600), 0, 8, data)
            progress[0] = i + 1
            if i % 8 == 7:
                log.drain()
            if i % 37 == 36:
                log.drain()
                log.flush()
                progress[1] = i + 1
            if log.store.size >= ROTATE:
                log.drain()
                log.rotate(log.clock.update())
                progress[1] = i + 1
        log.shutdown(0)
        progress[1] = frames
        umount()
        dev.commit()
        return dev.writes
    except Exception:
        if not dev.dead:
            raise  # a failure of the firmware itself, not of the power
        raise PowerCut() from None
    finally:
        if dev.dead:
            dev.image = None  # what is kept of a cut boot must not hold its image
            umount()
        dev.dead = True


def copy_out(image, dest):
    os.mkdir(dest)
    dev = FaultDev(image, 0, None)
    storage.mount(dev, FS, MOUNT)
    try:
        for name in os.listdir(MOUNT):
            try:
                with open(MOUNT + "/" + name, "rb") as f:
                    data = f.read()
            except OSError:
                # A FAT directory sector torn while a file was created: the entry's
                # name is half written and cannot be opened. The firmware skips it
                # (not a segment name); so does the copy.
                continue
            with open(dest + "/" + name, "wb") as f:
                f.write(data)
    finally:
        umount()


def main():
    rng = random.Random(SEED) if hasattr(random, "Random") else random
    if rng is random:
        random.seed(SEED)
    base = template()
    total = boot(bytearray(base), 0, rng, FRAMES, [0, 0])  # writes of an uncut run
    for trial in range(TRIALS):
        image = bytearray(base)
        cut_at = rng.randrange(1, total + 1)
        progress = [0, 0]
        try:
            boot(image, cut_at, rng, FRAMES, progress)
        except PowerCut:
            pass
        double = rng.randrange(4) == 0
        cut2 = 0
        if double:  # the recovery boot is cut too, somewhere in its first writes
            cut2 = rng.randrange(1, 40)
            try:
                boot(image, cut2, rng, 0, [0, 0])
            except PowerCut:
                pass
        boot(image, 0, rng, 0, [0, 0])  # a clean boot: recovery, a new segment, stop
        dest = "%s/%s-%s-%d" % (OUT, FS, MODE, trial)
        copy_out(image, dest)
        print(
            json.dumps(
                {
                    "dir": dest,
                    "cut_at": cut_at,
                    "writes": total,
                    "cut2": cut2,
                    "sent": progress[0],
                    "durable": progress[1],
                }
            )
        )


main()
