# Pulse, analog and switch inputs for cars without CAN: the vehicle speed sensor (VSS),
# the tachometer signal, battery voltage, coolant and fuel senders, and the oil
# pressure, brake and headlight switches (docs/firmware.md, "Inputs").
#
# Imported only when the config wires one of them (build.py), so a CAN car's heap does
# not pay for it. The HAL supplies the hardware (hal.inputs(cfg)): on a board a pin
# interrupt per pulse input and machine.ADC / machine.Pin, on the unix port a stream
# of edge times and levels; everything here is the same code on both.
#
# Samples are written as input records (tag 0xF1, docs/log-format.md): an 11-bit
# message id and 8 data bytes, the same shape as a CAN frame, on the log's one
# timebase. keilog import decodes them with dbc/keilog_inputs.dbc, so they reach the
# database as msg_INPUT_* tables like any decoded CAN message.
#
# Every integer here stays below 2**30 (a small int on a 32-bit board): edge times are
# 30-bit (ticks_us on a 32-bit board; the unix port's stream keeps them so too) and
# only ever subtracted with tdiff(), frequencies are in mHz and capped.
import struct
import time

from micropython import const

from logger.record import BLOCK_SIZE, HEADER_SIZE

T_INPUT = const(0xF1)  # extension record: <BBIH8s tag, length 14, t, id, data
_REC = const(16)
_MASK30 = const(0x3FFFFFFF)
_STOP_US = const(2000000)  # no edge for this long: the input has stopped (0 Hz)
F_MAX_MHZ = const(2000000)  # frequencies above 2 kHz read as 2 kHz (16 kHz fits the field)
_Q_LIMIT = const(107374182)  # (2**30 - 1) // 10: a quotient digit more would leave 31 bits
_OPEN = const(0xFFFF)  # a sender reading as an open circuit

# Input channels: the unix port's stream numbers them so (docs/firmware-unix.md).
VSS = const(0)
TACH = const(1)
BATTERY = const(2)
COOLANT = const(3)
FUEL = const(4)
OIL = const(5)
BRAKE = const(6)
LIGHTS = const(7)

# Message ids of the input records (dbc/keilog_inputs.dbc).
ID_VSS = const(0x100)
ID_TACH = const(0x101)
ID_BATTERY = const(0x110)
ID_COOLANT = const(0x111)
ID_FUEL = const(0x112)  # ID_BATTERY + 2: _analog counts on it
ID_SWITCHES = const(0x120)

# config pin key of each channel, in channel order (build.py lists them too)
PIN_KEYS = (
    "vss.pin",
    "tach.pin",
    "battery.pin",
    "coolant.pin",
    "fuel.pin",
    "oil.pin",
    "brake.pin",
    "lights.pin",
)


class Pulse:
    # One pulse input. edge(t) and irq(pin) are interrupt-safe and non-allocating: they
    # count the edge and keep its time, nothing else. sample(now), from the main loop,
    # turns the edges into a frequency: the edges since the last sample over the time
    # between the last edges of the two samples. At speed that is the count over the
    # window; at a crawl, with one edge per window or fewer, it is the period itself.
    # No edge in a window: the frequency can be no higher than one edge in the time
    # waited, and is 0 after _STOP_US. Non-allocating.
    def __init__(self):
        self.n = 0  # edges since start, modulo 2**30 (the interrupt's)
        self.last = 0  # time of the last edge, on the edge clock (ticks_us on boards)
        self.sn = 0  # n and last as of the last sample
        self.slast = 0
        self.seen = False  # an edge was sampled, so slast is an edge time
        self.mhz = 0

    def edge(self, t):
        self.n = (self.n + 1) & _MASK30
        self.last = t

    # A hard pin interrupt's handler (boards): the edge happened now.
    def irq(self, _pin):
        self.n = (self.n + 1) & _MASK30
        self.last = time.ticks_us() & _MASK30  # pyright: ignore[reportOperatorIssue]

    def sample(self, now):
        while True:  # a consistent (n, last) pair even if an edge interrupts the read
            last = self.last
            n = self.n
            if self.last == last:
                break
        k = (n - self.sn) & _MASK30
        if k == 0:
            if self.mhz:
                waited = tdiff(now, self.slast)
                if waited >= _STOP_US:
                    self.mhz = 0
                elif waited > 0:
                    bound = ratio_mhz(1, waited)
                    if bound < self.mhz:
                        self.mhz = bound
            return self.mhz
        dt = tdiff(last, self.slast)
        self.sn = n
        self.slast = last
        if not self.seen or dt <= 0 or (dt >= _STOP_US and k == 1):
            self.seen = True  # the first edge after a stop: no period known yet
            self.mhz = 0
        elif dt >= _STOP_US:  # many edges over a long window: in 1/16 us, to stay small
            self.mhz = ratio_mhz(k, dt >> 4) >> 4
        else:
            self.mhz = ratio_mhz(k, dt)
        return self.mhz


