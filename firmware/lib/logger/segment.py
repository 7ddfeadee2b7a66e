# Segment files on the board's filesystem (or a directory on the unix port).
#
# A segment is a file of whole 512-byte blocks named BBBBSSSS.KLG: boot counter and
# segment number in hex (8.3 names, so FAT is happy). Blocks are appended and never
# rewritten; flush() pushes them to the medium (os.sync where the port has it).
import os

try:
    _sync = os.sync
except AttributeError:
    _sync = None


def segment_name(boot, seq):
    return "%04X%04X.KLG" % (boot & 0xFFFF, seq & 0xFFFF)


def _exists(path):
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
        if not _exists(cur):
            os.mkdir(cur)


class SegmentStore:
    def __init__(self, path):
        self.path = path.rstrip("/") or "/"
        makedirs(self.path)
        self.file = None
        self.name = None
        self.size = 0
        self.bytes_written = 0

    # Read, increment and persist the boot counter (write to a temporary, then rename).
    def next_boot(self):
        p = self.path + "/BOOT"
        n = 0
        try:
            with open(p) as f:
                n = int(f.read().strip() or "0")
        except (OSError, ValueError):
            n = 0
        n += 1
        tmp = p + ".TMP"
        with open(tmp, "w") as f:
            f.write("%d\n" % n)
        try:
            os.remove(p)
        except OSError:
            pass
        os.rename(tmp, p)
        return n

    def open(self, boot, seq):
        self.close()
        self.name = segment_name(boot, seq)
        self.file = open(self.path + "/" + self.name, "wb")
        self.size = 0

    # Append one whole block. Non-allocating on the unix port and FAT/littlefs.
    def write(self, block):
        f = self.file
        if f is None:
            raise OSError(9)  # EBADF: no segment open (a logic error, not a medium error)
        f.write(block)
        self.size += 512
        self.bytes_written += 512

    def flush(self):
        if self.file is not None:
            self.file.flush()
            if _sync is not None:
                _sync()

    def close(self):
        if self.file is not None:
            self.flush()
            self.file.close()
            self.file = None

    def segments(self):
        names = [n for n in os.listdir(self.path) if n.endswith(".KLG")]
        names.sort()
        return names
