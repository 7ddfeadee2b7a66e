# CAN source for pyb.CAN (stm32 boards on MicroPython 1.19 .. 1.27, e.g. Pyboard v1.1
# before machine.CAN existed; 1.19 brought the 5-item recv list and setfilter extframe).
#
# Mode SILENT unless OBD-II polling needs NORMAL. Filters go into the bxCAN filter
# banks (FDCAN controllers take one id/mask filter per index instead): "log all" as two
# 16-bit mask banks that split frames between FIFO 0 and 1 by the lowest id bit (each
# FIFO is only 3 frames deep, two double the slack), an 11-bit [id, mask] as a 16-bit
# mask bank, a 29-bit one as a 32-bit mask bank. The
# rxcallback of each FIFO (an interrupt, run with the heap locked) empties its FIFO with
# the non-allocating recv(fifo, list) into the FrameRing. A FIFO overflow (reason 2)
# counts one overrun: bxCAN does not say how many frames it lost.
import time

from micropython import const

from logger.record import F_EXT, F_RTR

_REASON_OVERFLOW = const(2)


class PybCan:
    # can_cls is pyb.CAN (or an in-memory stand-in with the same API in tests).
    def __init__(self, can_cls, bus, bitrate, normal, flt, ring):
        self.ring = ring
        can = can_cls(bus)
        can.init(can_cls.NORMAL if normal else can_cls.SILENT, baudrate=bitrate)
        self.can = can
        self.buf = bytearray(8)
        self.lst = [0, False, False, 0, memoryview(self.buf)]
        self.info = [0] * 8
        self.frames = 0
        self.overruns = 0
        self.eof = False
        self.tx = bytearray(8)
        self._set_filters(can_cls, flt)
        can.rxcallback(0, self._rx0)
        can.rxcallback(1, self._rx1)

    def _set_filters(self, can_cls, flt):
        can = self.can
        if not hasattr(can_cls, "MASK16"):
            # FDCAN (e.g. STM32G4): one id/mask filter per index, std and ext apart.
            if not flt:
                flt = ((0, 0, False), (0, 0, True))
            for n, (i, m, ext) in enumerate(flt):
                can.setfilter(n, can_cls.MASK, n & 1, (i, m), extframe=ext)
            return
        if not flt:
            can.setfilter(0, can_cls.MASK16, 0, (0, 1, 0, 1))  # even ids -> FIFO 0
            can.setfilter(1, can_cls.MASK16, 1, (1, 1, 1, 1))  # odd ids -> FIFO 1
            return
        for bank, (i, m, ext) in enumerate(flt):
            fifo = bank & 1
            if ext:
                can.setfilter(bank, can_cls.MASK32, fifo, (i, m), extframe=True)
            else:
                can.setfilter(bank, can_cls.MASK16, fifo, (i, m, i, m))

    def _rx0(self, can, reason):
        self._rx(can, reason, 0)

    def _rx1(self, can, reason):
        self._rx(can, reason, 1)

    # The receive interrupt. Non-allocating (pyb runs it with the heap locked).
    def _rx(self, can, reason, fifo):
        if reason == _REASON_OVERFLOW:
            self.overruns += 1
        lst = self.lst
        ring = self.ring
        buf = self.buf
        while can.any(fifo):
            can.recv(fifo, lst)
            f = F_EXT if lst[1] else 0
            if lst[2]:
                f |= F_RTR
            ring.put(time.ticks_us(), lst[0], f, len(lst[4]), buf)
            self.frames += 1

    def poll(self):
        pass

    def state(self):
        s = self.can.state()
        return s - 1 if s > 0 else 0

    def errors(self):
        c = self.can.info(self.info)
        return c[1] + c[2] + c[3] + c[4]

    def send(self, can_id, ext, data, dlc):
        tx = self.tx
        for i in range(8):
            tx[i] = data[i] if i < dlc else 0
        try:
            self.can.send(tx, can_id, timeout=0, extframe=ext)
            return True
        except OSError:
            return False  # TX mailboxes full, bus-off

    def restart(self):
        self.can.restart()

    def close(self):
        self.can.rxcallback(0, None)
        self.can.rxcallback(1, None)
        self.can.deinit()
