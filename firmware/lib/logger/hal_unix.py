# Hardware layer of the unix port: the "CAN controller" is a stream (FIFO, file or unix
# stream socket) of 16-byte Linux SocketCAN frames, the GNSS UART is a stream of NMEA
# text, storage is a directory or a block-device image file mounted as littlefs/FAT,
# the RTC is the system clock. Everything above this module is the same code as on the
# board (docs/firmware-unix.md).
import os
import select
import struct
import sys
import time

from micropython import const

from logger.record import F_ERR, F_EXT, F_RTR, SRC_RTC, SRC_SYSTEM

_POLLIN = const(1)
_FRAME = const(16)  # struct can_frame: <IB3x8s
_EFF = const(0x80000000)  # CAN_EFF_FLAG (unix port: 64-bit small ints)
_RTR = const(0x40000000)
_ERR = const(0x20000000)
# Linux can/error.h: error classes in the id, controller status in data[1].
_ERR_CRTL = const(0x04)
_ERR_BUSOFF = const(0x40)
_ERR_RESTARTED = const(0x100)
_CRTL_RX_OVERFLOW = const(0x01)
_CRTL_WARNING = const(0x0C)  # RX_WARNING | TX_WARNING
_CRTL_PASSIVE = const(0x30)  # RX_PASSIVE | TX_PASSIVE
_CRTL_ACTIVE = const(0x40)
_S_IFMT = const(0o170000)
_S_IFSOCK = const(0o140000)
_AF_UNIX = const(1)
_SOCK_STREAM = const(1)
_US_PER_DAY = const(86400000000)

ticks_us = time.ticks_us
ticks_ms = time.ticks_ms

# Every open stream is registered here, so that wait() sleeps until one has input.
_poller = select.poll()
_registered = [0]


def register(stream):
    _poller.register(stream, _POLLIN)
    _registered[0] += 1
    _ready(_poller)  # the first poll after a register allocates: do it here, not in the loop


def unregister(stream):
    _poller.unregister(stream)
    _registered[0] -= 1


# Sleep up to ms, or until a registered stream has input. Non-allocating.
def wait(ms, ring):
    if ms <= 0:
        return
    if _registered[0]:
        for _obj in _poller.ipoll(ms):
            break
    else:
        time.sleep_ms(ms)


def _ready(poller):
    for _obj in poller.ipoll(0):
        return True
    return False


def _is_regular(path):
    try:
        return os.stat(path)[0] & _S_IFMT == 0o100000  # S_IFREG
    except OSError:
        return False


def _open_stream(path):
    try:
        is_socket = os.stat(path)[0] & _S_IFMT == _S_IFSOCK
    except OSError:
        is_socket = False
    if is_socket:
        import socket

        s = socket.socket(_AF_UNIX, _SOCK_STREAM)
        s.connect(struct.pack("<H", _AF_UNIX) + path.encode() + b"\0")
        return s, True
    return open(path, "rb", buffering=0), False


