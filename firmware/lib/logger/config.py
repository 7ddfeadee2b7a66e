# Device configuration: the schema (defaults, types, limits) lives here and only here.
# The host's `keilog config` validates against this same table (it runs this module
# under CPython, so this file imports nothing but json).
#
# A config is JSON with nested sections, e.g. {"can": {"bitrate": 250000}}. load()
# never raises: a bad file or value gives the safe defaults (listen-only, log all,
# GPS on, no OBD polling) plus a list of error strings that the logger records and
# blinks.
import json

# key: (type, default, rule). rule is a tuple of allowed values, a (min, max) range as
# a list, or None. Types: "bool", "int", "num" (int or float), "str", "str?" (string or
# null), "list".
SCHEMA = {
    "board": ("str", "unix", ("unix", "pyboard_v11", "nucleo_g474re", "teensy41")),
    "device.id": ("str?", None, None),
    "can.enabled": ("bool", True, None),
    # unix port: a FIFO, file or unix stream socket of SocketCAN frames (docs/firmware-unix.md)
    "can.source": ("str?", None, None),
    "can.bus": ("int", 1, [1, 3]),
    # board: which MicroPython CAN driver; "auto" takes machine.CAN when the build has it
    "can.driver": ("str", "auto", ("auto", "machine", "pyb")),
    "can.bitrate": ("int", 500000, (125000, 250000, 500000, 1000000)),
    "can.autobaud": ("bool", False, None),
    "can.autobaud_ms": ("int", 500, [100, 10000]),
    # "silent" never ACKs or transmits; obd.enabled switches to "normal" by itself
    "can.mode": ("str", "silent", ("silent", "normal")),
    "can.filters": ("list", [], None),
    "can.ring": ("int", 256, [16, 4096]),
    "can.eof": ("str", "exit", ("exit", "wait")),
    "gps.enabled": ("bool", True, None),
    "gps.source": ("str?", None, None),
    "gps.uart": ("int", 0, [0, 8]),  # 0: the board's GNSS UART (firmware boards table)
    "gps.baud": ("int", 9600, (4800, 9600, 38400, 57600, 115200)),
    "gps.rate_hz": ("int", 1, [1, 10]),
    "gps.fix_lost_s": ("int", 10, [1, 3600]),
    "obd.enabled": ("bool", False, None),
    "obd.pids": ("list", [0x0D, 0x0C, 0x05, 0x11, 0x0F, 0x2F], None),
    "obd.interval_ms": ("int", 1000, [100, 60000]),
    "storage.path": ("str", "/sd/log", None),
    "storage.image": ("str?", None, None),
    "storage.image_bytes": ("int", 16 * 1024 * 1024, [65536, 1 << 30]),
    "storage.fs": ("str", "lfs2", ("lfs2", "fat")),
    "storage.rotate_bytes": ("int", 4 * 1024 * 1024, [4096, 1 << 30]),
    "storage.rotate_s": ("int", 3600, [10, 86400]),
    "storage.min_free_bytes": ("int", 1024 * 1024, [0, 1 << 30]),
    "storage.overwrite_unsynced": ("bool", False, None),
    "flush_ms": ("int", 1000, [50, 60000]),
    "power.ignition_pin": ("str?", None, None),
    "power.ignition_mv": ("int", 9000, [0, 30000]),
    "power.idle_s": ("int", 60, [1, 3600]),
    "power.wdt_ms": ("int", 8000, [0, 32000]),
    # USB sync (docs/sync-protocol.md). Boards: the USB serial port. Unix port: usb.path,
    # a pty or serial device path, or "stdio"; none (the default) means no sync link.
    "usb.enabled": ("bool", True, None),
    "usb.path": ("str?", None, None),
    # Pulse, analog and switch inputs for cars without CAN (docs/firmware.md, "Inputs").
    # A pin of null means "not wired"; with none wired the inputs code is never loaded.
    # Unix port: inputs.source is the stream of edges and levels (docs/firmware-unix.md).
    "inputs.source": ("str?", None, None),
    "inputs.pulse_hz": ("int", 10, [1, 50]),
    "inputs.analog_hz": ("int", 1, [1, 20]),
    "vss.pin": ("str?", None, None),
    # JIS D 5601: 637 speedometer-cable revolutions per km; 4 pulses per revolution is
    # common but unverified per model (hardware/README.md): calibrate (keilog calibrate).
    "vss.pulses_per_km": ("int", 2548, [100, 100000]),
    "tach.pin": ("str?", None, None),
    # a 4-stroke fires each cylinder once per 2 revolutions: 3 cylinders, 1.5 per rev
    "tach.pulses_per_rev": ("num", 1.5, [0.25, 16]),
    "battery.pin": ("str?", None, None),
    "coolant.pin": ("str?", None, None),
    "coolant.pullup_ohm": ("int", 1000, [10, 100000]),
    # [ohm, degC] points of the sender; an example curve, not a maker's: measure yours
    "coolant.table": (
        "list",
        [[30, 120], [60, 95], [100, 80], [200, 55], [500, 30], [1500, 0]],
        None,
    ),
    "fuel.pin": ("str?", None, None),
    "fuel.pullup_ohm": ("int", 1000, [10, 100000]),
    # [ohm, percent] points of the tank sender; an example, not a maker's: measure yours
    "fuel.table": ("list", [[10, 100], [50, 50], [110, 0]], None),
    "oil.pin": ("str?", None, None),
    "brake.pin": ("str?", None, None),
    "lights.pin": ("str?", None, None),
    "counters_s": ("int", 60, [1, 3600]),
    "run_s": ("int", 0, [0, 1 << 30]),
}

