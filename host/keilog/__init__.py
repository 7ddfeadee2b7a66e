"""keilog: telemetry logger for imported kei cars and kei trucks.

The host side of keilog: read the firmware's log segments, decode CAN frames with DBC
files, store everything in SQLite and check it against state low-speed rules.
"""

__version__ = "0.1.0"
