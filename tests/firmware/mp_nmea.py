# Run under MicroPython: feed an NMEA byte stream to the firmware's parser in chunks and
# print the merged epochs and the counters as one JSON object.
# Usage: mp_nmea.py FILE CHUNKS   (CHUNKS: comma-separated chunk sizes, cycled)
import json
import sys

from logger.nmea import Nmea

epochs = []


def on_epoch(p):
    epochs.append(
        {
            "ticks": p.ticks,
            "day": p.day,
            "tod": p.tod,
            "lat": p.lat,
            "lon": p.lon,
            "alt": p.alt,
            "speed": p.speed,
            "course": p.course,
            "hdop": p.hdop,
            "quality": p.quality,
            "sats": p.sats,
            "valid": p.valid,
        }
    )


def main():
    with open(sys.argv[1], "rb") as f:
        data = f.read()
    sizes = [int(s) for s in sys.argv[2].split(",")]
    parser = Nmea(on_epoch)
    buf = bytearray(max(sizes))
    pos = 0
    k = 0
    while pos < len(data):
        n = sizes[k % len(sizes)]
        chunk = data[pos : pos + n]
        buf[: len(chunk)] = chunk
        parser.feed(buf, len(chunk), pos)  # ticks: the stream offset of the chunk
        pos += len(chunk)
        k += 1
    parser.finish()
    print(
        json.dumps(
            {
                "epochs": epochs,
                "sentences": parser.sentences,
                "bad_checksum": parser.bad_checksum,
                "bad": parser.bad,
                "ignored": parser.ignored,
            }
        )
    )


main()