# Forced whenever the config had an error: listen-only, log everything, GPS on.
SAFE = {
    "can.mode": "silent",
    "can.filters": [],
    "gps.enabled": True,
    "obd.enabled": False,
}

_STD_MAX = 0x7FF
_EXT_MAX = 0x1FFFFFFF


# The pulse, analog and switch inputs' keys are in a config only when one of their
# pins is wired: a car with CAN (most configs) holds none of them in RAM.
_INPUTS = ("inputs.", "vss.", "tach.", "battery.", "coolant.", "fuel.", "oil.", "brake.",
           "lights.")  # fmt: skip
PINS = ("vss.pin", "tach.pin", "battery.pin", "coolant.pin", "fuel.pin", "oil.pin",
        "brake.pin", "lights.pin")  # fmt: skip


def _is_input(key):
    for p in _INPUTS:
        if key.startswith(p):
            return True
    return False


def defaults(inputs=False):
    return {k: v[1] for k, v in SCHEMA.items() if inputs or not _is_input(k)}


def _flatten(d, prefix, out):
    for k in d:
        key = prefix + k
        v = d[k]
        if isinstance(v, dict) and key not in SCHEMA:
            _flatten(v, key + ".", out)
        else:
            out[key] = v


def _is_int(v):
    return isinstance(v, int) and not (v is True or v is False)


def _is_num(v):
    return _is_int(v) or isinstance(v, float)


def _check_filter(f):
    if not (isinstance(f, list) and len(f) in (2, 3)):
        return "can.filters entries must be [id, mask] or [id, mask, extended], got %r" % (f,)
    ext = len(f) == 3 and f[2]
    if len(f) == 3 and f[2] is not True and f[2] is not False:
        return "can.filters: the third item of %r must be true or false" % (f,)
    top = _EXT_MAX if ext else _STD_MAX
    for v in f[:2]:
        if not _is_int(v) or v < 0 or v > top:
            return "can.filters: %r: id and mask must be integers 0..0x%X" % (f, top)
    return None


