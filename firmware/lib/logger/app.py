# The logger: CAN ring -> block encoder -> segment store, flushed every flush_ms, with
# the services (CAN source, GPS, OBD-II poller, power, status LED, ...) polled from one
# main loop.
#
# Same code on the board and on the unix port; the hal module (hal_board or hal_unix)
# supplies the hardware: CAN controller, UART, storage, pins, clocks.
#
# A service is any object with poll(log, now) -> ms: it does its work for this
# iteration (now is the loop's time.ticks_us reading) and returns how many ms it can
# wait before it needs polling again. Services run in list order, every iteration;
# add one with log.services.append(obj) before run(). Services write records through
# log.event(), log.gps(), log.anchor() and log.frame().
import time

from micropython import const

from logger import VERSION
from logger.clock import MonoClock
from logger.record import (
    EV_BOOT,
    EV_BYTES_WRITTEN,
    EV_CLOCK_SET,
    EV_CONFIG_ERROR,
    EV_DROPPED,
    EV_FLUSH_MS_MAX,
    EV_FRAMES,
    EV_SEGMENT_DELETED,
    EV_SHUTDOWN,
    EV_STORAGE_ERROR,
    EV_STORAGE_FULL,
    STOP_CLEAN,
    BlockEncoder,
)
from logger.ring import FrameRing

_MASK30 = const(0x3FFFFFFF)
# A block's base time lies up to this far before its first record, so that records a
# little older than the block (a GPS epoch that began before the frames around it)
# still fit with a non-negative offset.
_BASE_MARGIN_US = const(2000000)
_RETRY_MS = const(10000)  # storage full or failing: look again this often