class StreamCan:
    # A CAN source reading SocketCAN frames from path into the ring, stamping each with
    # ticks_us on receipt (as the board's receive interrupt does). Reads whole chunks,
    # never more than the ring can take, so a prefilled file loses nothing. Error
    # frames are logged and also drive the overrun count and the bus state, as the
    # board drivers' counters do. poll() allocates nothing per frame.
    def __init__(self, path, ring):
        self.f, self.is_socket = _open_stream(path)
        self.ring = ring
        k = ring.size // 2
        self.k = 32 if k > 32 else k
        self.buf = bytearray(self.k * _FRAME)
        mv = memoryview(self.buf)
        self.views = [mv[i:] for i in range(_FRAME)]  # read targets after i leftover bytes
        self.data = [mv[j * _FRAME + 8 : j * _FRAME + 16] for j in range(self.k)]
        self.have = 0
        self.tx = bytearray(_FRAME)
        # A regular file ends, so a big read never waits; a FIFO, pty or socket read
        # waits until its buffer is full (MicroPython's readinto loops), so from those
        # read one frame at a time: the writer writes whole frames (16 bytes, atomic in
        # a pipe), so once poll says "ready" a whole frame is there.
        self.chunked = _is_regular(path)
        self.poller = select.poll()
        self.poller.register(self.f, _POLLIN)
        _ready(self.poller)
        register(self.f)
        self.eof = False
        self.frames = 0
        self.bad = 0  # bytes of a torn frame at the end of the stream
        self.overruns = 0
        self.error_frames = 0
        self.bus_state = 0

    def state(self):
        return self.bus_state

    def errors(self):
        return self.error_frames

    def poll(self):
        ring = self.ring
        buf = self.buf
        rounds = 4 if self.chunked else self.k
        n = 0
        while rounds and not self.eof and ring.free() >= self.k:
            rounds -= 1
            if not _ready(self.poller):
                break
            if self.chunked:
                got = self.f.readinto(self.views[self.have])
            else:
                got = self.f.readinto(self.views[self.have], _FRAME - self.have)
            if got is None:
                break
            if not got:
                self.eof = True
                self.bad += self.have
                unregister(self.f)
                break
            total = self.have + got
            whole = total // _FRAME
            for j in range(whole):
                self._frame(j * _FRAME, j)
            rest = total - whole * _FRAME
            src = whole * _FRAME
            for i in range(rest):
                buf[i] = buf[src + i]
            self.have = rest
            n += whole
        self.frames += n
        return n

    def _frame(self, p, j):
        buf = self.buf
        b3 = buf[p + 3]
        can_id = buf[p] | (buf[p + 1] << 8) | (buf[p + 2] << 16) | ((b3 & 0x1F) << 24)
        flags = 0
        if b3 & 0x80:
            flags = F_EXT
        elif not b3 & 0x20:
            can_id &= 0x7FF  # an error frame's id is its error class: keep every bit
        if b3 & 0x40:
            flags |= F_RTR
        if b3 & 0x20:
            flags |= F_ERR
            self._error(can_id, buf[p + 9])
        self.ring.put(time.ticks_us(), can_id, flags, buf[p + 4], self.data[j])

    def _error(self, cls, ctrl):
        self.error_frames += 1
        if cls & _ERR_BUSOFF:
            self.bus_state = 3
        elif cls & _ERR_RESTARTED:
            self.bus_state = 0
        if cls & _ERR_CRTL:
            if ctrl & _CRTL_RX_OVERFLOW:
                self.overruns += 1
            if ctrl & _CRTL_PASSIVE:
                self.bus_state = 2
            elif ctrl & _CRTL_WARNING:
                self.bus_state = 1
            elif ctrl & _CRTL_ACTIVE:
                self.bus_state = 0

    # Transmit a frame (OBD-II requests). Only a unix stream socket can carry frames
    # back; a FIFO or file source is receive-only and send() returns False.
    def send(self, can_id, ext, data, dlc):
        if not self.is_socket:
            return False
        struct.pack_into("<IB3x8s", self.tx, 0, can_id | _EFF if ext else can_id, dlc, data)
        try:
            self.f.write(self.tx)
        except OSError:
            return False  # the other end went away (EPIPE): as a bus nobody ACKs on
        return True

    def restart(self):
        self.bus_state = 0

    def close(self):
        if not self.eof:
            unregister(self.f)
            self.eof = True
        self.f.close()


class StreamUart:
    # The GNSS UART: NMEA text from a FIFO, file or pty. readinto() is the board's
    # machine.UART.readinto: bytes read, or None when nothing is waiting.
    def __init__(self, path):
        self.f, _ = _open_stream(path)
        self.poller = select.poll()
        self.poller.register(self.f, _POLLIN)
        _ready(self.poller)
        register(self.f)
        self.eof = False
        self.one = bytearray(1)

    # Reads what is waiting, byte by byte: a FIFO or pty read of more bytes than are
    # waiting would block the main loop (MicroPython's readinto fills the buffer).
    def readinto(self, buf):
        if self.eof:
            return None
        one = self.one
        size = len(buf)
        n = 0
        while n < size and _ready(self.poller):
            if not self.f.readinto(one):
                self.eof = True
                unregister(self.f)
                break
            buf[n] = one[0]
            n += 1
        return n if n else None

    def close(self):
        if not self.eof:
            self.eof = True
            unregister(self.f)
        self.f.close()


class ImageDevice:
    # A block device over an image file, for vfs.VfsLfs2 / vfs.VfsFat: the same
    # filesystem code as on the board, with the image standing in for the SD card or
    # flash. Creates a sparse image of size bytes when the file does not exist.
    def __init__(self, path, size, block=512):
        try:
            f = open(path, "r+b")
        except OSError:
            f = open(path, "w+b")
            f.seek(size - 1)
            f.write(b"\0")
        self.f = f
        self.bs = block
        self.blocks = f.seek(0, 2) // block

    def readblocks(self, n, buf, off=0):
        self.f.seek(n * self.bs + off)
        self.f.readinto(buf)

    def writeblocks(self, n, buf, off=None):
        self.f.seek(n * self.bs + (off or 0))
        self.f.write(buf)

    def ioctl(self, op, arg):
        if op == 4:  # number of blocks
            return self.blocks
        if op == 5:  # block size
            return self.bs
        if op == 3:  # sync
            self.f.flush()
        return 0  # init, deinit, erase (an image, like an SD card, needs no erase)


