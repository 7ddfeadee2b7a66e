# The input "hardware" of the unix port (and of the 32-bit test tier), the part of
# hal_unix that only a config with inputs wired loads (build.py imports <hal>_inputs
# and calls its inputs(cfg)): a stream of
# 8-byte records standing in for the pins of docs/firmware.md's inputs. Each record is
# <BBHI kind, channel, value, t:
#   kind 0: clock only; 1: an edge on pulse channel `channel`; 2: level `value` on
#   channel (an ADC's read_u16, or a switch pin's 0/1);
#   t: when, in microseconds on the stream's own clock, modulo 2**30.
# Channels are logger.inputs' VSS 0, TACH 1, BATTERY 2, COOLANT 3, FUEL 4, OIL 5,
# BRAKE 6, LIGHTS 7. An edge goes to the same Pulse.edge() a board's pin interrupt
# calls; the stream's clock is the pulse inputs' edge clock (a board's is ticks_us).
# pump() reads what is waiting and allocates nothing.
import select
from array import array

from micropython import const

from logger.inputs import BRAKE, LIGHTS, OIL, Pulse

_REC = const(8)
_CHUNK = const(64)  # records read at a time, at most
_MASK30 = const(0x3FFFFFFF)


class Level:
    # An ADC (read_u16) or a switch pin (value) whose level the stream sets.
    def __init__(self, levels, ch):
        self.levels = levels
        self.ch = ch

    def read_u16(self):
        return self.levels[self.ch]

    def value(self):
        return 1 if self.levels[self.ch] else 0


class InputFeed:
    # f: the stream (None: nothing wired to it); chunked: f is a regular file, read in
    # chunks; ready(): something is waiting (None: always); ended(): called at EOF.
    def __init__(self, f, chunked=True, ready=None, ended=None):
        self.f = f
        self.chunked = chunked
        self.ready = ready
        self.ended = ended
        self.buf = bytearray(_CHUNK * _REC)
        mv = memoryview(self.buf)
        self.views = [mv[i:] for i in range(_REC)]  # read targets after i leftover bytes
        self.have = 0
        self.pulses = [None] * 8
        self.levels = array("H", [0] * 8)
        self.levels[OIL] = self.levels[BRAKE] = self.levels[LIGHTS] = 1  # pulled up: off
        self.clock = 0
        self.records = 0
        self.eof = f is None

    def pulse(self, ch, pin):
        p = Pulse()
        self.pulses[ch] = p  # pyright: ignore[reportArgumentType, reportCallIssue]
        return p

    def adc(self, ch, pin):
        return Level(self.levels, ch)

    def switch(self, ch, pin):
        return Level(self.levels, ch)

    def now(self):
        return self.clock

    def pump(self):
        rounds = 4 if self.chunked else _CHUNK
        buf = self.buf
        while rounds and not self.eof:
            rounds -= 1
            if self.ready is not None and not self.ready():
                break
            if self.chunked:
                got = self.f.readinto(self.views[self.have])
            else:
                got = self.f.readinto(self.views[self.have], _REC - self.have)
            if got is None:
                break
            if not got:
                self.eof = True
                if self.ended is not None:
                    self.ended()
                break
            total = self.have + got
            whole = total // _REC
            for j in range(whole):
                self._record(j * _REC)
            rest = total - whole * _REC
            src = whole * _REC
            for i in range(rest):
                buf[i] = buf[src + i]
            self.have = rest
            self.records += whole

    def _record(self, p):
        b = self.buf
        kind = b[p]
        ch = b[p + 1] & 7
        t = b[p + 4] | (b[p + 5] << 8) | (b[p + 6] << 16) | ((b[p + 7] & 0x3F) << 24)
        self.clock = t
        if kind == 1:
            pulse = self.pulses[ch]
            if pulse is not None:
                pulse.edge(t)
        elif kind == 2:
            self.levels[ch] = b[p + 2] | (b[p + 3] << 8)


# The inputs of the unix port: the stream at inputs.source (a FIFO, file or unix
# socket, registered with hal_unix's poller so the main loop wakes for it); without
# one the inputs stay idle.
def inputs(cfg):
    from logger import hal_unix

    path = cfg["inputs.source"]
    if not path:
        return InputFeed(None)
    f, _ = hal_unix._open_stream(path)
    poller = select.poll()
    poller.register(f, 1)  # POLLIN
    hal_unix._ready(poller)
    hal_unix.register(f)

    def ready():
        return hal_unix._ready(poller)

    def ended():
        hal_unix.unregister(f)

    return InputFeed(f, hal_unix._is_regular(path), ready, ended)
