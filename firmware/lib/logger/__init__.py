# keilog firmware package. One module per job; hardware only in hal_*.
VERSION = (0, 1, 0)

# The hot paths are compiled to machine code with @micropython.native (MicroPython's
# compiler reads the decorator; mpy-cross emits Thumb code for the board). Under
# CPython (the demo's keilog.mpshim) the name must still exist: there it does nothing.
import sys  # noqa: E402

if sys.implementation.name != "micropython":
    import micropython

    micropython.native = lambda f: f  # pyright: ignore[reportAttributeAccessIssue]
