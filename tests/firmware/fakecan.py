# Run under MicroPython by the firmware tests: an in-memory CAN bus with controllers
# that follow the documented APIs of machine.CAN (MicroPython >= 1.28,
# docs/library/machine.CAN.rst) and pyb.CAN (docs/library/pyb.CAN.rst), for the parts the
# logger uses. There is no CAN controller on the test machine; this plays the
# hardware's role, like python-can's VirtualBus.
#
# Receive interrupts are called synchronously from deliver(), with the heap locked as a
# hard IRQ (machine.CAN hard=True, pyb.CAN rxcallback) runs: any allocation in a
# handler raises MemoryError (after the first call, see _locked1). A controller set to
# another bitrate than the bus counts receive errors instead of receiving; while the bus
# holds (hold=True) frames go into the FIFOs without interrupting, as when interrupts
# are masked, so FIFOs overflow.
import micropython


class Bus:
    def __init__(self, bitrate=500000, fifo_depth=3):
        self.bitrate = bitrate
        self.fifo_depth = fifo_depth
        self.nodes = []
        self.sent = []  # (id, bytes, ext) transmitted by a controller
        self.responder = None  # fn(bus, id, data, ext): another node answering
        self.hold = False
        self.traffic = None  # (id, data): one frame per bus query, for auto-detect

    def attach(self, node):
        self.nodes.append(node)

    def deliver(self, can_id, data=b"", ext=False, rtr=False, dlc=None):
        n = len(data) if dlc is None else dlc
        for node in self.nodes:
            node._rx(can_id, bytes(data), ext, rtr, n)

    def transmit(self, can_id, data, ext):
        self.sent.append((can_id, bytes(data), ext))
        if self.responder is not None:
            self.responder(self, can_id, bytes(data), ext)

    def release(self):
        self.hold = False
        for node in self.nodes:
            node._release()

    def tick(self):
        if self.traffic is not None:
            self.deliver(self.traffic[0], self.traffic[1])


# Call an interrupt handler as a hard IRQ runs: with the heap locked. The very first
# call of each controller is not locked: it is where this stand-in makes its memoryview
# per length (see recv); real hardware needs no such warm-up.
def _locked1(node, fn, a):
    if node.views is None:
        fn(a)
        return
    micropython.heap_lock()
    try:
        fn(a)
    finally:
        micropython.heap_unlock()


def _locked2(node, fn, a, b):
    if node.views is None:
        fn(a, b)
        return
    micropython.heap_lock()
    try:
        fn(a, b)
    finally:
        micropython.heap_unlock()


# One view per length 0..8 over the buffer of mv. (A helper of its own: a comprehension
# inside recv() would make the list a closure cell, allocated on every call.)
def _views(mv):
    return [mv[:n] for n in range(9)]


