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
ID_FUEL = const(0x112)
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
    # count the edge and keep its time, nothing else.
    def __init__(self):
        self.n = 0  # edges since start, modulo 2**30
        self.last = 0  # time of the last edge, on the edge clock (ticks_us on boards)

    def edge(self, t):
        self.n = (self.n + 1) & _MASK30
        self.last = t

    # A hard pin interrupt's handler (boards): the edge happened now.
    def irq(self, _pin):
        self.n = (self.n + 1) & _MASK30
        self.last = time.ticks_us() & _MASK30  # pyright: ignore[reportOperatorIssue]


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


class Rate:
    # The frequency of a Pulse, sampled now and then: the edges since the last sample
    # over the time between the last edges of the two samples. At high rates that is
    # the count over the window; at low rates, with one edge per window or fewer, it
    # is the period itself. No edge in a window: the frequency can be no higher than
    # one edge in the time waited, and is 0 after _STOP_US. Non-allocating.
    def __init__(self, pulse):
        self.pulse = pulse
        self.n = pulse.n
        self.last = pulse.last
        self.seen = False  # an edge was seen, so self.last is an edge time
        self.mhz = 0

    def sample(self, now):
        p = self.pulse
        while True:  # a consistent (n, last) pair even if an edge interrupts the read
            last = p.last
            n = p.n
            if p.last == last:
                break
        k = (n - self.n) & _MASK30
        if k == 0:
            if self.mhz:
                waited = tdiff(now, self.last)
                if waited >= _STOP_US:
                    self.mhz = 0
                elif waited > 0:
                    bound = ratio_mhz(1, waited)
                    if bound < self.mhz:
                        self.mhz = bound
            return self.mhz
        dt = tdiff(last, self.last)
        self.n = n
        self.last = last
        if not self.seen or dt <= 0 or (dt >= _STOP_US and k == 1):
            self.seen = True  # the first edge after a stop: no period known yet
            self.mhz = 0
        elif dt >= _STOP_US:  # many edges over a long window: in 1/16 us, to stay small
            self.mhz = ratio_mhz(k, dt >> 4) >> 4
        else:
            self.mhz = ratio_mhz(k, dt)
        return self.mhz


class Table:
    # A sender's [ohm, value] points (config), values kept in tenths; at() interpolates
    # linearly and holds the end values outside the table. Non-allocating.
    def __init__(self, points):
        from array import array

        self.ohm = array("i", [p[0] for p in points])
        self.val = array("i", [round(p[1] * 10) for p in points])

    def at(self, ohm):
        r = self.ohm
        v = self.val
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
        self.vss = self.tach = None
        if cfg["vss.pin"]:
            self.vss = Rate(hw.pulse(VSS, cfg["vss.pin"]))
        if cfg["tach.pin"]:
            self.tach = Rate(hw.pulse(TACH, cfg["tach.pin"]))
        self.ppk = cfg["vss.pulses_per_km"]
        self.ppr_milli = int(cfg["tach.pulses_per_rev"] * 1000 + 0.5)
        self.adcs = [None, None, None]  # battery, coolant, fuel (channel - BATTERY)
        for ch in (BATTERY, COOLANT, FUEL):
            pin = cfg[PIN_KEYS[ch]]
            if pin:
                self.adcs[ch - BATTERY] = hw.adc(ch, pin)
        self.switches = []
        for ch in (OIL, BRAKE, LIGHTS):
            pin = cfg[PIN_KEYS[ch]]
            if pin:
                self.switches.append((ch - OIL, hw.switch(ch, pin)))
        # battery mV per 12-bit step << 12: vref * (top + bottom) / bottom (18300 for
        # 3.3 V behind 100k/22k: the product with a reading stays below 2**27)
        self.batt_scale = adc[2] * (adc[3] + adc[4]) // adc[4]
        self.coolant_pull = cfg["coolant.pullup_ohm"]
        self.fuel_pull = cfg["fuel.pullup_ohm"]
        self.coolant_table = Table(cfg["coolant.table"])
        self.fuel_table = Table(cfg["fuel.table"])
        self.pulse_us = 1000000 // cfg["inputs.pulse_hz"]
        self.analog_us = 1000000 // cfg["inputs.analog_hz"]
        self.pulsing = self.vss is not None or self.tach is not None
        self.analog = bool(self.switches) or self.adcs[0] or self.adcs[1] or self.adcs[2]
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

    def _pulses(self, log, now, edge_now):
        if self.vss is not None:
            mhz = self.vss.sample(edge_now)
            kph = (mhz * 360 + (self.ppk >> 1)) // self.ppk  # 0.01 km/h, rounded
            self._freq(log, now, ID_VSS, kph, mhz, self.vss.n)
        if self.tach is not None:
            mhz = self.tach.sample(edge_now)
            rpm = (mhz * 60 + (self.ppr_milli >> 1)) // self.ppr_milli
            self._freq(log, now, ID_TACH, rpm, mhz, self.tach.n)

    # <HBHBH: value, frequency in mHz (24 bits), edge count modulo 2**16, 0
    def _freq(self, log, now, mid, value, mhz, count):
        b = self.buf
        b[0] = value & 0xFF
        b[1] = value >> 8 & 0xFF
        b[2] = mhz & 0xFF
        b[3] = mhz >> 8 & 0xFF
        b[4] = mhz >> 16 & 0xFF
        b[5] = count & 0xFF
        b[6] = count >> 8 & 0xFF
        b[7] = 0
        write(log, now, mid, b)

    def _analog(self, log, now):
        b = self.buf
        adcs = self.adcs
        if adcs[0] is not None:
            raw = adcs[0].read_u16() >> 4
            self._pair(log, now, ID_BATTERY, raw * self.batt_scale >> 12, raw)
        if adcs[1] is not None:
            raw = adcs[1].read_u16() >> 4
            ohm = sender_ohm(raw, self.coolant_pull)
            self._pair(log, now, ID_COOLANT, self.coolant_table.at(ohm) & 0xFFFF, ohm)
        if adcs[2] is not None:
            raw = adcs[2].read_u16() >> 4
            ohm = sender_ohm(raw, self.fuel_pull)
            self._pair(log, now, ID_FUEL, self.fuel_table.at(ohm) & 0xFFFF, ohm)
        if self.switches:
            bits = 0
            wired = 0
            for bit, pin in self.switches:
                wired |= 1 << bit
                if not pin.value():  # active low: the switch or optocoupler pulls down
                    bits |= 1 << bit
            for i in range(8):
                b[i] = 0
            b[0] = bits
            b[1] = wired
            write(log, now, ID_SWITCHES, b)
        self.samples += 1

    # <HH4x: a value (u16, or i16 as its low 16 bits) and the raw measure beside it
    def _pair(self, log, now, mid, value, raw):
        b = self.buf
        b[0] = value & 0xFF
        b[1] = value >> 8 & 0xFF
        b[2] = raw & 0xFF
        b[3] = raw >> 8 & 0xFF
        b[4] = b[5] = b[6] = b[7] = 0
        write(log, now, mid, b)


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
