# Run under MicroPython: segment store operations for the storage tests.
# Usage: mp_store.py COMMAND DIR [ARGS...]; prints one JSON line.
#   synced DIR OPEN NAME...     mark NAMEs synced (OPEN: the open segment or -), then
#                               report is_synced of every segment and the SYNCED file
#   boot DIR                    next_boot() twice
#   recover DIR                 recover the newest segment; report the bytes cut
#   mark IMAGE FS NAME...       mark NAMEs synced on a storage image (lfs2 or fat)
#   delete DIR UNSYNCED OPEN    delete_oldest(UNSYNCED) with OPEN open; report the victim
import json
import os
import sys

from logger import recover, storage
from logger.hal_unix import ImageDevice
from logger.segment import SegmentStore


def report(store):
    names = store.segments()
    try:
        with open(store.path + "/SYNCED") as f:
            text = f.read()
    except OSError:
        text = None
    return {"synced": [n for n in names if store.is_synced(n)], "file": text}


# Make `name` the segment being written (as the logger does), unless it is "-".
def opened(store, name):
    if name != "-":
        store.name = name
        store.file = open(store.path + "/" + name, "ab")


def main():
    cmd, path = sys.argv[1], sys.argv[2]
    args = sys.argv[3:]
    if cmd == "mark":
        dev = ImageDevice(path, 0)
        storage.mount(dev, args[0], "/img")
        store = SegmentStore("/img")
        print(json.dumps({"marked": [store.mark_synced(n) for n in args[1:]]}))
        return
    store = SegmentStore(path)
    if cmd == "synced":
        opened(store, args[0])
        marked = [store.mark_synced(n) for n in args[1:]]
        out = report(store)
        out["marked"] = marked
        out["reloaded"] = [n for n in store.segments() if SegmentStore(path).is_synced(n)]
        print(json.dumps(out))
    elif cmd == "boot":
        print(json.dumps({"boots": [store.next_boot(), store.next_boot()]}))
    elif cmd == "recover":
        cut = recover.recover(store.path)
        print(json.dumps({"cut": cut, "files": sorted(os.listdir(path))}))
    elif cmd == "delete":
        opened(store, args[1])
        victim = store.delete_oldest(args[0] == "1")
        out = report(store)
        out["victim"] = victim
        print(json.dumps(out))


main()
