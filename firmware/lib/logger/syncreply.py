# USB sync, device side (docs/sync-protocol.md), part 1 of 3: the service's state and
# its replies. One object serves the protocol; its methods are split by job along a
# chain of classes, each in its own module (no module imports one above it):
#   syncreply.Replies     buffers, session state, reply frames, request field checks
#   syncseg.Segments      segment size/flags/sha256, the hasher; LIST, STAT, READ, ACK
#   syncdev.SyncService   the logger service: poll, request dispatch, retries; HELLO,
#                         SET_CLOCK, CONFIG_GET/PUT, COUNTERS, ROTATE
#
# Buffers are allocated once: the request reader, one reply frame, the hash chunk.
# A READ reply reads the file straight into the reply frame; the views over it are
# cached by length, so a transfer of full chunks allocates nothing per frame.
import struct

from logger import syncproto as P

try:
    from micropython import const
except ImportError:

    def const(__expr):
        return __expr


_HASH_CHUNK = const(4096)  # bytes hashed per poll (about 1 ms on an STM32F4)
_LIST_MAX = const(64)  # entries per LIST reply
_H = P.HEADER_SIZE


class Replies:
    # link: see logger.usblink. store: the SegmentStore (path; name and file of the
    # segment being written; mark_synced, is_synced). ident: (device_id bytes, board
    # str, firmware version tuple, boot counter). attached: polled by a Logger, which
    # can set the clock and seal its segment (False: a store-only device).
    # config_path: the config file CONFIG_GET/CONFIG_PUT use (None: no config access).
    def __init__(
        self,
        link,
        store,
        ident,
        attached=False,
        config_path=None,
        max_data=P.MAX_DATA,
        version=P.PROTOCOL_VERSION,
    ):
        self.link = link
        self.store = store
        self.device_id = ident[0]
        self.board = ident[1]
        self.firmware = ident[2]
        self.boot = ident[3]
        self.log = None  # the Logger, as of the last poll()
        self.config_path = config_path
        self.max_data = max_data
        self.version = version
        caps = 0
        if attached:
            caps |= P.CAP_CLOCK | P.CAP_ROTATE
        if config_path:
            caps |= P.CAP_CONFIG
        self.caps = caps
        self.reader = P.StuffedReader(P.MAX_REQUEST)
        self.tx = P.FrameBuffer(max(P.READ_HEADER + max_data, P.HELLO_SIZE, 2 + P.ENTRY_SIZE))
        self.list_max = min(_LIST_MAX, (self.tx.capacity - 2) // P.ENTRY_SIZE)
        self.rx = bytearray(256)
        self.rx_i = 0
        self.rx_n = 0
        self.utc = [0, 0, 0]
        self.greeted = False
        self.active = False
        self.last_ms = 0
        # the READ being answered: frames of up to max_data from s_off to s_end
        self.s_key = None
        self.s_fname = ""
        self.s_seq = 0
        self.s_off = 0
        self.s_end = 0
        self.s_size = 0
        self.s_flags = 0
        # the file READ serves (sealed segments stay open between requests)
        self.r_key = None
        self.r_file = None
        self.data_n = -1
        self.data = self.tx.payload
        # the hasher: sha256 of sealed, unacknowledged segments, a chunk per poll
        self.digests = {}  # key -> (size, digest)
        self.h_key = None
        self.h_file = None
        self.h_sha = None
        self.h_pos = 0
        self.h_size = 0
        self.h_chunk = min(_HASH_CHUNK, max_data)
        self.h_buf = bytearray(self.h_chunk)
        self.h_view = memoryview(self.h_buf)
        self.h_scan = True
        self.h_want = None
        self.seen_open = store.name if store.file is not None else None
        # a config upload in progress
        self.cfg_buf = None
        self.cfg_got = 0
        # replay of the last non-idempotent reply when its request is repeated
        self.dup_kind = -1
        self.dup_seq = -1
        self.dup_n = 0
        # counters
        self.frames_out = 0
        self.write_failures = 0
        self.refused = 0

    def _send(self, kind, seq, n):
        if self.link.write(self.tx.finish(kind, seq, n)):
            self.frames_out += 1
        else:
            self.write_failures += 1
            self.active = False  # the host stopped reading: stop waiting for it
            self.s_key = None
        self.dup_kind = -1

    def _keep(self, kind, seq, n):
        self._send(kind, seq, n)
        self.dup_kind = kind & 0x7F
        self.dup_seq = seq
        self.dup_n = n

    def _error(self, seq, code, message):
        buf = self.tx.buf
        struct.pack_into("<H", buf, _H, code)
        m = message.encode()
        k = min(len(m), self.tx.capacity - 2)
        for i in range(k):
            buf[_H + 2 + i] = m[i]
        self._send(P.ERROR, seq, 2 + k)

    def _short(self, seq, n, need):
        if n < need:
            self._error(seq, P.E_BAD_REQUEST, "request payload is %d bytes, needs %d" % (n, need))
            return True
        return False

    # The 8-hex-digit key of a canonical name field, or None (after an error reply).
    def _key(self, seq, raw):
        try:
            name = bytes(raw).decode()
        except UnicodeError:
            name = ""
        if not P.is_segment_name(name):
            self._error(seq, P.E_BAD_REQUEST, "not a segment name: %r" % bytes(raw))
            return None
        return name[:8]
