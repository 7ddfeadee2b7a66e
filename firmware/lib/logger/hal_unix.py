# Hardware layer of the unix port: the "CAN controller" is a stream (FIFO or file) of
# 16-byte Linux SocketCAN frames, storage is a directory, the RTC is the system clock.
# Everything above this module is the same code as on the board.
import os
import select
import sys
import time

from micropython import const

from logger.record import F_ERR, F_EXT, F_RTR

_POLLIN = const(1)
_FRAME = const(16)  # struct can_frame: <IB3x8s


class StreamCan:
    # Reads frames from path into the ring, stamping each with ticks_us on receipt (as
    # the board's receive interrupt does). poll() allocates nothing per frame.
    def __init__(self, path, ring):
        self.ring = ring
        self.f = open(path, "rb")
        self.buf = bytearray(_FRAME)
        self.data = memoryview(self.buf)[8:16]  # made once: the frame's data bytes
        self.poller = select.poll()
        self.poller.register(self.f, _POLLIN)
        self.eof = False
        self.frames = 0
        self.bad = 0

    # Wait up to timeout_ms for data, then move up to max_frames frames into the ring.
    def poll(self, timeout_ms, max_frames):
        n = 0
        buf = self.buf
        ring = self.ring
        while n < max_frames and not self.eof:
            ready = False
            for _obj, _ev in self.poller.ipoll(timeout_ms if n == 0 else 0):
                ready = True
            if not ready:
                break
            got = self.f.readinto(buf)
            if not got:
                self.eof = True
                break
            if got < _FRAME:
                self.bad += 1  # a torn frame at the end of the stream
                self.eof = True
                break
            b3 = buf[3]
            can_id = buf[0] | (buf[1] << 8) | (buf[2] << 16) | ((b3 & 0x1F) << 24)
            flags = 0
            if b3 & 0x80:
                flags |= F_EXT
            else:
                can_id &= 0x7FF
            if b3 & 0x40:
                flags |= F_RTR
            if b3 & 0x20:
                flags |= F_ERR
            ring.put(time.ticks_us(), can_id, flags, buf[4], self.data)
            n += 1
        self.frames += n
        return n

    def close(self):
        self.f.close()


def config_path():
    return os.getenv("KEILOG_CONFIG") or "config.json"


def device_id():
    return os.getenv("KEILOG_DEVICE_ID") or "unix"


# UTC now as out = [days since 1970, ms of day, us]; the unix port trusts its clock.
def utc_now(out):
    ns = time.time_ns()
    us = ns // 1000
    day = us // 86400000000
    rem = us - day * 86400000000
    out[0] = day
    out[1] = rem // 1000
    out[2] = rem % 1000
    return True


def idle(ms):
    time.sleep_ms(ms)


def log(msg):
    sys.stderr.write("keilog: %s\n" % msg)


def stop(code):
    sys.exit(code)
