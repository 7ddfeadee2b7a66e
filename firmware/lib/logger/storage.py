# Mounting the log's filesystem: littlefs (internal flash) or FAT (SD card) on a block
# device. The board mounts its SD card or flash device with this; the unix port mounts
# an image file (hal_unix.ImageDevice) the same way, so the same filesystem code runs.
try:
    import vfs
except ImportError:  # MicroPython before 1.23 kept the Vfs classes in os
    import os as vfs


def _fs_class(fs):
    return getattr(vfs, "VfsFat" if fs == "fat" else "VfsLfs2")


# True when the device's first two blocks are all 0x00 or all 0xFF: a fresh image or an
# erased chip, never a filesystem (littlefs keeps its superblock in blocks 0 and 1,
# FAT its boot sector in block 0).
def blank(dev):
    buf = bytearray(dev.ioctl(5, 0) or 512)
    for n in (0, 1):
        dev.readblocks(n, buf)
        first = buf[0]
        if first not in (0, 0xFF):
            return False
        for b in buf:
            if b != first:
                return False
    return True


# Mount dev at point, formatting it first only when it is blank: a damaged filesystem
# raises OSError instead of being formatted over (the data may still be recoverable).
def mount(dev, fs, point):
    cls = _fs_class(fs)
    if blank(dev):
        cls.mkfs(dev)
    vfs.mount(cls(dev), point)
