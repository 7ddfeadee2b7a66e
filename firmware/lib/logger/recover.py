# Boot-time recovery of the segment a power cut interrupted.
#
# Blocks are only ever appended, so damage from a cut is at the end of the newest
# segment, in what was not yet flushed: a torn block, a trailing partial block, blocks
# an SD card's cache wrote out of order (a hole, then valid blocks after it). recover()
# scans the end of that segment for the first block that is not valid, or not in
# sequence, and cuts the file back to the blocks before it, so that every segment is
# whole and the next boot never appends after damaged bytes. MicroPython has no
# truncate(), so the cut copies the valid blocks to BBBBSSSS.TMP, removes the segment
# and renames the copy. Leftovers of a cut that was
# itself interrupted are finished here first:
#   only .TMP        the copy was complete and the segment already removed: rename it
#   .TMP and .KLG    sizes or bytes differ: the copy was incomplete: remove it, cut again
#                    same size and bytes: a FAT rename cut half way leaves two names on
#                    one cluster chain; removing either would free the other's clusters,
#                    so the .TMP is left alone (it is ignored as a segment).
import os
import struct
from binascii import crc32

from micropython import const

from logger.segment import exists, is_segment_name, names

_BLOCK = const(512)
_MAGIC = b"KLB1"
# A saturated 1 Mbit/s bus fills about 290 blocks a second (9,009 frames of 16 bytes).
_BLOCKS_PER_S = const(290)


# Blocks at the end of a segment that may not have been flushed when the power went:
# twice what flush_ms can leave unflushed at full bus load, and at least 64.
def tail_blocks(flush_ms):
    n = 2 * _BLOCKS_PER_S * flush_ms // 1000 + 8
    return n if n > 64 else 64


# True when buf holds a valid block number index (docs/log-format.md, Blocks) whose
# base time is not before (hi0, lo0).
def block_ok(buf, index, hi0, lo0):
    if buf[0:4] != _MAGIC:
        return False
    seq, hi, lo, used = struct.unpack_from("<IIIH", buf, 4)
    if seq != index or used > 488 or lo >= 0x40000000 or (hi, lo) < (hi0, lo0):
        return False
    crc = struct.unpack_from("<I", buf, 20)[0]
    for i in range(20, 24):
        buf[i] = 0
    ok = crc32(buf) & 0xFFFFFFFF == crc
    struct.pack_into("<I", buf, 20, crc)
    return ok


def _read(f, index, buf):
    try:
        f.seek(index * _BLOCK)
        return f.readinto(buf) == _BLOCK
    except OSError:
        return False  # FAT with a torn directory entry can point past the cluster chain


def _size(path):
    return os.stat(path)[6]


def _same(a, b, feed):
    if _size(a) != _size(b):
        return False
    x = bytearray(_BLOCK)
    y = bytearray(_BLOCK)
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            n = fa.readinto(x)
            if fb.readinto(y) != n:
                return False
            if not n:
                return True
            if x != y:
                return False
            if feed:
                feed()


def _leftovers(path, feed):
    tmps = [n for n in names(path) if n.endswith(".TMP") and is_segment_name(n[:8] + ".KLG")]
    for tmp in tmps:
        t = path + "/" + tmp
        k = path + "/" + tmp[:8] + ".KLG"
        if not exists(k):
            os.rename(t, k)
        elif not _same(t, k, feed):
            os.remove(t)


# The number of leading blocks to keep in the segment at p: up to the first invalid
# block among the last `tail` blocks (everything before them was flushed long ago:
# a flush ends with a sync, and a medium keeps what it synced).
def _valid_blocks(p, tail, feed):
    buf = bytearray(_BLOCK)
    size = _size(p)
    n = size // _BLOCK
    f = open(p, "rb")
    try:
        if n == 0 or not _read(f, 0, buf) or not block_ok(buf, 0, 0, 0):
            return 0, size
        hi0, lo0 = struct.unpack_from("<II", buf, 8)
        k = n - tail if n - tail > 1 else 1
        while k < n:
            if not _read(f, k, buf):
                break
            if not block_ok(buf, k, hi0, lo0):
                break
            k += 1
            if feed:
                feed()
        return k, size
    finally:
        f.close()


def _copy(src, dst, blocks, feed):
    buf = bytearray(_BLOCK)
    with open(src, "rb") as fi, open(dst, "wb") as fo:
        for _ in range(blocks):
            fi.readinto(buf)
            fo.write(buf)
            if feed:
                feed()


# Recover the newest segment in path. Returns the number of bytes cut off its end.
# tail: how many blocks at its end may not have been flushed (see tail_blocks).
def recover(path, feed=None, tail=1024):
    _leftovers(path, feed)
    last = None
    for n in names(path):
        if is_segment_name(n) and (last is None or n > last):
            last = n
    if last is None:
        return 0
    p = path + "/" + last
    keep, size = _valid_blocks(p, tail, feed)
    if keep * _BLOCK == size:
        return 0
    if keep == 0:
        os.remove(p)  # not one readable block: nothing to keep
        return size
    tmp = path + "/" + last[:8] + ".TMP"
    _copy(p, tmp, keep, feed)
    os.remove(p)
    os.rename(tmp, p)
    return size - keep * _BLOCK
