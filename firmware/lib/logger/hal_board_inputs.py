# Hardware of the pulse, analog and switch inputs on the boards (docs/firmware.md,
# "Inputs"), the part of hal_board that only a car with inputs wired loads (build.py
# imports <hal>_inputs and calls its inputs(cfg)): a hard pin interrupt per pulse
# input (falling edge: the input network pulls the pin low on each pulse),
# machine.ADC for the senders and the battery, machine.Pin with its pull-up for the
# switches.
import time

import machine


class PinInputs:
    def __init__(self):
        self.eof = False  # a board's pins never end
        self.pins = []  # keeps the pins (and their handlers) alive

    def pulse(self, ch, pin):
        from logger.inputs import Pulse

        p = Pulse()
        pn = machine.Pin(pin, machine.Pin.IN, machine.Pin.PULL_UP)
        pn.irq(p.irq, machine.Pin.IRQ_FALLING, hard=True)
        self.pins.append(pn)
        return p

    def adc(self, ch, pin):
        return machine.ADC(machine.Pin(pin))

    def switch(self, ch, pin):
        return machine.Pin(pin, machine.Pin.IN, machine.Pin.PULL_UP)

    # The edge clock: ticks_us, 30-bit (a 32-bit port's ticks period; the mask says so)
    def now(self):
        return time.ticks_us() & 0x3FFFFFFF  # pyright: ignore[reportOperatorIssue]

    def pump(self):
        pass


def inputs(cfg):
    return PinInputs()
