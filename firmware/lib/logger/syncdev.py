# The device side of USB sync (docs/sync-protocol.md): a logger service, polled from
# the main loop while logging goes on. poll(log, now) reads what the host sent, answers
# up to a few requests and hashes a little, then hands the loop back to the CAN ring.
#
# It needs only a link (logger.usblink) and the segment store (path, the open segment,
# mark_synced/is_synced); attached to the Logger it can also set the clock (a clock
# anchor record with source host) and seal the segment being written. It also runs
# under CPython: the host's tests serve a segment folder with it in-process.
#
# Buffers are allocated once: the request reader, one reply frame, the hash chunk.
# A READ reply reads the file straight into the reply frame; the views over it are
# cached by length, so a transfer of full chunks allocates nothing per frame.
import hashlib
import json
import os
import struct
import time

from logger import syncproto as P
from logger.record import SRC_HOST

# time.ticks_ms, or None under CPython (the host's in-process tests: sessions never expire)
_ticks_ms = getattr(time, "ticks_ms", None)

try:
    from micropython import const
except ImportError:

    def const(__expr):
        return __expr


_ACTIVE_MS = const(3000)  # a session counts as active this long after the last request
_IDLE_WAIT_MS = const(50)  # with no host: how often the main loop looks at the link
_SESSION_WAIT_MS = const(1)  # during a session
_REQUESTS_PER_POLL = const(4)  # then back to the CAN ring
_HASH_CHUNK = const(4096)  # bytes hashed per poll (about 1 ms on an STM32F4)
_MAX_DIGESTS = const(32)  # digests kept (unacknowledged sealed segments)
_LIST_MAX = const(64)  # entries per LIST reply
_CONFIG_MAX = const(16384)  # largest config file accepted
_H = P.HEADER_SIZE

_SZ_HELLO_REQ = const(4)
_SZ_LIST_REQ = const(14)
_SZ_READ_REQ = const(18)
_SZ_ACK_REQ = const(48)
_SZ_CLOCK_REQ = const(8)
_SZ_CONFIG_PUT_REQ = const(8)


def _names(path):
    try:
        lister = os.ilistdir  # MicroPython: no list of every name in RAM
    except AttributeError:
        for name in os.listdir(path):
            yield name
        return
    for entry in lister(path):
        yield entry[0]