# A sender table: 2 to 16 [ohm, value] points, ohms (integers) strictly rising.
def _check_table(key, value):
    if not 2 <= len(value) <= 16:
        return "%s must list 2 to 16 [ohm, value] points, got %d" % (key, len(value))
    prev = -1
    for pt in value:
        if not (isinstance(pt, list) and len(pt) == 2 and _is_int(pt[0]) and _is_num(pt[1])):
            return "%s entries must be [ohm, value] with an integer ohm, got %r" % (key, pt)
        if pt[0] <= prev or pt[0] > 100000:
            return "%s: ohms must rise, from 0 to 100000, got %r" % (key, pt)
        if not -1000 <= pt[1] <= 1000:
            return "%s: values must be between -1000 and 1000, got %r" % (key, pt)
        prev = pt[0]
    return None


def _check_extra(key, value):
    if key == "can.filters":
        for f in value:
            err = _check_filter(f)
            if err:
                return err
    elif key == "obd.pids":
        if not 1 <= len(value) <= 32:
            return "obd.pids must list 1 to 32 PIDs, got %d" % len(value)
        for p in value:
            if not _is_int(p) or not 0 <= p <= 0xFF:
                return "obd.pids entries must be integers 0..255, got %r" % (p,)
    elif key in ("coolant.table", "fuel.table"):
        return _check_table(key, value)
    elif key == "device.id" and value is not None:
        # The host makes a folder of it (docs/sync-protocol.md): letters, digits, '.',
        # '_' and '-', starting with a letter or digit.
        if (
            not 1 <= len(value) <= 16
            or not all(
                c.isalpha() or c.isdigit() or (i and c in "._-") for i, c in enumerate(value)
            )
            or not all(ord(c) < 127 for c in value)
        ):
            return (
                "device.id must be 1 to 16 letters, digits, '.', '_' or '-' starting with a "
                "letter or digit, got %r" % (value,)
            )
    return None


def _check(key, value):
    if key not in SCHEMA:
        return "unknown key %s" % key
    kind, _, rule = SCHEMA[key]
    if kind == "bool":
        ok = value is True or value is False
    elif kind == "int":
        ok = _is_int(value)
    elif kind == "num":
        ok = _is_num(value)
    elif kind == "str":
        ok = isinstance(value, str)
    elif kind == "str?":
        ok = value is None or isinstance(value, str)
    else:
        ok = isinstance(value, list)
    if not ok:
        return "%s must be %s, got %r" % (key, kind, value)
    if isinstance(rule, tuple) and value not in rule:
        return "%s must be one of %s, got %r" % (key, ", ".join(str(r) for r in rule), value)
    if isinstance(rule, list) and not rule[0] <= value <= rule[1]:
        return "%s must be between %d and %d, got %r" % (key, rule[0], rule[1], value)
    return _check_extra(key, value)


# Validate a parsed JSON object. Returns (flat config, list of errors). Bad values are
# replaced by their defaults and, on any error, the safe settings are forced.
def validate(obj):
    errors = []
    if not isinstance(obj, dict):
        return _safe(), ["config must be a JSON object"]
    flat = {}
    _flatten(obj, "", flat)
    wired = False
    for k in PINS:
        if flat.get(k):
            wired = True
    cfg = defaults(wired)
    for key in flat:
        err = _check(key, flat[key])
        if err:
            errors.append(err)
        elif wired or not _is_input(key):
            cfg[key] = flat[key]
    if errors:
        for k in SAFE:
            cfg[k] = SAFE[k]
    return cfg, errors


def _safe():
    cfg = defaults()
    for k in SAFE:
        cfg[k] = SAFE[k]
    return cfg


# The CAN controller mode the config asks for: OBD-II polling needs "normal" (the
# controller must ACK and transmit), everything else keeps the configured mode.
def can_mode(cfg):
    return "normal" if cfg["obd.enabled"] else cfg["can.mode"]


def load(path):
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return defaults(), []  # no config file: defaults, not an error
    try:
        obj = json.loads(text)
    except ValueError as e:
        return _safe(), ["%s is not valid JSON: %s" % (path, e)]
    return validate(obj)
