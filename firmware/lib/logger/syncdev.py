# The device side of USB sync (docs/sync-protocol.md), part 3 of 3: a logger service,
# polled from the main loop while logging goes on. poll(log, now) reads what the host
# sent, answers up to a few requests and hashes a little, then hands the loop back to
# the CAN ring. Requests about the device itself (HELLO, SET_CLOCK,
# CONFIG_GET/PUT, COUNTERS, ROTATE) are answered here; syncreply.py lists the parts.
#
# It needs only a link (logger.usblink) and the segment store (path, the open segment,
# mark_synced/is_synced); attached to the Logger it can also set the clock and seal the
# segment being written. It also runs under CPython: the host's tests serve a segment
# folder with it in-process.
import json
import os
import struct
import time

from logger import syncproto as P
from logger.record import SRC_HOST
from logger.syncseg import Segments

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
_CONFIG_MAX = const(16384)  # largest config file accepted
_H = P.HEADER_SIZE
_SZ_CLOCK_REQ = const(8)
_SZ_CONFIG_PUT_REQ = const(8)


# SyncService(link, store, ident, attached=False, config_path=None, max_data, version):
# the arguments are described at syncreply.Replies.__init__.
class SyncService(Segments):
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