class MachineCAN:
    MODE_NORMAL = 0
    MODE_SLEEP = 1
    MODE_LOOPBACK = 2
    MODE_SILENT = 3
    MODE_SILENT_LOOPBACK = 4
    STATE_STOPPED = 0
    STATE_ACTIVE = 1
    STATE_WARNING = 2
    STATE_PASSIVE = 3
    STATE_BUS_OFF = 4
    FLAG_RTR = 1
    FLAG_EXT_ID = 2
    RECV_ERR_FULL = 1
    RECV_ERR_OVERRUN = 2
    IRQ_TX = 1
    IRQ_RX = 2
    IRQ_STATE = 8
    FILTERS_MAX = 14
    bus = None  # the Bus new controllers attach to (new_bus sets it)
    instances = None  # every controller made since new_bus, a list

    def __init__(self, bus_id, bitrate, mode=0):
        self.bus_id = bus_id
        self.bitrate = bitrate
        self.mode = mode
        self.filters = ()  # nothing until set_filters (as the docs say)
        self.fifo = []
        self.overrun_pending = False
        self.counters = [0] * 8
        self.st = self.STATE_ACTIVE
        self.handler = None
        self.trigger = 0
        self.hard = False
        self.pending_flags = 0
        self.views = None
        self.deinited = False
        self._irq = _Irq(self)
        MachineCAN.bus.attach(self)
        MachineCAN.instances.append(self)

    def set_filters(self, filters):
        if filters is not None:
            for f in filters:
                if len(f) != 3:
                    raise ValueError("filter items must have length 3")
                top = 1 << 29 if f[2] & self.FLAG_EXT_ID else 1 << 11
                if f[0] >= top or f[1] >= top:
                    raise ValueError("invalid id")
            if len(filters) > self.FILTERS_MAX:
                raise ValueError("too many filters")
        self.filters = filters

    def irq(self, handler=None, trigger=0, hard=False):
        if handler is not None or trigger:
            self.handler = handler
            self.trigger = trigger
            self.hard = hard
        return self._irq

    def _accepts(self, can_id, ext):
        if self.filters is None:
            return True
        for fid, mask, flags in self.filters:
            if bool(flags & self.FLAG_EXT_ID) == ext and can_id & mask == fid & mask:
                return True
        return False

    def _rx(self, can_id, data, ext, rtr, dlc):
        if self.deinited:
            return
        if self.bitrate != MachineCAN.bus.bitrate:
            self.counters[1] += 1  # REC: bits that make no sense at this bitrate
            return
        if not self._accepts(can_id, ext):
            return
        if len(self.fifo) >= MachineCAN.bus.fifo_depth:
            self.counters[7] += 1
            self.overrun_pending = True
            return
        self.fifo.append((can_id, data, ext, rtr, dlc))
        self._interrupt(self.IRQ_RX)

    def _interrupt(self, flag):
        if not self.trigger & flag or self.handler is None:
            return
        self.pending_flags |= flag
        if not MachineCAN.bus.hold:
            _locked1(self, self.handler, self)

    def _release(self):
        if self.pending_flags and self.handler is not None:
            _locked1(self, self.handler, self)

    def recv(self, lst=None):
        if not self.fifo:
            return None
        can_id, data, ext, rtr, dlc = self.fifo.pop(0)
        if self.views is None:
            # The real recv(list) resizes the caller's memoryview in place; a Python
            # stand-in keeps one view per length over the same buffer instead.
            self.views = _views(lst[1])
        full = self.views[8]
        for i in range(dlc):
            full[i] = 0 if rtr else data[i]
        lst[0] = can_id
        lst[1] = self.views[dlc]
        lst[2] = (self.FLAG_EXT_ID if ext else 0) | (self.FLAG_RTR if rtr else 0)
        errs = 0
        if self.overrun_pending:
            errs |= self.RECV_ERR_OVERRUN
            self.overrun_pending = False
        if len(self.fifo) + 1 >= MachineCAN.bus.fifo_depth:
            errs |= self.RECV_ERR_FULL
        lst[3] = errs
        return lst

    def get_counters(self, lst=None):
        MachineCAN.bus.tick()
        out = lst if lst is not None else [0] * 8
        for i in range(8):
            out[i] = self.counters[i]
        out[6] = len(self.fifo)
        return out

    def state(self):
        return self.st

    def set_state(self, st):  # test control: the controller changed state
        self.st = st
        self._interrupt(self.IRQ_STATE)

    def restart(self):
        self.st = self.STATE_ACTIVE
        for i in range(8):
            self.counters[i] = 0

    def send(self, can_id, data, flags=0):
        if self.mode in (self.MODE_SILENT, self.MODE_SILENT_LOOPBACK):
            raise OSError(1)  # a silent controller never transmits
        if self.st == self.STATE_BUS_OFF:
            raise OSError(1)
        MachineCAN.bus.transmit(can_id, data, bool(flags & self.FLAG_EXT_ID))
        return 0

    def deinit(self):
        self.deinited = True


class _Irq:
    def __init__(self, can):
        self.can = can

    def flags(self):
        f = self.can.pending_flags
        self.can.pending_flags = 0
        return f