_MOUNT = "/keilog-image"


# The directory segments go into: storage.path, or the root of storage.image mounted
# as littlefs or FAT (formatted when the image is blank).
def mount_storage(cfg):
    image = cfg["storage.image"]
    if not image:
        return cfg["storage.path"]
    from logger import storage

    dev = ImageDevice(image, cfg["storage.image_bytes"])
    storage.mount(dev, cfg["storage.fs"], _MOUNT)
    return _MOUNT


def open_can(cfg, ring, normal, bitrate):
    # A stream has no bitrate or mode: whoever writes it decides what is on the "bus".
    path = cfg["can.source"]
    return StreamCan(path, ring) if path else None


def open_gps(cfg):
    path = cfg["gps.source"]
    return StreamUart(path) if path else None


class FileSense:
    # The ignition sense voltage, in mV, as text in a file (tests and tools write it).
    def __init__(self, path):
        self.path = path

    def read_mv(self):
        try:
            with open(self.path) as f:
                return int(f.read().strip() or "0")
        except (OSError, ValueError):
            return -1


# The sync link: usb.path, a pty or serial device path, or "stdio"; None without one.
# Its input is registered here, so that wait() ends as soon as the host sends.
def open_link(cfg):
    path = cfg["usb.path"]
    if not cfg["usb.enabled"] or not path:
        return None
    from logger import usblink

    if path == "stdio":
        link = usblink.StreamLink(sys.stdin.buffer, sys.stdout.buffer)
    else:
        f = open(path, "r+b")
        usblink.raw_tty(f)
        link = usblink.StreamLink(f, f)
    register(link.rf)
    return link


def ignition(cfg):
    path = cfg["power.ignition_pin"]
    return FileSense(path) if path else None


class Led:
    # The unix port has no LEDs; the state is kept so that tests can read it.
    def __init__(self):
        self.value = 0

    def on(self):
        self.value = 1

    def off(self):
        self.value = 0


def leds(cfg):
    return [("status", Led())]


class Watchdog:
    # machine.WDT on a board resets it when the main loop stalls; the unix port reports
    # the stall on stderr instead (once per stall).
    def __init__(self, ms):
        self.ms = ms
        self.last = time.ticks_ms()
        self.stalls = 0

    def feed(self):
        now = time.ticks_ms()
        late = time.ticks_diff(now, self.last)
        if late > self.ms:
            self.stalls += 1
            log("watchdog: the main loop stalled %d ms (a board would reset)" % late)
        self.last = now


def watchdog(ms):
    return Watchdog(ms) if ms else None


def config_path():
    return os.getenv("KEILOG_CONFIG") or "config.json"


def device_id():
    return os.getenv("KEILOG_DEVICE_ID") or "unix"


# The "RTC": the system clock until set_utc() (from GPS or the host), then that time
# carried forward on the monotonic clock, as a board's RTC would be.
_rtc = [0, 0, 0, 0, False]  # ticks_us, day, ms of day, us, set


def set_utc(ticks, day, tod_ms, us):
    _rtc[0] = ticks
    _rtc[1] = day
    _rtc[2] = tod_ms
    _rtc[3] = us
    _rtc[4] = True


# UTC now as out = [days since 1970, ms of day, us]; returns the anchor source (0 when
# the time is unknown).
def utc_now(out):
    if _rtc[4]:
        total = _rtc[1] * _US_PER_DAY + _rtc[2] * 1000 + _rtc[3]
        total += time.ticks_diff(time.ticks_us(), _rtc[0])
        src = SRC_RTC
    else:
        total = time.time_ns() // 1000
        src = SRC_SYSTEM
    day = total // _US_PER_DAY
    rem = total - day * _US_PER_DAY
    out[0] = day
    out[1] = rem // 1000
    out[2] = rem % 1000
    return src


def log(msg):
    sys.stderr.write("keilog: %s\n" % msg)


# A stream has no bitrate to detect; its sources end (a FIFO's writer closes, a file
# runs out), and with can.eof "exit" the run ends when all of them have.
can_has_bitrate = False
streams_end = True
