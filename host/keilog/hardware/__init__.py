"""The logger's hardware, seen from the host: boards and their pin maps, wiring diagrams,
power arithmetic, the device config, and installing the firmware on a board.

- :mod:`keilog.hardware.boards`: pin maps (``hardware/boards/*.json``).
- :mod:`keilog.hardware.wiring`: SVG wiring diagrams.
- :mod:`keilog.hardware.power`: ignition-sense divider and hold-up capacitor.
- :mod:`keilog.hardware.devconfig`: a logger's ``config.json``.
- :mod:`keilog.hardware.deploy`: compile, copy and verify the firmware on a board.
"""
