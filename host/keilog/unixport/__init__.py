"""Running the firmware on this computer, the way the tests, benchmarks and demo do.

- :mod:`keilog.unixport.firmware`: start the firmware on the MicroPython unix port.
- :mod:`keilog.unixport.cpython_shim`: the same firmware under CPython where no
  MicroPython binary can be installed.
- :mod:`keilog.unixport.bus_bridge`: frames from a python-can bus into the firmware's
  CAN stream.
- :mod:`keilog.unixport.harness`: a car's bus and GPS through the firmware into log
  segments (the vertical slice).
"""
