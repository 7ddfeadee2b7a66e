# Hardware layer of the boards (stm32: Pyboard v1.1, NUCLEO-G474RE; mimxrt: Teensy 4.1).
# The unix port's hal_unix has the same functions; everything above them is the same
# code. Pins and peripherals come from boards.py (mirrored in hardware/boards/).
import os
import sys
import time

import machine
from micropython import const

from logger.clock import civil_from_days, days_from_civil
from logger.record import SRC_RTC

ticks_us = time.ticks_us
ticks_ms = time.ticks_ms

# A CAN controller has a bitrate (auto-detect works); its source never ends.
can_has_bitrate = True
streams_end = False

_RTC_TRUSTED_YEAR = const(2025)  # a battery-backed RTC showing this year or later is set


# The board table is read while the logger is built, then dropped (startup.unload).
def _board(cfg):
    from logger import boards

    return boards.board(cfg["board"], getattr(sys.implementation, "_machine", ""))


def config_path():
    return "/config.json"


def device_id():
    uid = machine.unique_id()
    return "".join("%02x" % b for b in uid)[:16]


def log(msg):
    print("keilog:", msg)


# Sleep up to ms, waking early when the receive ring is half full. machine.idle()
# returns at the next interrupt (the 1 ms tick at the latest).
def wait(ms, ring):
    t0 = time.ticks_ms()
    half = ring.size >> 1
    while time.ticks_diff(time.ticks_ms(), t0) < ms:
        if len(ring) >= half:
            return
        machine.idle()


def open_can(cfg, ring, normal, bitrate):
    from logger import canbus

    flt = canbus.filters(cfg)
    driver = cfg["can.driver"]
    if driver != "pyb" and hasattr(machine, "CAN"):
        from logger.can_machine import MachineCan

        return MachineCan(machine.CAN, cfg["can.bus"], bitrate, normal, flt, ring)
    import pyb

    from logger.can_pyb import PybCan

    return PybCan(pyb.CAN, cfg["can.bus"], bitrate, normal, flt, ring)


def open_gps(cfg):
    uart = cfg["gps.uart"] or _board(cfg)["gps_uart"]
    # timeout=0: readinto returns None at once when nothing is waiting.
    return machine.UART(uart, cfg["gps.baud"], rxbuf=1024, timeout=0)


def _mounted(point):
    try:
        os.stat(point)
        return True
    except OSError:
        return False


# Mount the SD card unless the board's boot already did (the stm32 port mounts a FAT
# card at /sd by itself), and return the folder the segments go into. storage.fs picks
# FAT (readable in any computer) or littlefs (power-cut safe even on a card that
# reorders its writes; read it through keilog's USB sync). A blank card is formatted.
def mount_storage(cfg):
    path = cfg["storage.path"]
    kind, point, args = _board(cfg)["sd"]
    if path.startswith(point + "/") and not _mounted(point):
        from logger import storage

        if kind == "spi":
            import sdcard  # pyright: ignore[reportMissingImports]  # micropython-lib driver

            dev = sdcard.SDCard(machine.SPI(args[0]), machine.Pin(args[1]))
        elif hasattr(machine, "SDCard"):
            dev = machine.SDCard()  # pyright: ignore[reportAttributeAccessIssue]
        else:
            import pyb

            dev = pyb.SDCard()
        storage.mount(dev, cfg["storage.fs"], point)
    return path


# The sync link: the USB serial port (pyb.USB_VCP on stm32, stdin/stdout elsewhere).
def open_link(cfg):
    if not cfg["usb.enabled"]:
        return None
    from logger import usblink

    try:
        import pyb
    except ImportError:
        return usblink.StreamLink(sys.stdin.buffer, sys.stdout.buffer)
    return usblink.VcpLink(pyb.USB_VCP())


class AdcSense:
    # The ignition sense through the board's divider: mV at the sense input.
    def __init__(self, pin, spec):
        _, bits, vref_mv, r_top, r_bottom = spec
        self.adc = machine.ADC(machine.Pin(pin))
        self.shift = 16 - bits
        self.bits = bits
        # mV per ADC step << bits, kept small: 3300 mV * 122k / 22k = 18300 < 2**15
        self.scale = vref_mv * (r_top + r_bottom) // r_bottom

    def read_mv(self):
        raw = self.adc.read_u16() >> self.shift
        return raw * self.scale >> self.bits


def ignition(cfg):
    pin = cfg["power.ignition_pin"]
    if not pin:
        return None
    return AdcSense(pin, _board(cfg)["ignition"])


def leds(cfg):
    out = []
    for kind, ref, use in _board(cfg)["leds"]:
        if kind == "pyb":
            import pyb

            out.append((use, pyb.LED(ref)))
        else:
            out.append((use, machine.Pin(ref, machine.Pin.OUT)))
    return out


def watchdog(ms):
    return machine.WDT(timeout=ms) if ms else None


_rtc_set = [False]


# Set the RTC to UTC (day, tod_ms, us) as it was at ticks (time.ticks_us).
def set_utc(ticks, day, tod_ms, us):
    late = time.ticks_diff(time.ticks_us(), ticks) // 1000
    tod_ms += late
    while tod_ms >= 86400000:
        tod_ms -= 86400000
        day += 1
    y, m, d = civil_from_days(day)
    s = tod_ms // 1000
    weekday = (day + 3) % 7 + 1  # 1970-01-01 was a Thursday; Monday is 1
    machine.RTC().datetime((y, m, d, weekday, s // 3600, s // 60 % 60, s % 60, 0))
    _rtc_set[0] = True


# UTC now from the RTC as out = [days since 1970, ms of day, us]; returns the anchor
# source, 0 when the RTC was never set (this boot, or on battery since a set).
def utc_now(out):
    y, m, d, _wd, hh, mm, ss, _sub = machine.RTC().datetime()
    if not _rtc_set[0] and y < _RTC_TRUSTED_YEAR:
        return 0
    out[0] = days_from_civil(y, m, d)
    out[1] = ((hh * 60 + mm) * 60 + ss) * 1000
    out[2] = 0
    return SRC_RTC
