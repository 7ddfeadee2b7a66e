# Hardware layer of the 32-bit test tier: MicroPython's WebAssembly port under node
# (tests/firmware/wasm/run.mjs). It has no machine module and no devices, so this HAL
# feeds the logger from files in the port's in-memory filesystem: SocketCAN frames (the
# unix port's 16-byte records) put into the receive ring as a board's CAN interrupt
# does, NMEA text as the GNSS UART gives it, and a link whose requests come from a
# file. Storage is a folder of that filesystem. Everything above this module is the
# firmware as `keilog deploy` installs it (.mpy, bytecode).
#
# Like the boards' HAL, nothing here keeps an integer that can leave 31 bits.
import time

from logger.record import F_ERR, F_EXT, F_RTR, SRC_RTC
from micropython import const

_FRAME = const(16)  # struct can_frame: <IB3x8s
_CHUNK = const(8)  # frames taken per poll, at most

ticks_us = time.ticks_us
ticks_ms = time.ticks_ms

can_has_bitrate = False  # a file has no bitrate to detect
streams_end = True  # the fed-in files end, and with can.eof "exit" so does the run


class FeedCan:
    # Frames from a file of SocketCAN records, up to _CHUNK per poll(), stamped with
    # ticks_us as they go into the ring (what the board's receive interrupt does).
    # poll() allocates nothing: one chunk buffer, and memoryviews of its data fields
    # made once.
    def __init__(self, path, ring):
        self.f = open(path, "rb")
        self.ring = ring
        self.buf = bytearray(_CHUNK * _FRAME)
        mv = memoryview(self.buf)
        self.data = [mv[j * _FRAME + 8 : j * _FRAME + 16] for j in range(_CHUNK)]
        self.eof = False
        self.frames = 0
        self.overruns = 0
        self.error_frames = 0

    def state(self):
        return 0

    def errors(self):
        return self.error_frames

    def poll(self):
        if self.eof or self.ring.free() < _CHUNK:
            return 0
        got = self.f.readinto(self.buf)
        if not got:
            self.eof = True
            return 0
        n = got // _FRAME
        buf = self.buf
        ring = self.ring
        for j in range(n):
            p = j * _FRAME
            b3 = buf[p + 3]
            can_id = buf[p] | (buf[p + 1] << 8) | (buf[p + 2] << 16) | ((b3 & 0x1F) << 24)
            flags = 0
            if b3 & 0x80:
                flags = F_EXT
            elif not b3 & 0x20:
                can_id &= 0x7FF
            if b3 & 0x40:
                flags |= F_RTR
            if b3 & 0x20:
                flags |= F_ERR
                self.error_frames += 1
            ring.put(time.ticks_us(), can_id, flags, buf[p + 4], self.data[j])
        self.frames += n
        return n

    def send(self, can_id, ext, data, dlc):
        return False  # a file cannot carry frames back

    def restart(self):
        pass

    def close(self):
        self.eof = True
        self.f.close()


class FeedUart:
    # The GNSS UART: readinto() gives what the file has next, None at its end.
    def __init__(self, path):
        self.f = open(path, "rb")
        self.eof = False

    def readinto(self, buf):
        if self.eof:
            return None
        n = self.f.readinto(buf)
        if not n:
            self.eof = True
            return None
        return n

    def close(self):
        self.eof = True
        self.f.close()


class FeedLink:
    # The USB link: requests read from a file (none without one), replies counted.
    def __init__(self, path):
        self.f = open(path, "rb") if path else None
        self.sent = 0

    def readinto(self, buf, wait_ms):
        if self.f is None:
            return 0
        return self.f.readinto(buf) or 0

    def write(self, frame):
        self.sent += len(frame)
        return True


class Led:
    def __init__(self):
        self.value = 0

    def on(self):
        self.value = 1

    def off(self):
        self.value = 0


class Watchdog:
    def __init__(self, ms):
        self.ms = ms
        self.fed = 0

    def feed(self):
        self.fed = (self.fed + 1) & 0x3FFFFFFF


def config_path():
    return "/config.json"


def device_id():
    return "wasm32"


def log(msg):
    print("keilog:", msg)


# The fed-in files are always ready: never sleep.
def wait(ms, ring):
    pass


def mount_storage(cfg):
    return cfg["storage.path"]


def open_can(cfg, ring, normal, bitrate):
    path = cfg["can.source"]
    return FeedCan(path, ring) if path else None


def open_gps(cfg):
    path = cfg["gps.source"]
    return FeedUart(path) if path else None


def open_link(cfg):
    return FeedLink(cfg["usb.path"]) if cfg["usb.enabled"] else None


class FeedSense:
    # The ignition sense in mV, as the test sets it: an engine running by default.
    def __init__(self):
        self.mv = 14000

    def read_mv(self):
        return self.mv


def ignition(cfg):
    return FeedSense() if cfg["power.ignition_pin"] else None


def leds(cfg):
    # The Pyboard's four (hardware/boards/pyboard_v11.json).
    return [("error", Led()), ("logging", Led()), ("no_gps_fix", Led()), ("usb_sync", Led())]


def watchdog(ms):
    return Watchdog(ms) if ms else None


# An RTC that, like a board's without a battery, is unset until GPS or the host sets
# it, then runs on ticks_ms (milliseconds: small ints).
_rtc = [0, 0, 0, False]  # ticks_ms when set, day, ms of day, set


def set_utc(ticks, day, tod_ms, us):
    _rtc[0] = time.ticks_add(time.ticks_ms(), -(time.ticks_diff(time.ticks_us(), ticks) // 1000))
    _rtc[1] = day
    _rtc[2] = tod_ms
    _rtc[3] = True


def utc_now(out):
    if not _rtc[3]:
        return 0
    ms = _rtc[2] + time.ticks_diff(time.ticks_ms(), _rtc[0])
    day = _rtc[1]
    while ms >= 86400000:
        ms -= 86400000
        day += 1
    out[0] = day
    out[1] = ms
    out[2] = 0
    return SRC_RTC
