# The logger: CAN ring -> block encoder -> segment store, flushed every flush_ms.
#
# Same code on the board and on the unix port; the hal module supplies the CAN
# source, the UTC clock and the storage path.
import sys
import time

from logger import VERSION, config
from logger.clock import MonoClock
from logger.record import (
    EV_BOOT,
    EV_BYTES_WRITTEN,
    EV_CONFIG_ERROR,
    EV_DROPPED,
    EV_FRAMES,
    EV_SHUTDOWN,
    SRC_SYSTEM,
    BlockEncoder,
)
from logger.ring import FrameRing
from logger.segment import SegmentStore

_MASK30 = 0x3FFFFFFF


class Logger:
    def __init__(self, cfg, hal, errors=()):
        self.cfg = cfg
        self.hal = hal
        self.clock = MonoClock()
        self.ring = FrameRing(cfg["can.ring"])
        self.enc = BlockEncoder()
        self.hl = [0, 0]  # scratch for clock.at()
        self.utc = [0, 0, 0]  # scratch for hal.utc_now()
        self.flush_us = cfg["flush_ms"] * 1000
        self.store = SegmentStore(cfg["storage.path"])
        self.boot = self.store.next_boot()
        self.seg_seq = 0
        self.block_seq = 0
        self.dirty_since = 0
        self.dirty = False
        self.seg_opened = 0
        self.frames = 0
        self.errors = errors
        self.device_id = (cfg["device.id"] or hal.device_id()).encode()[:16]
        self.can = None
        if cfg["can.enabled"] and cfg["can.source"]:
            self.can = hal.StreamCan(cfg["can.source"], self.ring)

    # -- blocks -----------------------------------------------------------------
    def _begin(self, ticks):
        self.clock.at(ticks, self.hl)
        self.enc.begin(self.block_seq, self.hl[0], self.hl[1], ticks)
        self.block_seq += 1

    def _emit(self):
        self.store.write(self.enc.seal())
        self.enc.reset()

    def _mark(self, ticks):
        if not self.dirty:
            self.dirty = True
            self.dirty_since = ticks

    # Put a non-frame record through fn(enc) (which returns False when full).
    def _event(self, ticks, code, value):
        if not self.enc.active:
            self._begin(ticks)
        if not self.enc.event(ticks, code, value & _MASK30):
            self._emit()
            self._begin(ticks)
            self.enc.event(ticks, code, value & _MASK30)
        self._mark(ticks)

    def open_segment(self, ticks):
        if self.enc.active:
            self._emit()
        self.store.open(self.boot, self.seg_seq)
        self.seg_seq += 1
        self.block_seq = 0
        self.seg_opened = time.ticks_ms()
        self._begin(ticks)
        self.enc.segment(self.boot, self.seg_seq - 1, self.device_id, VERSION)
        if self.hal.utc_now(self.utc):
            u = self.utc
            self.enc.anchor(ticks, u[0], u[1], u[2], SRC_SYSTEM)
        self._emit()
        self.store.flush()

    # -- the per-frame path: ring -> encoder -> block buffer (non-allocating) -----
    def drain(self):
        ring = self.ring
        enc = self.enc
        n = 0
        while True:
            i = ring.peek()
            if i < 0:
                break
            t = ring.ticks[i]
            if not enc.active:
                self._begin(t)
            if not enc.can(t, ring.ids[i], ring.flags[i], ring.dlc[i], ring.data[i]):
                self._emit()
                self._begin(t)
                enc.can(t, ring.ids[i], ring.flags[i], ring.dlc[i], ring.data[i])
            if not self.dirty:
                self.dirty = True
                self.dirty_since = t
            ring.pop()
            n += 1
        self.frames += n
        return n

    def flush(self):
        if self.enc.active:
            self._emit()
        self.store.flush()
        self.dirty = False

    def counters(self, ticks):
        self._event(ticks, EV_FRAMES, self.frames)
        self._event(ticks, EV_DROPPED, self.ring.dropped)
        self._event(ticks, EV_BYTES_WRITTEN, self.store.bytes_written)

    # -- main loop ----------------------------------------------------------------
    def run(self):
        cfg = self.cfg
        now = self.clock.update()
        self.open_segment(now)
        self._event(now, EV_BOOT, self.boot)
        for i in range(len(self.errors)):
            self._event(now, EV_CONFIG_ERROR, i + 1)
        self.flush()
        started = time.ticks_ms()
        last_counters = started
        counters_ms = cfg["counters_s"] * 1000
        run_ms = cfg["run_s"] * 1000
        rotate_ms = cfg["storage.rotate_s"] * 1000
        rotate_bytes = cfg["storage.rotate_bytes"]
        can = self.can
        while True:
            if can is not None and not can.eof:
                can.poll(self._wait_ms(), 64)
            else:
                self.hal.idle(min(self._wait_ms(), 50))
            now = self.clock.update()
            self.drain()
            if self.dirty and time.ticks_diff(now, self.dirty_since) >= self.flush_us:
                self.flush()
            # Slow timers count milliseconds: ticks_us spans only 2**29 us on boards.
            now_ms = time.ticks_ms()
            if time.ticks_diff(now_ms, last_counters) >= counters_ms:
                last_counters = now_ms
                self.counters(now)
            if (
                self.store.size >= rotate_bytes
                or time.ticks_diff(now_ms, self.seg_opened) >= rotate_ms
            ):
                self.counters(now)
                self.open_segment(now)
            if can is not None and can.eof and cfg["can.eof"] == "exit":
                break
            if run_ms and time.ticks_diff(now_ms, started) >= run_ms:
                break
        self.shutdown()

    def _wait_ms(self):
        if not self.dirty:
            return self.flush_us // 1000
        left = self.flush_us - time.ticks_diff(time.ticks_us(), self.dirty_since)
        return left // 1000 if left > 0 else 0

    def shutdown(self):
        now = self.clock.update()
        self.drain()
        self.counters(now)
        self._event(now, EV_SHUTDOWN, 0)
        self.flush()
        self.store.close()
        if self.can is not None:
            self.can.close()


def _hal():
    if sys.platform in ("linux", "darwin", "freebsd"):
        from logger import hal_unix

        return hal_unix
    from logger import hal_board  # type: ignore

    return hal_board


def main():
    hal = _hal()
    cfg, errors = config.load(hal.config_path())
    for e in errors:
        hal.log("config error: " + e + " (using safe defaults for it)")
    logger = Logger(cfg, hal, errors)
    logger.run()
    hal.log(
        "logged %d frames into %d segment(s), %d bytes, %d dropped"
        % (logger.frames, logger.seg_seq, logger.store.bytes_written, logger.ring.dropped)
    )
