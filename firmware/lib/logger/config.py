# Device configuration: the schema (defaults, types, limits) lives here and only here.
# The host's `keilog config` validates against this same table (it runs this module).
#
# A config is JSON with nested sections, e.g. {"can": {"bitrate": 250000}}. load()
# never raises: a bad file or value gives the safe defaults (listen-only, log all,
# GPS on) plus a list of error strings that the logger records and blinks.
import json

# key: (type, default, rule). rule is a tuple of allowed values, a (min, max) range as
# a list, or None. Types: "bool", "int", "str", "str?" (string or null), "list".
SCHEMA = {
    "board": ("str", "unix", ("unix", "pyboard_v11", "nucleo_g474re", "teensy41")),
    "device.id": ("str?", None, None),
    "can.enabled": ("bool", True, None),
    "can.source": ("str?", None, None),
    "can.bus": ("int", 1, [1, 3]),
    "can.bitrate": ("int", 500000, (125000, 250000, 500000, 1000000)),
    "can.autobaud": ("bool", False, None),
    "can.mode": ("str", "silent", ("silent", "normal")),
    "can.filters": ("list", [], None),
    "can.ring": ("int", 256, [16, 4096]),
    "can.eof": ("str", "exit", ("exit", "wait")),
    "gps.enabled": ("bool", True, None),
    "gps.source": ("str?", None, None),
    "gps.uart": ("int", 4, [1, 8]),
    "gps.baud": ("int", 9600, (4800, 9600, 38400, 57600, 115200)),
    "gps.rate_hz": ("int", 1, [1, 10]),
    "obd.enabled": ("bool", False, None),
    "obd.pids": ("list", [0x0D, 0x0C, 0x05, 0x11, 0x0F, 0x2F], None),
    "obd.interval_ms": ("int", 1000, [100, 60000]),
    "storage.path": ("str", "/sd/log", None),
    "storage.image": ("str?", None, None),
    "storage.fs": ("str", "lfs2", ("lfs2", "fat")),
    "storage.rotate_bytes": ("int", 4 * 1024 * 1024, [4096, 1 << 30]),
    "storage.rotate_s": ("int", 3600, [10, 86400]),
    "storage.min_free_bytes": ("int", 1024 * 1024, [0, 1 << 30]),
    "storage.overwrite_unsynced": ("bool", False, None),
    "flush_ms": ("int", 1000, [50, 60000]),
    "power.ignition_pin": ("str?", None, None),
    "power.ignition_mv": ("int", 9000, [0, 30000]),
    "power.wdt_ms": ("int", 8000, [0, 32000]),
    "counters_s": ("int", 60, [1, 3600]),
    "run_s": ("int", 0, [0, 1 << 30]),
}

SAFE = {
    "can.mode": "silent",
    "can.filters": [],
    "gps.enabled": True,
}


def defaults():
    return {k: v[1] for k, v in SCHEMA.items()}


def _flatten(d, prefix, out, errors):
    for k in d:
        key = prefix + k
        v = d[k]
        if isinstance(v, dict) and key not in SCHEMA:
            _flatten(v, key + ".", out, errors)
        else:
            out[key] = v


def _check(key, value):
    if key not in SCHEMA:
        return "unknown key %s" % key
    kind, _, rule = SCHEMA[key]
    if kind == "bool":
        ok = value is True or value is False
    elif kind == "int":
        ok = isinstance(value, int) and not (value is True or value is False)
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
    if key == "can.filters" and isinstance(value, list):
        for f in value:
            if not (isinstance(f, list) and len(f) in (2, 3)):
                return "can.filters entries must be [id, mask] or [id, mask, extended]"
    return None


# Validate a parsed JSON object. Returns (flat config, list of errors). Bad values are
# replaced by their defaults and, on any error, the safe settings are forced.
def validate(obj):
    errors = []
    if not isinstance(obj, dict):
        return _safe(), ["config must be a JSON object"]
    flat = {}
    _flatten(obj, "", flat, errors)
    cfg = defaults()
    for key in flat:
        err = _check(key, flat[key])
        if err:
            errors.append(err)
        else:
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