class SyncService:
    # link: see logger.usblink. store: the SegmentStore (path; name and file of the
    # segment being written; mark_synced, is_synced). ident: (device_id bytes, board
    # str, firmware version tuple, boot counter). attached: polled by a Logger, which
    # can set the clock and seal its segment (False: a store-only device).
    # config_path: the config file CONFIG_GET/CONFIG_PUT use (None: no config access).
    def __init__(
        self,
        link,
        store,
        ident,
        attached=False,
        config_path=None,
        max_data=P.MAX_DATA,
        version=P.PROTOCOL_VERSION,
    ):
        self.link = link
        self.store = store
        self.device_id = ident[0]
        self.board = ident[1]
        self.firmware = ident[2]
        self.boot = ident[3]
        self.log = None  # the Logger, as of the last poll()
        self.config_path = config_path
        self.max_data = max_data
        self.version = version
        caps = 0
        if attached:
            caps |= P.CAP_CLOCK | P.CAP_ROTATE
        if config_path:
            caps |= P.CAP_CONFIG
        self.caps = caps
        self.reader = P.StuffedReader(P.MAX_REQUEST)
        self.tx = P.FrameBuffer(max(P.READ_HEADER + max_data, P.HELLO_SIZE, 2 + P.ENTRY_SIZE))
        self.list_max = min(_LIST_MAX, (self.tx.capacity - 2) // P.ENTRY_SIZE)
        self.rx = bytearray(256)
        self.rx_i = 0
        self.rx_n = 0
        self.utc = [0, 0, 0]
        self.greeted = False
        self.active = False
        self.last_ms = 0
        # the READ being answered: frames of up to max_data from s_off to s_end
        self.s_key = None
        self.s_fname = ""
        self.s_seq = 0
        self.s_off = 0
        self.s_end = 0
        self.s_size = 0
        self.s_flags = 0
        # the file READ serves (sealed segments stay open between requests)
        self.r_key = None
        self.r_file = None
        self.data_n = -1
        self.data = self.tx.payload
        # the hasher: sha256 of sealed, unacknowledged segments, a chunk per poll
        self.digests = {}  # key -> (size, digest)
        self.h_key = None
        self.h_file = None
        self.h_sha = None
        self.h_pos = 0
        self.h_size = 0
        self.h_chunk = min(_HASH_CHUNK, max_data)
        self.h_buf = bytearray(self.h_chunk)
        self.h_view = memoryview(self.h_buf)
        self.h_scan = True
        self.h_want = None
        self.seen_open = store.name if store.file is not None else None
        # a config upload in progress
        self.cfg_buf = None
        self.cfg_got = 0
        # replay of the last non-idempotent reply when its request is repeated
        self.dup_kind = -1
        self.dup_seq = -1
        self.dup_n = 0
        # counters
        self.frames_out = 0
        self.write_failures = 0
        self.refused = 0

    # -- the logger service -----------------------------------------------------
    # Called every main-loop iteration (log: the Logger or None; now: its ticks_us).
    # Returns how many ms the loop may sleep before the next call.
    def poll(self, log, now):
        self.log = log
        if self.rx_i >= self.rx_n:
            self.rx_n = self.link.readinto(self.rx, 0)
            self.rx_i = 0
        handled = 0
        reader = self.reader
        while handled < _REQUESTS_PER_POLL:
            if self.s_key is not None:
                self._stream()  # a READ in progress goes before the next request
            elif self.rx_i < self.rx_n:
                self.rx_i = reader.feed(self.rx, self.rx_i, self.rx_n)
                if not reader.ready:
                    continue
                reader.ready = False
                self._request()
            else:
                break
            handled += 1
        if handled:
            self.active = True
        if _ticks_ms is not None:
            now_ms = _ticks_ms()
            if handled:
                self.last_ms = now_ms
            elif self.active and time.ticks_diff(now_ms, self.last_ms) > _ACTIVE_MS:
                self.active = False
                self._close_read()
        store = self.store
        open_now = store.name if store.file is not None else None
        if open_now != self.seen_open:
            self.seen_open = open_now  # a segment was sealed: hash it
            self.h_scan = True
        self._hash_step()
        if self.s_key is not None or self.rx_i < self.rx_n:
            return 0
        if self.h_key is not None and self.active:
            return 0
        return _SESSION_WAIT_MS if self.active else _IDLE_WAIT_MS

    def close(self, log):
        self._close_read()
        self._hash_stop()

    # -- replies -------------------------------------------------------------------
    def _send(self, kind, seq, n):
        if self.link.write(self.tx.finish(kind, seq, n)):
            self.frames_out += 1
        else:
            self.write_failures += 1
            self.active = False  # the host stopped reading: stop waiting for it
            self.s_key = None
        self.dup_kind = -1

    def _keep(self, kind, seq, n):
        self._send(kind, seq, n)
        self.dup_kind = kind & 0x7F
        self.dup_seq = seq
        self.dup_n = n

    def _error(self, seq, code, message):
        buf = self.tx.buf
        struct.pack_into("<H", buf, _H, code)
        m = message.encode()
        k = min(len(m), self.tx.capacity - 2)
        for i in range(k):
            buf[_H + 2 + i] = m[i]
        self._send(P.ERROR, seq, 2 + k)

    def _request(self):
        r = self.reader
        kind = r.kind
        seq = r.seq
        n = r.length
        if kind == self.dup_kind and seq == self.dup_seq:
            self._send(kind | P.REPLY, seq, self.dup_n)  # a retry: same answer, done once
            self.dup_kind = kind
            return
        try:
            if kind == P.HELLO:
                self._hello(seq, n)
            elif not self.greeted:
                self._error(seq, P.E_NO_SESSION, "send HELLO first (the device restarted?)")
            elif kind == P.LIST:
                self._list(seq, n)
            elif kind == P.STAT:
                self._stat(seq, n)
            elif kind == P.READ:
                self._read(seq, n)
            elif kind == P.ACK:
                self._ack(seq, n)
            elif kind == P.SET_CLOCK:
                self._set_clock(seq, n)
            elif kind == P.CONFIG_GET:
                self._config_get(seq, n)
            elif kind == P.CONFIG_PUT:
                self._config_put(seq, n)
            elif kind == P.COUNTERS:
                self._counters(seq)
            elif kind == P.ROTATE:
                self._rotate(seq)
            elif kind == P.BYE:
                self.greeted = False
                self.active = False
                self._close_read()
                self._send(P.BYE | P.REPLY, seq, 0)
            else:
                self._error(seq, P.E_UNKNOWN, "unknown command 0x%02X" % kind)
        except OSError as e:
            self._close_read()
            self._error(seq, P.E_IO, "storage error %s" % e)

    def _short(self, seq, n, need):
        if n < need:
            self._error(seq, P.E_BAD_REQUEST, "request payload is %d bytes, needs %d" % (n, need))
            return True
        return False

    # The 8-hex-digit key of a canonical name field, or None (after an error reply).
    def _key(self, seq, raw):
        try:
            name = bytes(raw).decode()
        except UnicodeError:
            name = ""
        if not P.is_segment_name(name):
            self._error(seq, P.E_BAD_REQUEST, "not a segment name: %r" % bytes(raw))
            return None
        return name[:8]

    # -- segments ------------------------------------------------------------------
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
        for fname in _names(self.store.path):
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

    # -- clock, config, counters, rotation -------------------------------------------
    def _clock(self):
        log = self.log
        if log is None:
            return 0, 0, False
        log.clock.update()
        return log.clock.hi, log.clock.lo, log.hal.utc_now(self.utc)

    def _hello(self, seq, n):
        if self._short(seq, n, 2):
            return
        (version,) = struct.unpack_from("<H", self.reader.buf, _H)
        accepted = version == self.version
        self.greeted = accepted
        if not accepted:
            self.refused += 1
        free_kib = total_kib = 0
        try:
            st = os.statvfs(self.store.path)
            unit = st[1] or st[0]
            free_kib = min(unit * st[4] // 1024, 0xFFFFFFFF)
            total_kib = min(unit * st[2] // 1024, 0xFFFFFFFF)
        except (OSError, AttributeError):
            pass
        hi, lo, known = self._clock()
        u = self.utc
        fw = self.firmware
        struct.pack_into(
            P.FMT_HELLO,
            self.tx.buf,
            _H,
            self.version,
            1 if accepted else 0,
            self.caps,
            fw[0],
            fw[1],
            fw[2],
            self.max_data,
            self.boot,
            self.device_id,
            self.board.encode(),
            free_kib,
            total_kib,
            hi,
            lo,
            1 if known else 0,
            u[0] if known else 0,
            u[1] if known else 0,
            u[2] if known else 0,
        )
        self._send(P.HELLO | P.REPLY, seq, P.HELLO_SIZE)

    def _set_clock(self, seq, n):
        log = self.log
        if log is None or not self.caps & P.CAP_CLOCK:
            self._error(seq, P.E_UNSUPPORTED, "this device cannot set its clock")
            return
        if self._short(seq, n, _SZ_CLOCK_REQ):
            return
        day, ms, us = struct.unpack_from(P.FMT_CLOCK_REQ, self.reader.buf, _H)
        if ms >= 86400000 or us >= 1000:
            self._error(seq, P.E_BAD_REQUEST, "time of day out of range: %d ms %d us" % (ms, us))
            return
        hi, lo, known = self._clock()
        u = self.utc
        struct.pack_into(
            P.FMT_CLOCK,
            self.tx.buf,
            _H,
            1 if known else 0,
            u[0] if known else 0,
            u[1] if known else 0,
            u[2] if known else 0,
            hi,
            lo,
        )
        log.clock_set(log.clock.last, day, ms, us, SRC_HOST)
        log.flush()  # the anchor is on the medium before the host hears back
        self._keep(P.SET_CLOCK | P.REPLY, seq, struct.calcsize(P.FMT_CLOCK))

    def _config_get(self, seq, n):
        if not self.config_path:
            self._error(seq, P.E_UNSUPPORTED, "this device has no config file")
            return
        if self._short(seq, n, 4):
            return
        (offset,) = struct.unpack_from(P.FMT_OFFSET, self.reader.buf, _H)
        total = 0
        got = 0
        try:
            total = os.stat(self.config_path)[6]
        except OSError:
            pass  # no config file: the defaults are in force; an empty reply says so
        if total > offset:
            count = min(total - offset, self.max_data)
            with open(self.config_path, "rb") as f:
                f.seek(offset)
                got = f.readinto(self.tx.mv[_H + 4 : _H + 4 + count]) or 0
        struct.pack_into(P.FMT_OFFSET, self.tx.buf, _H, total)
        self._send(P.CONFIG_GET | P.REPLY, seq, 4 + got)

    def _config_put(self, seq, n):
        if not self.config_path:
            self._error(seq, P.E_UNSUPPORTED, "this device has no config file")
            return
        if self._short(seq, n, _SZ_CONFIG_PUT_REQ):
            return
        offset, total = struct.unpack_from(P.FMT_CONFIG_PUT_REQ, self.reader.buf, _H)
        count = n - _SZ_CONFIG_PUT_REQ
        if total > _CONFIG_MAX or offset + count > total:
            msg = "config of %d bytes: at most %d" % (total, _CONFIG_MAX)
            self._error(seq, P.E_BAD_REQUEST, msg)
            return
        if offset == 0:
            self.cfg_buf = None
            try:
                self.cfg_buf = bytearray(total)
            except MemoryError:
                self._error(seq, P.E_BAD_REQUEST, "no memory for a config of %d bytes" % total)
                return
            self.cfg_got = 0
        buf = self.cfg_buf
        if buf is None or len(buf) != total or offset != self.cfg_got:
            self._error(seq, P.E_BAD_REQUEST, "config upload: expected offset %d" % self.cfg_got)
            return
        src = self.reader.buf
        base = _H + _SZ_CONFIG_PUT_REQ
        for i in range(count):
            buf[offset + i] = src[base + i]
        self.cfg_got = offset + count
        if self.cfg_got == total:
            self.cfg_buf = None
            err = self._store_config(buf)
            if err:
                self._error(seq, P.E_CONFIG, err)
                return
        struct.pack_into(P.FMT_OFFSET, self.tx.buf, _H, self.cfg_got)
        self._keep(P.CONFIG_PUT | P.REPLY, seq, 4)

    # Validate against the one SCHEMA, then replace the file (new name, then rename).
    def _store_config(self, data):
        from logger import config

        try:
            obj = json.loads(bytes(data).decode())
        except (UnicodeError, ValueError) as e:
            return "the config is not valid JSON: %s" % e
        _cfg, errors = config.validate(obj)
        if errors:
            return "the config was not stored: " + "; ".join(errors)
        path = self.config_path
        if path is None:
            return "this device has no config file"
        with open(path + ".new", "wb") as f:
            f.write(data)
        try:
            os.remove(path)
        except OSError:
            pass
        os.rename(path + ".new", path)
        return None

    def _counters(self, seq):
        r = self.reader
        c = {
            "boot": self.boot,
            "link_frames_in": r.frames,
            "link_crc_errors": r.crc_errors,
            "link_header_errors": r.header_errors,
            "link_bytes_skipped": r.skipped,
            "link_frames_out": self.frames_out,
            "link_write_failures": self.write_failures,
            "hello_refused": self.refused,
            "digests": len(self.digests),
        }
        log = self.log
        if log is not None:
            hi, lo, _known = self._clock()
            c["uptime_s"] = hi * 1073 + (hi * 741824 + lo) // 1000000  # 2**30 us periods
            c["frames"] = log.frames
            c["dropped"] = log.ring.dropped
            c["not_logged"] = log.not_logged
            c["bytes_written"] = log.store.bytes_written
            c["segments_this_boot"] = log.segments
        m = json.dumps(c).encode()
        k = min(len(m), self.tx.capacity)
        self.tx.buf[_H : _H + k] = m[:k]
        self._send(P.COUNTERS | P.REPLY, seq, k)

    def _rotate(self, seq):
        log = self.log
        if log is None or not self.caps & P.CAP_ROTATE:
            self._error(seq, P.E_UNSUPPORTED, "this device cannot seal its segment")
            return
        store = self.store
        old = store.name if store.file is not None else None
        if old is not None:  # (parked or halted: nothing is being written, nothing to seal)
            if self.r_key == old[:8]:
                self._close_read()
            log.rotate(log.clock.update())
        self.h_scan = True
        struct.pack_into(P.FMT_NAME, self.tx.buf, _H, old.encode() if old else b"")
        self._keep(P.ROTATE | P.REPLY, seq, P.NAME_SIZE)

    # -- the hasher ----------------------------------------------------------------------
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
            for fname in _names(self.store.path):
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


# The sync service for a Logger, or None when its config has no link on this port.
# The caller adds it to log.services.
def service(log):
    from logger import VERSION

    link = log.hal.open_link(log.cfg)
    if link is None:
        return None
    return SyncService(
        link,
        log.store,
        (log.device_id, log.cfg["board"], VERSION, log.boot),
        True,
        log.hal.config_path(),
        getattr(link, "max_data", P.MAX_DATA),
    )