# a - b for 30-bit times (time.ticks_diff of a 32-bit port, on every port: the unix
# port's own ticks_diff wraps at 2**62). Never leaves 31 bits.
def tdiff(a, b):
    d = a - b
    if d >= 0x20000000:
        return d - 0x40000000
    if d < -0x20000000:
        return d + 0x40000000
    return d


# k * 10**9 // d in small ints (mHz from k periods over d us), capped at F_MAX_MHZ.
# Long division one decimal digit at a time: d <= _STOP_US, so r * 10 stays small.
def ratio_mhz(k, d):
    q = k // d
    r = k - q * d
    for _ in range(9):
        if q > _Q_LIMIT:
            return F_MAX_MHZ
        r *= 10
        q = q * 10 + r // d
        r %= d
    return q if q < F_MAX_MHZ else F_MAX_MHZ


# A sender's [ohm, value] points (config) as two arrays, values in tenths.
def table(points):
    from array import array

    return array("i", [p[0] for p in points]), array("i", [round(p[1] * 10) for p in points])


# The value at ohm of a table: linear between points, the end values outside.
# Non-allocating.
def lookup(tab, ohm):
    r, v = tab
    last = len(r) - 1
    if ohm <= r[0]:
        return v[0]
    if ohm >= r[last]:
        return v[last]
    i = 1
    while r[i] < ohm:
        i += 1
    r0 = r[i - 1]
    v0 = v[i - 1]
    return v0 + (v[i] - v0) * (ohm - r0) // (r[i] - r0)


# A sender's resistance from its divider: the logger's pull-up (pull ohm to the ADC
# reference) over the sender to ground. raw: 12-bit reading. _OPEN when open.
def sender_ohm(raw, pull):
    if raw >= 4095:
        return _OPEN
    ohm = pull * raw // (4095 - raw)  # pull <= 100000: the product stays below 2**30
    return ohm if ohm < _OPEN else _OPEN


