# USB sync, device side, part 2 of 3 (see syncreply.py): the segments. What the
# device knows of a segment (size, flags, sha256); the hasher, which digests sealed,
# unacknowledged segments a chunk per poll so that an ACK is checked without a long
# stall; and the segment requests LIST, STAT, READ (a run of reply frames, one per
# poll at most) and ACK.
import hashlib
import os
import struct

from logger import syncproto as P
from logger.syncreply import Replies

try:
    from micropython import const
except ImportError:

    def const(__expr):
        return __expr


_MAX_DIGESTS = const(32)  # digests kept (unacknowledged sealed segments)
_H = P.HEADER_SIZE
_SZ_LIST_REQ = const(14)
_SZ_READ_REQ = const(18)
_SZ_ACK_REQ = const(48)


# The names in folder path, one at a time.
def names(path):
    try:
        lister = os.ilistdir  # MicroPython: no list of every name in RAM
    except AttributeError:
        for name in os.listdir(path):
            yield name
        return
    for entry in lister(path):
        yield entry[0]


class Segments(Replies):
    def _is_open(self, key):
        s = self.store
        return s.file is not None and s.name is not None and s.name[:8] == key

    # (filename, size, flags) of segment key, or None. The segment being written is
    # readable up to its last whole block on the medium.
    def _info(self, key):
        fname = key + ".KLG"
        try:
            size = os.stat(self.store.path + "/" + fname)[6]
        except OSError:
            return None
        if self.store.is_synced(fname):
            flags = P.F_SEALED | P.F_ACKED
        elif self._is_open(key):
            size -= size % 512
            flags = 0
        else:
            flags = P.F_SEALED
        d = self.digests.get(key)
        if d is not None and d[0] == size and flags == P.F_SEALED:
            flags |= P.F_HASHED
        return fname, size, flags

    def _pack_entry(self, off, key, size, flags):
        buf = self.tx.buf
        d = self.digests.get(key) if flags & P.F_HASHED else None
        struct.pack_into(
            P.FMT_ENTRY,
            buf,
            _H + off,
            (key + ".KLG").encode(),
            size,
            flags,
            d[1] if d else b"",
        )

    # -- segment requests ------------------------------------------------------------
    def _list(self, seq, n):
        if self._short(seq, n, _SZ_LIST_REQ):
            return
        after_raw, flags, count = struct.unpack_from(P.FMT_LIST_REQ, self.reader.buf, _H)
        after = ""
        if after_raw != b"\x00" * 12:
            after = self._key(seq, after_raw)
            if after is None:
                return
        limit = min(count or self.list_max, self.list_max)
        with_acked = flags & P.L_ACKED
        best = []  # the `limit` smallest keys after `after`, sorted
        more = False
        for fname in names(self.store.path):
            if not P.is_segment_name(fname):
                continue
            if not with_acked and self.store.is_synced(fname):
                continue
            key = fname[:8]
            if key <= after:
                continue
            if len(best) == limit:
                more = True
                if key >= best[-1]:
                    continue
                best.pop()
            i = len(best)
            while i > 0 and best[i - 1] > key:
                i -= 1
            best.insert(i, key)
        k = 0
        for key in best:
            info = self._info(key)
            if info is None:
                continue  # deleted since the scan
            self._pack_entry(2 + k * P.ENTRY_SIZE, key, info[1], info[2])
            k += 1
        struct.pack_into(P.FMT_LIST, self.tx.buf, _H, k, 1 if more else 0)
        self._send(P.LIST | P.REPLY, seq, 2 + k * P.ENTRY_SIZE)

    def _stat(self, seq, n):
        if self._short(seq, n, P.NAME_SIZE):
            return
        key = self._key(seq, self.reader.mv[_H : _H + 12])
        if key is None:
            return
        info = self._info(key)
        if info is None:
            self._error(seq, P.E_NOT_FOUND, "no segment %s.KLG on the device" % key)
            return
        if info[2] == P.F_SEALED:
            self.h_want = key  # the host waits for this digest: hash it next
        self._pack_entry(0, key, info[1], info[2])
        self._send(P.STAT | P.REPLY, seq, P.ENTRY_SIZE)

    # READ: the reply is one frame per max_data bytes asked for (a READ of up to 64 KiB
    # is answered by a run of frames, one per poll call at most _REQUESTS_PER_POLL), all
    # with the request's seq. The run ends at the length asked for or at the size the
    # segment had when the READ arrived, whichever comes first (an empty frame if the
    # offset is already there).
    def _read(self, seq, n):
        if self._short(seq, n, _SZ_READ_REQ):
            return
        raw, offset, length = struct.unpack_from(P.FMT_READ_REQ, self.reader.buf, _H)
        key = self._key(seq, raw)
        if key is None:
            return
        info = self._info(key)
        if info is None:
            self._error(seq, P.E_NOT_FOUND, "no segment %s.KLG on the device" % key)
            return
        self.s_fname, self.s_size, self.s_flags = info
        self.s_key = key
        self.s_seq = seq
        self.s_off = offset
        end = offset + length
        self.s_end = end if end < self.s_size else self.s_size
        self._stream()

    # Send the next frame of the READ in progress.
    def _stream(self):
        key = self.s_key
        if key is None:
            return
        offset = self.s_off
        flags = self.s_flags
        count = self.s_end - offset
        if count > self.max_data:
            count = self.max_data
        got = 0
        if count > 0:
            f = self._open_read(key, self.s_fname)
            f.seek(offset)
            if count != self.data_n:
                self.data_n = count
                self.data = self.tx.mv[_H + P.READ_HEADER : _H + P.READ_HEADER + count]
            got = f.readinto(self.data) or 0
            if got and flags == P.F_SEALED:
                self._hash_feed(key, self.s_size, offset, got)
        self.s_off = offset + got
        if got == 0 or self.s_off >= self.s_end:
            self.s_key = None  # done
            if not flags & P.F_SEALED:
                self._close_read()  # reopen next time: the medium may have grown
        struct.pack_into(P.FMT_READ, self.tx.buf, _H, offset, self.s_size, flags)
        self._send(P.READ | P.REPLY, self.s_seq, P.READ_HEADER + got)

    def _open_read(self, key, fname):
        if self.r_key != key or self.r_file is None:
            self._close_read()
            self.r_file = open(self.store.path + "/" + fname, "rb")
            self.r_key = key
        return self.r_file

    def _close_read(self):
        if self.r_file is not None:
            self.r_file.close()
            self.r_file = None
            self.r_key = None

    def _ack(self, seq, n):
        if self._short(seq, n, _SZ_ACK_REQ):
            return
        raw, size, sha = struct.unpack_from(P.FMT_ACK_REQ, self.reader.buf, _H)
        key = self._key(seq, raw)
        if key is None:
            return
        info = self._info(key)
        if info is None:
            self._error(seq, P.E_NOT_FOUND, "no segment %s.KLG on the device" % key)
            return
        _fname, cur, flags = info
        if not flags & P.F_ACKED:
            if not flags & P.F_SEALED:
                self._error(seq, P.E_NOT_SEALED, "%s.KLG is still being written" % key)
                return
            if size != cur:
                msg = "%s.KLG: the host has %d bytes, the device %d" % (key, size, cur)
                self._error(seq, P.E_MISMATCH, msg)
                return
            d = self.digests.get(key)
            if d is None or d[0] != cur:
                self.h_want = key
                done = self.h_pos if self.h_key == key else 0
                self._error(
                    seq, P.E_BUSY, "%s.KLG: sha256 at %d of %d bytes, ask again" % (key, done, cur)
                )
                return
            if d[1] != sha:
                self._error(seq, P.E_MISMATCH, "%s.KLG: the host's sha256 differs" % key)
                return
            if self.r_key == key:
                self._close_read()
            if self.h_key == key:
                self._hash_stop()
            if not self.store.mark_synced(key + ".KLG"):
                self._error(seq, P.E_NOT_FOUND, "%s.KLG could not be marked" % key)
                return
            del self.digests[key]
            self.h_scan = True
            flags = P.F_SEALED | P.F_ACKED
        self._pack_entry(0, key, cur, flags)
        self._send(P.ACK | P.REPLY, seq, P.ENTRY_SIZE)

    # -- the hasher ------------------------------------------------------------------
    def _hash_step(self):
        if self.h_key is None:
            if not (self.h_scan or self.h_want):
                return
            self._hash_next()
            if self.h_key is None:
                return
        f = self.h_file
        if f is None:
            return
        f.seek(self.h_pos)
        n = f.readinto(self.h_buf) or 0
        if n <= 0:
            self._hash_stop()  # the file shrank: start over when asked again
            return
        left = self.h_size - self.h_pos
        if n > left:
            n = left
        self._hash_update(n)

    def _hash_update(self, n):
        sha = self.h_sha
        if sha is None:
            return
        sha.update(self.h_view if n == self.h_chunk else self.h_view[0:n])
        self.h_pos += n
        if self.h_pos >= self.h_size:
            self._hash_done()

    # Bytes a READ just put in the reply also go to the hasher when they are next.
    def _hash_feed(self, key, size, offset, got):
        if self.h_key is None and key not in self.digests and offset == 0:
            if len(self.digests) < _MAX_DIGESTS:
                self._hash_start(key, key + ".KLG", size)
        sha = self.h_sha
        if self.h_key == key and offset == self.h_pos and sha is not None:
            sha.update(self.data if got == self.data_n else self.data[0:got])
            self.h_pos += got
            if self.h_pos >= self.h_size:
                self._hash_done()

    def _hash_next(self):
        want = self.h_want
        self.h_want = None
        key = None
        if want is not None and want not in self.digests:
            info = self._info(want)
            if info is not None and info[2] & P.F_SEALED and not info[2] & P.F_ACKED:
                key = want
                while len(self.digests) >= _MAX_DIGESTS:
                    for k in self.digests:
                        del self.digests[k]
                        break
        if key is None:
            self.h_scan = False
            if len(self.digests) >= _MAX_DIGESTS:
                return
            for fname in names(self.store.path):
                if not P.is_segment_name(fname) or self.store.is_synced(fname):
                    continue
                k = fname[:8]
                if k in self.digests or self._is_open(k):
                    continue
                if key is None or k < key:
                    key = k
            if key is None:
                return
            self.h_scan = True  # more may follow
        fname = key + ".KLG"
        self._hash_start(key, fname, os.stat(self.store.path + "/" + fname)[6])

    def _hash_start(self, key, fname, size):
        self._hash_stop()
        self.h_key = key
        self.h_size = size
        self.h_pos = 0
        self.h_sha = hashlib.sha256()
        self.h_file = open(self.store.path + "/" + fname, "rb")
        if size == 0:
            self._hash_done()

    def _hash_done(self):
        sha = self.h_sha
        if sha is not None and self.h_key is not None:
            self.digests[self.h_key] = (self.h_size, sha.digest())
        self._hash_stop()

    def _hash_stop(self):
        if self.h_file is not None:
            self.h_file.close()
        self.h_file = None
        self.h_key = None
        self.h_sha = None
        self.h_pos = 0