class Logger:
    # store: a SegmentStore; by default one on the HAL's storage for cfg (build.py
    # makes it itself, to recover the last segment first).
    def __init__(self, cfg, hal, errors=(), store=None):
        self.cfg = cfg
        self.hal = hal
        if store is None:
            from logger.segment import SegmentStore

            store = SegmentStore(hal.mount_storage(cfg))
        self.clock = MonoClock(hal.ticks_us)
        # no CAN (a pre-CAN car): a token ring; the OBD poller and power service read it
        self.ring = FrameRing(cfg["can.ring"] if cfg["can.enabled"] else 16)
        self.enc = BlockEncoder()
        self.store = store
        self.boot = store.next_boot()
        self.hl = [0, 0]  # scratch for clock.at()
        self.utc = [0, 0, 0]  # scratch for hal.utc_now()
        self.flush_us = cfg["flush_ms"] * 1000
        self.min_free = cfg["storage.min_free_bytes"]
        self.seg_seq = 0
        self.segments = 0  # segments opened since boot
        self.block_seq = 0
        self.dirty = False
        self.dirty_since = 0
        self.seg_opened = 0  # ticks_ms
        self.frames = 0  # frames logged since boot
        self.flushed_frames = 0  # of which on the medium (as of the last flush)
        self.not_logged = 0  # frames discarded since the storage became full
        self.flush_max_us = 0  # longest flush since the last flush_ms_max event
        self.flush_max_all = 0  # longest flush since boot
        self.errors = errors
        self.pending = []  # (code, value) events waiting for a segment to be open
        self.services = []
        self.streams = []  # finite sources (unix port): the run can end when all ended
        self.stop_reason = -1
        self.full = False  # below storage.min_free_bytes and nothing may be deleted
        self.halted = False  # a write failed: the segment is closed, retrying
        self.parked = False  # ignition off: the segment is closed, waiting to wake
        self.retry_ms = 0
        self.free_est = 0  # free bytes as of the last check, minus what was written since
        self.blocks_since_check = 0
        self.utc_source = 0  # anchor source of the RTC, 0 while it is unset
        self.bus_state = 0  # the CAN controller's, as the bus_state event (3: bus-off)
        self.next_wait = 0
        self.device_id = (cfg["device.id"] or hal.device_id()).encode()[:16]

    # -- records ------------------------------------------------------------------
    def _begin(self, ticks):
        clock = self.clock
        hl = self.hl
        clock.at(ticks, hl)
        margin = _BASE_MARGIN_US
        if hl[0] == 0 and hl[1] < margin:
            margin = hl[1]  # never before boot
        base = time.ticks_add(ticks, -margin)
        clock.at(base, hl)
        self.enc.begin(self.block_seq, hl[0], hl[1], base)
        self.block_seq += 1

    # The record did not fit: write the block out and start the next one at ticks.
    # False when the write failed (the logger is halted and the record is dropped).
    def _room(self, ticks):
        self._emit()
        if self.halted:
            return False
        self._begin(ticks)
        return True

    def _emit(self):
        enc = self.enc
        if enc.count:
            try:
                self.store.write(enc.seal())
            except OSError as e:
                self._halt(e)
                return
            self.free_est -= 512
            self.blocks_since_check += 1
        enc.reset()

    def _mark(self, ticks):
        if not self.dirty:
            self.dirty = True
            self.dirty_since = ticks

    def writable(self):
        return self.store.file is not None and not self.halted

    # An event record (value is kept to 30 bits). Before the first segment is open the
    # event waits in self.pending.
    def event(self, ticks, code, value):
        if not self.writable():
            if not self.parked and not self.halted:
                self.pending.append((code, value & _MASK30))
            return
        enc = self.enc
        if not enc.active:
            self._begin(ticks)
        if not enc.event(ticks, code, value & _MASK30) and self._room(ticks):
            enc.event(ticks, code, value & _MASK30)
        self._mark(ticks)

    def anchor(self, ticks, day, tod_ms, us, source):
        if not self.writable():
            return
        enc = self.enc
        if not enc.active:
            self._begin(ticks)
        if not enc.anchor(ticks, day, tod_ms, us, source) and self._room(ticks):
            enc.anchor(ticks, day, tod_ms, us, source)
        self._mark(ticks)

    # One GPS epoch (arguments as BlockEncoder.gps). Non-allocating.
    def gps(self, ticks, day, tod, lat, lon, alt, speed, course, hdop, quality, sats, valid):
        if not self.writable():
            return
        enc = self.enc
        if not enc.active:
            self._begin(ticks)
        ok = enc.gps(ticks, day, tod, lat, lon, alt, speed, course, hdop, quality, sats, valid)
        if not ok and self._room(ticks):
            enc.gps(ticks, day, tod, lat, lon, alt, speed, course, hdop, quality, sats, valid)
        self._mark(ticks)

    # The RTC was set (from GPS, or by the host during sync): tie the boot clock to UTC
    # at ticks and remember that new segments can anchor themselves from the RTC.
    def clock_set(self, ticks, day, tod_ms, us, source):
        self.hal.set_utc(ticks, day, tod_ms, us)
        self.utc_source = source
        self.anchor(ticks, day, tod_ms, us, source)
        self.event(ticks, EV_CLOCK_SET, source)

    # -- segments -----------------------------------------------------------------
    def open_segment(self, ticks):
        if self.enc.active:
            self._emit()
        self.store.close()
        if not self.ensure_space():
            self.enter_full(ticks)
        seq = self.seg_seq
        try:
            self.store.open(self.boot, seq)
        except OSError as e:
            self._halt(e)
            return
        self.seg_seq = seq + 1
        self.segments += 1
        self.block_seq = 0
        self.seg_opened = self.hal.ticks_ms()
        self._begin(ticks)
        self.enc.segment(self.boot, seq, self.device_id, VERSION)
        t = self.hal.ticks_us()  # the anchor ties UTC to the moment it was read
        src = self.hal.utc_now(self.utc)
        if src:
            u = self.utc
            self.enc.anchor(t, u[0], u[1], u[2], src)
        self._mark(ticks)
        pending = self.pending
        if pending:
            self.pending = []
            for code, value in pending:
                self.event(ticks, code, value)
        self.flush()

    def rotate(self, ticks):
        self.counters(ticks)
        self.open_segment(ticks)

    # Free space: delete acknowledged segments (or any, with overwrite_unsynced) until
    # storage.min_free_bytes are free. False when that is impossible.
    def ensure_space(self):
        store = self.store
        free = store.free_bytes()
        deleted = 0
        while free < self.min_free:
            if not store.delete_oldest(self.cfg["storage.overwrite_unsynced"]):
                break
            deleted += 1
            free = store.free_bytes()
        self.free_est = free
        self.blocks_since_check = 0
        if deleted:
            self.pending.append((EV_SEGMENT_DELETED, deleted))
        return free >= self.min_free

    def enter_full(self, ticks):
        if not self.full:
            self.full = True
            self.not_logged = 0
            self.retry_ms = self.hal.ticks_ms()
            self.event(ticks, EV_STORAGE_FULL, 0)

    # A write or flush failed: frames not yet flushed may never reach the medium, so
    # they count as not logged (FAT may still keep some: the log can hold more than
    # the count says, never less).
    def _halt(self, err):
        self.halted = True
        self.not_logged += self.frames - self.flushed_frames
        self.frames = self.flushed_frames
        self.enc.reset()
        self.dirty = False
        self.retry_ms = self.hal.ticks_ms()
        self.store.abandon()
        code = err.args[0] if err.args and isinstance(err.args[0], int) else 0
        self.pending.append((EV_STORAGE_ERROR, code))

    # -- the per-frame path: ring -> encoder -> block buffer (non-allocating) -------
    def drain(self):
        ring = self.ring
        if ring.head == ring.tail:
            return 0
        if self.full or not self.writable():
            if self.parked:
                return 0  # frames wait in the ring: the power service wakes on them
            n = ring.discard()
            self.not_logged += n
            return 0
        enc = self.enc
        n = 0
        while ring.head != ring.tail:
            t = ring.ticks[ring.tail]
            if not enc.active:
                self._begin(t)
            if not self.dirty:
                self.dirty = True
                self.dirty_since = t
            n += enc.take(ring)
            # stopped short: the block is full, or the next frame is older than its base
            if ring.head != ring.tail and not self._room(ring.ticks[ring.tail]):
                break
        if self.halted:
            self.not_logged += n  # see _halt
            return 0
        self.frames += n
        return n

    def flush(self):
        t0 = self.hal.ticks_us()
        if self.enc.active:
            self._emit()
        if self.halted:
            return
        try:
            self.store.flush()
        except OSError as e:
            self._halt(e)
            return
        self.dirty = False
        self.flushed_frames = self.frames
        dt = time.ticks_diff(self.hal.ticks_us(), t0)
        if dt > self.flush_max_us:
            self.flush_max_us = dt
        if dt > self.flush_max_all:
            self.flush_max_all = dt

    def counters(self, ticks):
        self.event(ticks, EV_FRAMES, self.frames)
        self.event(ticks, EV_DROPPED, self.ring.dropped)
        self.event(ticks, EV_BYTES_WRITTEN, self.store.bytes_written)
        self.event(ticks, EV_FLUSH_MS_MAX, (self.flush_max_us + 999) // 1000)
        self.flush_max_us = 0
        if self.full:
            self.event(ticks, EV_STORAGE_FULL, self.not_logged)

    # Ignition off: write the counters, close the segment, stop writing until unpark().
    def park(self, ticks, reason):
        if self.parked:
            return
        if self.writable():
            self.counters(ticks)
            self.event(ticks, EV_SHUTDOWN, reason)
            self.flush()
            self.store.close()
        self.parked = True

    def unpark(self, ticks):
        if self.parked:
            self.parked = False
            if not self.halted:
                self.open_segment(ticks)

    # -- main loop ----------------------------------------------------------------
    def start(self):
        self.prepare()
        now = self.clock.update()
        self.pending.insert(0, (EV_BOOT, self.boot))
        for i in range(len(self.errors)):
            self.pending.insert(1 + i, (EV_CONFIG_ERROR, i + 1))
        self.open_segment(now)

    def run(self):
        self.start()
        while self.stop_reason < 0:
            self.step()
        self.shutdown(self.stop_reason)

    def step(self):
        hal = self.hal
        hal.wait(self.next_wait, self.ring)
        now = self.clock.update()
        wait = 1000
        for s in self.services:
            w = s.poll(self, now)
            if w < wait:
                wait = w
        self.drain()
        if self.dirty:
            left = self.flush_us - time.ticks_diff(now, self.dirty_since)
            if left <= 0:
                self.flush()
            elif left // 1000 < wait:
                wait = left // 1000
        w = self.housekeeping(now)
        self.next_wait = w if w < wait else wait

    # Slow timers (ms ticks: ticks_us spans only 2**29 us on boards). Returns ms to wait.
    def housekeeping(self, now):
        hal = self.hal
        cfg = self.cfg
        now_ms = hal.ticks_ms()
        if time.ticks_diff(now_ms, self.last_counters) >= self.counters_ms:
            self.last_counters = now_ms
            self.counters(now)
        if self.full or self.halted:
            if time.ticks_diff(now_ms, self.retry_ms) >= _RETRY_MS:
                self.retry_ms = now_ms
                self._retry(now)
        elif self.writable():
            # The free space is read (os.statvfs, which allocates) when a segment opens,
            # and every 8 blocks once the estimate nears the limit: the estimate counts
            # only the blocks written, filesystem overhead makes it a little optimistic.
            near = self.free_est < self.min_free + self.near_bytes
            if near and self.blocks_since_check >= 8:
                if not self.ensure_space():
                    self.enter_full(now)
                self._write_pending(now)
            if (
                self.store.size >= cfg["storage.rotate_bytes"]
                or time.ticks_diff(now_ms, self.seg_opened) >= self.rotate_ms
            ):
                self.rotate(now)
        if self.run_ms and time.ticks_diff(now_ms, self.started) >= self.run_ms:
            self.stop_reason = STOP_CLEAN
        streams = self.streams
        if streams and cfg["can.eof"] == "exit":
            ended = True
            for s in streams:
                if not s.eof:
                    ended = False
            if ended:
                self.stop_reason = STOP_CLEAN
        return 1000

    def _write_pending(self, now):
        pending = self.pending
        if pending and self.writable():
            self.pending = []
            for code, value in pending:
                self.event(now, code, value)

    def _retry(self, now):
        if self.halted and not self.parked:
            self.halted = False
            self.open_segment(now)  # halts again if the medium still fails
            if self.halted:
                return
        if self.full and self.ensure_space():
            self.event(now, EV_STORAGE_FULL, self.not_logged)
            self.full = False
            self.not_logged = 0
            self._write_pending(now)

    def prepare(self):
        cfg = self.cfg
        self.started = self.hal.ticks_ms()
        self.last_counters = self.started
        self.counters_ms = cfg["counters_s"] * 1000
        self.run_ms = cfg["run_s"] * 1000
        self.rotate_ms = cfg["storage.rotate_s"] * 1000
        self.near_bytes = cfg["storage.rotate_bytes"] // 4 + 65536

    def shutdown(self, reason):
        now = self.clock.update()
        for s in self.services:
            close = getattr(s, "close", None)
            if close is not None:
                close(self)
        self.drain()
        if self.writable():
            self.counters(now)
            self.event(now, EV_SHUTDOWN, reason)
            self.flush()
        self.store.close()
