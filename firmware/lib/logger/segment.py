# Segment files on the board's filesystem (or a directory on the unix port).
#
# A segment is a file of whole 512-byte blocks named BBBBSSSS.KLG: boot counter and
# segment number in hex (8.3 names, so FAT is happy). Blocks are appended and never
# rewritten; flush() pushes them to the medium (os.sync where the port has it).
#
# Next to the segments: BOOT (the boot counter) and SYNCED (which segments the host
# has acknowledged as copied; the space policy deletes only those unless
# storage.overwrite_unsynced). Both are replaced by writing a temporary file and
# renaming it, and both are read back from the temporary if a power cut came between
# removing the old file and renaming the new one.
#
# Directory listings are streamed (os.ilistdir): a year of 4 MiB segments on a big
# SD card is thousands of names, more than a board's RAM holds as a list.
import os

from micropython import const

try:
    _sync = os.sync
except AttributeError:
    _sync = None

_SMALL = const(0x3FFFFFFF)  # free space is reported up to here (a small int everywhere)
_SUFFIX = ".KLG"


def segment_name(boot, seq):
    return "%04X%04X.KLG" % (boot & 0xFFFF, seq & 0xFFFF)


def is_segment_name(name):
    if len(name) != 12 or not name.endswith(_SUFFIX):
        return False
    for c in name[:8]:
        if c not in "0123456789ABCDEF":
            return False
    return True


def exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def makedirs(path):
    parts = path.split("/")
    cur = ""
    for i, part in enumerate(parts):
        if not part:
            if i == 0:
                cur = "/"
            continue
        cur = cur + part if cur.endswith("/") or not cur else cur + "/" + part
        if not exists(cur):
            os.mkdir(cur)


def names(path):
    # Every entry name in path, one at a time.
    ilistdir = getattr(os, "ilistdir", None)
    if ilistdir is None:  # CPython (the demo's shim)
        for n in os.listdir(path):
            yield n
        return
    for entry in ilistdir(path):
        yield entry[0]


def _read_int(path):
    try:
        with open(path) as f:
            return int(f.read().strip() or "0")
    except (OSError, ValueError):
        return 0


# Replace path's content by text: write path.TMP, then rename it over path (littlefs
# renames over a file atomically; FAT needs the old one removed first).
def replace_file(path, text):
    tmp = path + ".TMP"
    with open(tmp, "w") as f:
        f.write(text)
    try:
        os.rename(tmp, path)
    except OSError:
        try:
            os.remove(path)
        except OSError:
            pass
        os.rename(tmp, path)
    if _sync is not None:
        _sync()


