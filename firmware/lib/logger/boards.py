# The boards the firmware knows: the pins and peripherals hal_board uses. The same
# facts, with their sources, are in hardware/boards/<name>.json (the hardware guide);
# tests/firmware/test_boards.py checks that the two agree.
#
# leds: (kind, ref, use): kind "pyb" is pyb.LED(ref), "pin" a machine.Pin named ref.
# sd: (interface, mount, driver args): "sdio" mounts the board's own slot, "spi" a
# micropython-lib sdcard.SDCard on SPI bus args[0] with chip select pin args[1].
# ignition: (pin, adc bits, vref mV, divider top ohm, divider bottom ohm).
BOARDS = {
    "pyboard_v11": {
        "can_bus": 1,
        "can_drivers": ("machine.CAN", "pyb.CAN"),
        "can_pins": ("Y3", "Y4"),  # rx, tx
        "filters_max": 14,
        "gps_uart": 6,
        "gps_baud": 9600,
        "sd": ("sdio", "/sd", ()),
        "leds": (
            ("pyb", 1, "error"),
            ("pyb", 2, "logging"),
            ("pyb", 3, "no_gps_fix"),
            ("pyb", 4, "usb_sync"),
        ),
        "ignition": ("X19", 12, 3300, 100000, 22000),
    },
    "nucleo_g474re": {
        "can_bus": 1,
        "can_drivers": ("machine.CAN", "pyb.CAN"),
        "can_pins": ("PA11", "PA12"),
        "filters_max": 36,
        "gps_uart": 1,
        "gps_baud": 9600,
        "sd": ("spi", "/sd", (1, "D10")),
        "leds": (("pin", "D8", "status"),),
        "ignition": ("A0", 12, 3300, 100000, 22000),
    },
    "teensy41": {
        "can_bus": 1,
        "can_drivers": ("machine.CAN",),
        "can_pins": ("D23", "D22"),
        "filters_max": 128,
        "gps_uart": 2,
        "gps_baud": 9600,
        "sd": ("sdio", "/sd", ()),
        "leds": (("pin", "LED", "status"),),
        "ignition": ("A0", 12, 3300, 100000, 22000),
    },
}

# MicroPython's machine name (sys.implementation._machine) starts with these.
MACHINES = (
    ("PYBv1.1", "pyboard_v11"),
    ("NUCLEO-G474RE", "nucleo_g474re"),
    ("Teensy 4.1", "teensy41"),
)


# The board named by the config, or the one this firmware runs on when the config says
# "unix" (the default) or nothing matches; the Pyboard as the last resort.
def board(name, machine_name=""):
    if name in BOARDS:
        return BOARDS[name]
    for prefix, known in MACHINES:
        if machine_name.startswith(prefix):
            return BOARDS[known]
    return BOARDS["pyboard_v11"]
