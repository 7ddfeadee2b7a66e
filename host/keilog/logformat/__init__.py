"""Reading the logger's log segments (format v1, docs/log-format.md).

- :mod:`keilog.logformat.reader`: the sans-I/O reader, record by record (the mirror of
  the firmware's encoder).
- :mod:`keilog.logformat.columns`: the same reading into numpy columns, fast.
- :mod:`keilog.logformat.clock`: boot-monotonic microseconds to UTC.
"""
