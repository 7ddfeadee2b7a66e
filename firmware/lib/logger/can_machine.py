# CAN source for machine.CAN (MicroPython >= 1.28: stm32, mimxrt, alif).
#
# The controller runs in MODE_SILENT unless OBD-II polling needs MODE_NORMAL: silent,
# it never ACKs, never sends error frames, never transmits. Frames arrive by interrupt:
# _irq() empties the controller's FIFO with the non-allocating recv(list) form straight
# into the FrameRing, so it may run as a hard IRQ. Overruns come from get_counters()
# (and the RECV_ERR_OVERRUN flag where a port has no counter), bus state from state().
import time

from micropython import const

from logger.record import F_EXT, F_RTR

_MAX_ROUNDS = const(8)  # irq().flags() is polled until 0; never spin forever


class MachineCan:
    # can_cls is machine.CAN (or an in-memory stand-in with the same API in tests).
    def __init__(self, can_cls, bus, bitrate, normal, flt, ring):
        self.ring = ring
        mode = can_cls.MODE_NORMAL if normal else can_cls.MODE_SILENT
        can = can_cls(bus, bitrate, mode=mode)
        self.can = can
        self.flag_ext = can_cls.FLAG_EXT_ID
        self.flag_rtr = can_cls.FLAG_RTR
        self.err_overrun = can_cls.RECV_ERR_OVERRUN
        self.state_stopped = can_cls.STATE_STOPPED
        self.buf = bytearray(8)
        self.lst = [0, memoryview(self.buf), 0, 0]
        self.counters = [0] * 8
        self.frames = 0
        self.overruns = 0  # cumulative; counters reset on restart()
        self.flagged = 0  # RECV_ERR_OVERRUN flags seen (ports without the counter)
        self.hw_base = 0
        self.eof = False
        self.tx = bytearray(8)
        can.set_filters(self._filters(can_cls, flt))
        can.irq(self._irq, trigger=can_cls.IRQ_RX | can_cls.IRQ_STATE, hard=True)

    def _filters(self, can_cls, flt):
        if not flt:
            return None  # set_filters(None) receives everything; [] would receive nothing
        return [(i, m, can_cls.FLAG_EXT_ID if e else 0) for i, m, e in flt]

    # The receive interrupt. Non-allocating (hard IRQ safe).
    def _irq(self, can):
        lst = self.lst
        ring = self.ring
        buf = self.buf
        rounds = _MAX_ROUNDS
        while can.irq().flags() and rounds:
            rounds -= 1
            while can.recv(lst) is not None:
                fl = lst[2]
                f = F_EXT if fl & self.flag_ext else 0
                if fl & self.flag_rtr:
                    f |= F_RTR
                if lst[3] & self.err_overrun:
                    self.flagged += 1
                ring.put(time.ticks_us(), lst[0], f, len(lst[1]), buf)
                self.frames += 1

    def poll(self):
        c = self.can.get_counters(self.counters)[7]
        self.overruns = self.hw_base + c if c is not None else self.flagged

    def state(self):
        s = self.can.state()
        return s - 1 if s > self.state_stopped else 0

    def errors(self):
        c = self.can.get_counters(self.counters)
        return (c[1] or 0) + (c[2] or 0) + (c[3] or 0) + (c[4] or 0)

    def send(self, can_id, ext, data, dlc):
        tx = self.tx
        for i in range(8):
            tx[i] = data[i] if i < dlc else 0
        try:
            return self.can.send(can_id, tx, self.flag_ext if ext else 0) is not None
        except OSError:
            return False  # bus-off or stopped

    def restart(self):
        self.hw_base = self.overruns  # restart() zeroes the controller's counters
        self.can.restart()

    def close(self):
        self.can.irq(None)
        self.can.deinit()
