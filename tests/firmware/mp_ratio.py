# Run under MicroPython: logger.inputs.ratio_mhz(k, d) heap-locked (a long int, which a
# 32-bit port would allocate for a value beyond 31 bits, fails the lock there).
import sys

import micropython
from logger.inputs import ratio_mhz

k = int(sys.argv[1])
d = int(sys.argv[2])
ratio_mhz(1, 3)  # warm up
micropython.heap_lock()
q = ratio_mhz(k, d)
micropython.heap_unlock()
print(q)
