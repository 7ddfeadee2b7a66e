# keilog firmware entry point: build the logger from config and run it.
#
# On the board this file is /main.py and the modules live in /lib (on sys.path).
# On the unix port: KEILOG_CONFIG=cfg.json micropython firmware/main.py
import sys

try:
    _here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
except NameError:
    _here = "."
if _here + "/lib" not in sys.path:
    sys.path.insert(0, _here + "/lib")

from logger import startup

startup.main()