class InputService:
    # Samples the wired inputs at inputs.pulse_hz (VSS, tach) and inputs.analog_hz
    # (analog and switches) and writes one input record per input per sample. hw: the
    # HAL's inputs (hal.inputs(cfg)); adc: the board's (pin, bits, vref mV, divider top
    # ohm, bottom ohm) of the sense divider, which the battery input uses too.
    def __init__(self, cfg, hw, adc):
        self.hw = hw
        self.buf = bytearray(8)
        pins = [cfg[k] for k in PIN_KEYS]
        self.vss = hw.pulse(VSS, pins[VSS]) if pins[VSS] else None
        self.tach = hw.pulse(TACH, pins[TACH]) if pins[TACH] else None
        self.ppk = cfg["vss.pulses_per_km"]
        self.ppr_milli = int(cfg["tach.pulses_per_rev"] * 1000 + 0.5)
        # battery, coolant, fuel (channel - BATTERY)
        self.adcs = [hw.adc(ch, pins[ch]) if pins[ch] else None for ch in (2, 3, 4)]
        self.switches = [(ch - OIL, hw.switch(ch, pins[ch])) for ch in (5, 6, 7) if pins[ch]]
        # battery mV per 12-bit step << 12: vref * (top + bottom) / bottom (18300 for
        # 3.3 V behind 100k/22k: the product with a reading stays below 2**27)
        self.batt_scale = adc[2] * (adc[3] + adc[4]) // adc[4]
        self.pulls = (0, cfg["coolant.pullup_ohm"], cfg["fuel.pullup_ohm"])
        self.tables = (None, table(cfg["coolant.table"]), table(cfg["fuel.table"]))
        self.pulse_us = 1000000 // cfg["inputs.pulse_hz"]
        self.analog_us = 1000000 // cfg["inputs.analog_hz"]
        self.pulsing = self.vss is not None or self.tach is not None
        self.analog = bool(self.switches) or pins[2] or pins[3] or pins[4]
        self.t_pulse = self.t_analog = time.ticks_us()
        self.samples = 0
        self.eof = False  # streams (unix port): the input stream ended

    def poll(self, log, now):
        hw = self.hw
        hw.pump()
        self.eof = hw.eof
        wait = 1000
        if self.pulsing:
            left = self.pulse_us - time.ticks_diff(now, self.t_pulse)
            if left <= 0:
                self.t_pulse = now
                self._pulses(log, now, hw.now())
                left = self.pulse_us
            wait = left // 1000
        if self.analog:
            left = self.analog_us - time.ticks_diff(now, self.t_analog)
            if left <= 0:
                self.t_analog = now
                self._analog(log, now)
                left = self.analog_us
            if left // 1000 < wait:
                wait = left // 1000
        return wait

    # <HHBHB: the value, the frequency in mHz (24 bits), the edge count modulo 2**16, 0
    def _pulses(self, log, now, edge_now):
        b = self.buf
        p = self.vss
        if p is not None:
            mhz = p.sample(edge_now)
            kph = (mhz * 360 + (self.ppk >> 1)) // self.ppk  # 0.01 km/h, rounded
            struct.pack_into("<HHBHB", b, 0, kph, mhz & 0xFFFF, mhz >> 16, p.n & 0xFFFF, 0)
            write(log, now, ID_VSS, b)
        p = self.tach
        if p is not None:
            mhz = p.sample(edge_now)
            rpm = (mhz * 60 + (self.ppr_milli >> 1)) // self.ppr_milli
            struct.pack_into("<HHBHB", b, 0, rpm, mhz & 0xFFFF, mhz >> 16, p.n & 0xFFFF, 0)
            write(log, now, ID_TACH, b)

    # <HHI: a value (u16, or i16 as its low 16 bits), the raw measure beside it, 0
    def _analog(self, log, now):
        b = self.buf
        for i in range(3):
            adc = self.adcs[i]
            if adc is not None:
                raw = adc.read_u16() >> 4
                if i:
                    ohm = sender_ohm(raw, self.pulls[i])
                    value = lookup(self.tables[i], ohm) & 0xFFFF
                    raw = ohm
                else:
                    value = raw * self.batt_scale >> 12
                struct.pack_into("<HHI", b, 0, value, raw, 0)
                write(log, now, ID_BATTERY + i, b)
        if self.switches:
            bits = 0
            wired = 0
            for bit, pin in self.switches:
                wired |= 1 << bit
                if not pin.value():  # active low: the switch or optocoupler pulls down
                    bits |= 1 << bit
            struct.pack_into("<BBHI", b, 0, bits, wired, 0, 0)
            write(log, now, ID_SWITCHES, b)
        self.samples += 1


# Append an input record to the logger's current block (sealing it when full), as
# Logger.event does for events. Non-allocating. Uses the Logger's block helpers so
# that the app module, loaded on every car, carries no code for inputs.
def write(log, ticks, mid, data):
    if not log.writable():
        return
    enc = log.enc
    if not enc.active:
        log._begin(ticks)
    if not put(enc, ticks, mid, data) and log._room(ticks):
        put(enc, ticks, mid, data)
    log._mark(ticks)


# The input record into a BlockEncoder's block; False when it does not fit.
def put(enc, ticks, mid, data):
    off = enc._offset(ticks)
    p = HEADER_SIZE + enc.used
    if off < 0 or p + _REC > BLOCK_SIZE:
        return False
    struct.pack_into("<BBIH8s", enc.buf, p, T_INPUT, 14, off, mid, data)
    enc.used += _REC
    enc.count += 1
    return True