class SegmentStore:
    def __init__(self, path):
        self.path = path.rstrip("/") or "/"
        makedirs(self.path)
        self.file = None
        self.name = None  # the open segment's file name
        self.size = 0
        self.bytes_written = 0  # since boot, mod 2**30
        self.synced = self._load_synced()

    def _p(self, name):
        return self.path + "/" + name

    # -- boot counter -------------------------------------------------------------
    # Read, increment and persist the boot counter. Never below the newest segment's
    # boot number, so that a lost BOOT file cannot make new segments reuse old names.
    def next_boot(self):
        p = self._p("BOOT")
        n = _read_int(p)
        tmp = _read_int(p + ".TMP")
        if tmp > n:
            n = tmp
        for name in self.segments_iter():
            b = int(name[:4], 16)
            if n <= 0xFFFF and b > n:
                n = b
        n += 1
        replace_file(p, "%d\n" % n)
        return n

    # -- segments -------------------------------------------------------------------
    def segments_iter(self):
        for n in names(self.path):
            if is_segment_name(n):
                yield n

    # The segment names, oldest first (a list: see the note at the top about RAM).
    def segments(self):
        out = list(self.segments_iter())
        out.sort()
        return out

    # Open segment (boot, seq) for appending; if that name exists (the 16-bit boot
    # number in names wrapped) take the next free seq. Returns the seq used.
    def open(self, boot, seq):
        self.close()
        name = segment_name(boot, seq)
        while exists(self._p(name)):
            seq += 1
            name = segment_name(boot, seq)
        self.file = open(self._p(name), "wb")
        self.name = name
        self.size = 0
        return seq

    # Append one whole block. Non-allocating on the unix port and FAT/littlefs. A
    # short write (a full medium) raises OSError(28, ENOSPC).
    def write(self, block):
        f = self.file
        if f is None:
            raise OSError(9)  # EBADF: no segment open
        n = f.write(block)
        if n is not None and n != 512:
            raise OSError(28)
        self.size += 512
        self.bytes_written = (self.bytes_written + 512) & _SMALL

    def flush(self):
        if self.file is not None:
            self.file.flush()
            if _sync is not None:
                _sync()

    def close(self):
        if self.file is not None:
            f = self.file
            self.file = None
            f.flush()
            if _sync is not None:
                _sync()
            f.close()

    # Drop the open segment after a write error, whatever state the medium is in.
    def abandon(self):
        f = self.file
        self.file = None
        if f is not None:
            try:
                f.close()
            except OSError:
                pass

    # -- space ----------------------------------------------------------------------
    # Free bytes on the segments' filesystem, capped at 2**30 - 1.
    def free_bytes(self):
        st = os.statvfs(self.path)
        bs = st[1] or st[0]
        cap = _SMALL // bs
        free = st[4]
        return (cap if free > cap else free) * bs

    # Delete the oldest segment that may go: acknowledged as synced, or any with
    # unsynced=True; never the open one. Returns its name, or None.
    def delete_oldest(self, unsynced):
        victim = None
        for n in self.segments_iter():
            if n == self.name or (victim is not None and n >= victim):
                continue
            if unsynced or self.is_synced(n):
                victim = n
        if victim is not None:
            os.remove(self._p(victim))
            if self.is_synced(victim):
                self.synced = self._compact(self.synced)
                self._save_synced()
        return victim

    # -- synced acknowledgements ------------------------------------------------------
    # The host copied segment `name` and has it safe: from now on the space policy may
    # delete it. Called by the USB sync service. False for the open segment (it is
    # still growing) or a name that does not exist.
    def mark_synced(self, name):
        if self.file is not None and name == self.name:
            return False  # still being written
        if not is_segment_name(name) or not exists(self._p(name)):
            return False
        if self.is_synced(name):
            return True
        stem = name[:8]
        self.synced.append([stem, stem])
        self.synced = self._compact(self.synced)
        self._save_synced()
        return True

    def is_synced(self, name):
        stem = name[:8]
        for lo, hi in self.synced:
            if lo <= stem <= hi:
                return True
        return False

    # Ranges [first, last] of segment stems (8 hex digits), merged across the names in
    # between when those are all synced too, dropped when no segment is left in them.
    def _compact(self, ranges):
        ranges.sort()
        out = []
        for lo, hi in ranges:
            if out and self._none_between(out[-1][1], lo):
                if hi > out[-1][1]:
                    out[-1][1] = hi
            else:
                out.append([lo, hi])
        live = []
        for r in out:
            for n in self.segments_iter():
                if r[0] <= n[:8] <= r[1]:
                    live.append(r)
                    break
        return live

    # True when no existing segment lies strictly between stems a and b (a < b), or a
    # range that ends at a already reaches b.
    def _none_between(self, a, b):
        if b <= a:
            return True
        for n in self.segments_iter():
            if a < n[:8] < b:
                return False
        return True

    def _load_synced(self):
        p = self._p("SYNCED")
        text = None
        for candidate in (p, p + ".TMP"):
            try:
                with open(candidate) as f:
                    text = f.read()
                break
            except OSError:
                pass
        out = []
        for line in (text or "").split("\n"):
            parts = line.split()
            if len(parts) == 2 and len(parts[0]) == 8 and len(parts[1]) == 8:
                out.append([parts[0], parts[1]])
        return out

    def _save_synced(self):
        replace_file(self._p("SYNCED"), "".join("%s %s\n" % (lo, hi) for lo, hi in self.synced))