class PybCAN:
    NORMAL = 0
    LOOPBACK = 0x4000000
    SILENT = 0x8000000
    SILENT_LOOPBACK = 0xC000000
    STOPPED = 0
    ERROR_ACTIVE = 1
    ERROR_WARNING = 2
    ERROR_PASSIVE = 3
    BUS_OFF = 4
    MASK16 = 0
    LIST16 = 1
    MASK32 = 2
    LIST32 = 3
    bus = None
    instances = None

    def __init__(self, bus_id):
        self.bus_id = bus_id
        self.mode = None
        self.baudrate = 0
        self.banks = {}
        self.fifos = ([], [])
        self.callbacks = [None, None]
        self.overflow = [False, False]
        self.pending = [False, False]
        self.info_counts = [0] * 8
        self.st = self.STOPPED
        self.views = None
        PybCAN.bus.attach(self)
        PybCAN.instances.append(self)

    def init(self, mode, baudrate=0, **kw):
        self.mode = mode
        self.baudrate = baudrate
        self.st = self.ERROR_ACTIVE

    def setfilter(self, bank, mode, fifo, params, rtr=None, extframe=False):
        if mode in (self.MASK16, self.LIST16) and len(params) != 4:
            raise ValueError("CAN filter parameter error")
        if mode in (self.MASK32, self.LIST32) and len(params) != 2:
            raise ValueError("CAN filter parameter error")
        if bank >= 14:
            raise ValueError("CAN filter parameter error")
        self.banks[bank] = (mode, fifo, tuple(params), extframe)

    # bxCAN filter matching, as pyb_can.c programs the banks: 16-bit scale compares
    # the 11-bit id (an extended frame's top 11 bits) under the mask; 32-bit scale as
    # set here (IDE bit set) matches extended frames only, on all 29 bits.
    def _fifo_for(self, can_id, ext):
        std = can_id >> 18 if ext else can_id
        for bank in sorted(self.banks):
            mode, fifo, p, _ext = self.banks[bank]
            if mode == self.MASK16:
                if std & p[1] == p[0] & p[1] or std & p[3] == p[2] & p[3]:
                    return fifo
            elif mode == self.MASK32 and ext and can_id & p[1] == p[0] & p[1]:
                return fifo
        return -1

    def rxcallback(self, fifo, fun):
        self.callbacks[fifo] = fun

    def _rx(self, can_id, data, ext, rtr, dlc):
        if self.mode is None:
            return
        if self.baudrate != PybCAN.bus.bitrate:
            self.info_counts[1] += 1
            return
        fifo = self._fifo_for(can_id, ext)
        if fifo < 0:
            return
        q = self.fifos[fifo]
        if len(q) >= 3:  # bxCAN FIFOs hold 3 frames
            self.overflow[fifo] = True
            return
        q.append((can_id, data, ext, rtr, dlc))
        if len(q) == 1:
            self.pending[fifo] = True
        if not PybCAN.bus.hold:
            self._release()

    def _release(self):
        for fifo in (0, 1):
            cb = self.callbacks[fifo]
            if cb is None:
                continue
            if self.overflow[fifo]:
                self.overflow[fifo] = False
                self.pending[fifo] = False
                _locked2(self, cb, self, 2)
            elif self.pending[fifo]:
                self.pending[fifo] = False
                _locked2(self, cb, self, 0)

    def any(self, fifo):
        return len(self.fifos[fifo]) > 0

    def recv(self, fifo, lst=None, timeout=5000):
        q = self.fifos[fifo]
        if not q:
            raise OSError(110)  # ETIMEDOUT
        can_id, data, ext, rtr, dlc = q.pop(0)
        if self.views is None:
            self.views = _views(lst[4])
        full = self.views[8]
        for i in range(dlc):
            full[i] = 0 if rtr else data[i]
        lst[0] = can_id
        lst[1] = ext
        lst[2] = rtr
        lst[3] = 0
        lst[4] = self.views[dlc]
        return lst

    def state(self):
        return self.st

    def info(self, lst=None):
        PybCAN.bus.tick()
        out = lst if lst is not None else [0] * 8
        for i in range(8):
            out[i] = self.info_counts[i]
        return out

    def send(self, data, can_id, timeout=0, rtr=False, extframe=False):
        if self.mode in (self.SILENT, self.SILENT_LOOPBACK):
            raise OSError(1)
        PybCAN.bus.transmit(can_id, data, extframe)

    def restart(self):
        self.st = self.ERROR_ACTIVE

    def deinit(self):
        self.mode = None


def new_bus(bitrate=500000, fifo_depth=3):
    bus = Bus(bitrate, fifo_depth)
    MachineCAN.bus = bus
    PybCAN.bus = bus
    MachineCAN.instances = []
    PybCAN.instances = []
    return bus
