# Run under MicroPython: encode the blocks described by a golden-vector JSON file with
# the firmware's BlockEncoder and print the bytes as hex (one line per block).
import json
import sys

from logger import record
from logger.record import F_ERR, F_EXT, F_RTR, BlockEncoder

PERIOD = 1 << 30


def hexbytes(s):
    return bytes(int(s[i : i + 2], 16) for i in range(0, len(s), 2))


def encode_block(enc, blk):
    base = blk["base_us"]
    hi = base // PERIOD
    lo = base - hi * PERIOD
    # The encoder measures record times with ticks_diff from base_ticks; use 0 as the
    # base tick so that a record's ticks equal its offset.
    enc.begin(blk["seq"], hi, lo, 0)
    for r in blk["records"]:
        kind = r["type"]
        t = r.get("t_us", 0)
        if kind == "can":
            flags = (F_EXT if r["extended"] else 0) | (F_RTR if r["remote"] else 0)
            flags |= F_ERR if r["error"] else 0
            data = hexbytes(r["data"])
            ok = enc.can(t, r["id"], flags, r["dlc"], data)
        elif kind == "gps":
            ok = enc.gps(
                t,
                r["day"],
                r["tod_ms"],
                r["lat_e6"],
                r["lon_e6"],
                r["alt_dm"],
                r["speed_cms"],
                r["course_cdeg"],
                r["hdop_c"],
                r["quality"],
                r["satellites"],
                r["valid"],
            )
        elif kind == "event":
            ok = enc.event(t, r["code"], r["value"])
        elif kind == "anchor":
            ok = enc.anchor(t, r["day"], r["tod_ms"], r["us"], r["source"])
        elif kind == "input":
            from logger import inputs

            ok = inputs.put(enc, t, r["id"], hexbytes(r["data"]))
        elif kind == "segment":
            ok = enc.segment(r["boot"], r["seq"], r["device_id"].encode(), r["firmware"])
        else:
            raise ValueError("unknown record type " + kind)
        if not ok:
            raise ValueError("record does not fit: %r" % (r,))
    out = bytes(enc.seal())
    enc.reset()
    return out


def main():
    with open(sys.argv[1]) as f:
        vec = json.load(f)
    enc = BlockEncoder()
    for blk in vec["blocks"]:
        print(encode_block(enc, blk).hex())
    assert vec["format_version"] == record.FORMAT_VERSION


main()
