# The byte link the sync service talks over (docs/sync-protocol.md, "The link").
#
# Boards: the USB serial port (CDC) that also carries the REPL. The firmware never
# touches its interrupt character: it stays Ctrl-C (0x03) while main.py runs, and the
# sync host byte-stuffs every frame it sends so that 0x03 never crosses the link raw.
# So a Ctrl-C from mpremote or a terminal still stops the logger and reaches the REPL,
# and no sync frame can. On stm32 (Pyboard) the port is pyb.USB_VCP; elsewhere (TinyUSB
# ports such as mimxrt) it is sys.stdin/sys.stdout, which are the same CDC port.
# Unix port: usb.path is a serial device or pty path, or "stdio" for stdin/stdout.
#
# The HAL opens the link (hal_*.open_link). A link has readinto(buf, wait_ms) -> bytes
# read (0 if none within wait_ms), write(frame) -> True when the whole frame went out, and
# max_data, the largest READ reply it carries well. Neither blocks the logger for
# long: write gives up (and the service drops the session) when the host stops reading.
import select

from micropython import const

_POLLIN = const(1)
_POLLOUT = const(4)
_WRITE_WAIT_MS = const(200)


class StreamLink:
    # Any pair of MicroPython streams that select.poll understands. A blocking stream's
    # readinto() waits until the whole buffer is full, so input is taken one byte at a
    # time, and only while poll says a byte is there: a host that stops mid-frame can
    # never stall the logger. Requests are small (a READ is 32 bytes).
    max_data = 4096  # a pty or serial device: the protocol's largest frames

    def __init__(self, rf, wf):
        self.rf = rf
        self.wf = wf
        self.one = bytearray(1)
        self.rpoll = select.poll()
        self.rpoll.register(rf, _POLLIN)
        self.wpoll = select.poll()
        self.wpoll.register(wf, _POLLOUT)

    def readinto(self, buf, wait_ms):
        n = 0
        size = len(buf)
        one = self.one
        while n < size:
            ready = False
            for _obj, ev in self.rpoll.ipoll(wait_ms if n == 0 else 0):
                if ev & _POLLIN:
                    ready = True
            if not ready:
                break
            try:
                got = self.rf.readinto(one)
            except OSError:
                break  # EIO: nobody holds the other end of the pty
            if not got:
                break  # end of input
            buf[n] = one[0]
            n += 1
        return n

    def write(self, frame):
        ready = False
        for _obj, ev in self.wpoll.ipoll(_WRITE_WAIT_MS):
            if ev & _POLLOUT:
                ready = True
        if not ready:
            return False
        try:
            n = self.wf.write(frame)
        except OSError:
            return False
        return n == len(frame)


class VcpLink:
    # stm32's USB_VCP: reads only what the host sent (not the UART REPL), and knows
    # whether a host has the port open (DTR), so nothing is written into the void.
    # USB full speed moves 64-byte packets, and pyb's VCP buffers about 1 KB each way:
    # READ replies of 1 KB keep the host busy with a quarter of the RAM of 4 KB ones.
    max_data = 1024

    def __init__(self, vcp):
        self.vcp = vcp
        self.rpoll = select.poll()
        self.rpoll.register(vcp, _POLLIN)

    def readinto(self, buf, wait_ms):
        if not self.vcp.any():
            if not wait_ms:
                return 0
            self.rpoll.poll(wait_ms)
            if not self.vcp.any():
                return 0
        return self.vcp.readinto(buf) or 0

    def write(self, frame):
        if not self.vcp.isconnected():
            return False
        return self.vcp.write(frame) == len(frame)


def raw_tty(f):
    try:
        import termios

        termios.setraw(f.fileno())
    except (ImportError, OSError, AttributeError):
        pass  # not a tty (a FIFO or socket needs no line settings)
