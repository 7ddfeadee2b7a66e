"""Draw a wiring diagram (SVG) for a board from its pin map.

The diagram has three columns: the car side (OBD-II connector, speed-sensor wire),
the parts (power chain, CAN transceiver, GNSS module, sense divider, VSS input, SD
breakout and LED where the board lacks them) and the board with one row per pin the
logger uses. Every net is drawn as a vertical bus in the channel between columns with
a stub to each terminal, so any board file gives a readable drawing without hand
placement. Written by hand with ElementTree because the drawing is a few dozen
rectangles, lines and labels; a schematic library would add a dependency for no gain.

``python -m keilog.hardware.wiring`` rewrites ``hardware/wiring/<board>.svg`` for every board;
a test checks that the committed drawings match.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from keilog.hardware.boards import Board, iter_boards

SVG_NS = "http://www.w3.org/2000/svg"

ROW = 18  # height of one terminal row
COL_A = (20, 230)  # car side
COL_B = (330, 600)  # parts
COL_C = (800, 1160)  # board
CHANNEL_AB = (236, 322)
CHANNEL_BC = (615, 785)
WIDTH = 1180

COLORS = {
    "power": "#c0392b",
    "ground": "#222222",
    "logic": "#7f8c8d",
    "can": "#d35400",
    "gnss": "#2471a3",
    "sense": "#1e8449",
    "vss": "#8e44ad",
    "analog": "#117a65",
    "switch": "#5d6d7e",
    "sd": "#6e2c00",
    "led": "#b7950b",
}


@dataclass
class Terminal:
    key: str
    label: str
    side: str  # "left" or "right": which edge of its box the wire leaves from
    x: float = 0.0
    y: float = 0.0


@dataclass
class Box:
    title: str
    column: tuple[int, int]
    terminals: list[Terminal]
    notes: list[str] = field(default_factory=list)
    y: float = 0.0

    @property
    def height(self) -> float:
        return 24 + ROW * (len(self.terminals) + len(self.notes)) + 8


@dataclass
class Net:
    name: str
    kind: str
    ends: list[str]  # terminal keys


def _parts(board: Board) -> tuple[list[Box], list[Box], list[Net]]:
    d = board.data
    car = [
        Box(
            "OBD-II connector (SAE J1962), car side",
            COL_A,
            [
                Terminal("obd16", "16  +12 V battery (always on)", "right"),
                Terminal("obd4", "4  chassis ground", "right"),
                Terminal("obd5", "5  signal ground", "right"),
                Terminal("obd6", "6  CAN-H", "right"),
                Terminal("obd14", "14  CAN-L", "right"),
            ],
            ["bus is terminated by the car:", "fit no 120 ohm resistor"],
        ),
        Box(
            "Car wires, cars without CAN",
            COL_A,
            [
                Terminal("vss_car", "VSS pulse (meter / ECU)", "right"),
                Terminal("tach_car", "tach: ECU out or coil (-)", "right"),
                Terminal("cool_car", "coolant sender (own)", "right"),
                Terminal("fuel_car", "fuel sender (own)", "right"),
                Terminal("oil_car", "oil pressure lamp wire", "right"),
                Terminal("brake_car", "brake light +12 V", "right"),
                Terminal("lights_car", "headlight +12 V", "right"),
            ],
            ["optional: cars without CAN", "battery: the sense divider"],
        ),
    ]
    parts = [
        Box(
            "Power: fuse, TVS, diode, hold-up C, buck",
            COL_B,
            [
                Terminal("pw_in", "12 V in (1 A fuse)", "left"),
                Terminal("pw_gnd_in", "ground in", "left"),
                Terminal("pw_sense", "sense tap (before diode)", "left"),
                Terminal("pw_5v", "+5 V out", "right"),
                Terminal("pw_gnd", "GND", "right"),
            ],
            ["SM8S24A TVS, SS36 diode,", "hold-up C (see README), 5 V buck"],
        ),
        Box(
            "CAN transceiver TJA1051T/3",
            COL_B,
            [
                Terminal("tr_canh", "CANH (7)", "left"),
                Terminal("tr_canl", "CANL (6)", "left"),
                Terminal("tr_txd", "TXD (1)", "right"),
                Terminal("tr_rxd", "RXD (4)", "right"),
                Terminal("tr_vcc", "VCC (3) 5 V", "right"),
                Terminal("tr_vio", "VIO (5) 3.3 V", "right"),
                Terminal("tr_s", "S (8) silent: jumper to 3.3 V", "right"),
                Terminal("tr_gnd", "GND (2)", "right"),
            ],
            ["S high = listen-only (default);", "S to GND only for OBD-II polling"],
        ),
        Box(
            "GNSS module (u-blox NEO-M8N / M9N)",
            COL_B,
            [
                Terminal("gn_tx", "TX (NMEA out)", "right"),
                Terminal("gn_rx", "RX", "right"),
                Terminal("gn_vcc", "VCC 5 V", "right"),
                Terminal("gn_gnd", "GND", "right"),
            ],
            ["3.3 V logic UART"],
        ),
        Box(
            "Ignition / supply sense divider",
            COL_B,
            [
                Terminal("dv_in", "in: 100 kohm to sense tap", "left"),
                Terminal("dv_out", "out: ADC (22 kohm, 100 nF)", "right"),
                Terminal("dv_gnd", "GND", "right"),
            ],
            ["BAT54S clamp to 3.3 V / GND"],
        ),
        Box(
            "Pulse inputs: PC817 optocouplers",
            COL_B,
            [
                Terminal("vs_in", "VSS in: 4.7 kohm, 1N4148", "left"),
                Terminal("tc_in", "tach in: 47 kohm 1 W, 1N4148", "left"),
                Terminal("vs_out", "VSS out: collector", "right"),
                Terminal("tc_out", "tach out: collector", "right"),
                Terminal("vs_gnd", "emitters, GND", "right"),
            ],
            ["pin pull-up; 4.7 kohm for an ECU", "tach output"],
        ),
        Box(
            "Senders: 1 kohm pull-up, 10 kohm + 100 nF",
            COL_B,
            [
                Terminal("an_cool", "coolant sender", "left"),
                Terminal("an_fuel", "fuel sender", "left"),
                Terminal("an_cool_out", "coolant ADC", "right"),
                Terminal("an_fuel_out", "fuel ADC", "right"),
                Terminal("an_3v3", "pull-ups 3.3 V", "right"),
                Terminal("an_gnd", "GND", "right"),
            ],
            ["BAT54S clamp at each pin"],
        ),
        Box(
            "Switches: oil 10 kohm + BAT54S; PC817",
            COL_B,
            [
                Terminal("sw_oil", "oil lamp wire", "left"),
                Terminal("sw_brake", "brake: 4.7 kohm, 1N4148", "left"),
                Terminal("sw_lights", "lights: 4.7 kohm, 1N4148", "left"),
                Terminal("sw_oil_out", "oil out", "right"),
                Terminal("sw_brake_out", "brake out: collector", "right"),
                Terminal("sw_lights_out", "lights out: collector", "right"),
                Terminal("sw_gnd", "GND", "right"),
            ],
            ["active low: pin pull-ups"],
        ),
    ]
    nets = [
        Net("+12 V", "power", ["obd16", "pw_in"]),
        Net("car ground", "ground", ["obd4", "obd5", "pw_gnd_in"]),
        Net("sense", "sense", ["pw_sense", "dv_in"]),
        Net("CAN-H", "can", ["obd6", "tr_canh"]),
        Net("CAN-L", "can", ["obd14", "tr_canl"]),
        Net("VSS", "vss", ["vss_car", "vs_in"]),
        Net("CAN TX", "can", ["tr_txd", "b_can_tx"]),
        Net("CAN RX", "can", ["tr_rxd", "b_can_rx"]),
        Net("GNSS to board", "gnss", ["gn_tx", "b_gps_rx"]),
        Net("board to GNSS", "gnss", ["gn_rx", "b_gps_tx"]),
        Net("ignition", "sense", ["dv_out", "b_ign"]),
        Net("VSS pulse", "vss", ["vs_out", "b_vss"]),
        Net("tach", "vss", ["tach_car", "tc_in"]),
        Net("tach pulse", "vss", ["tc_out", "b_tach"]),
        Net("coolant sender", "analog", ["cool_car", "an_cool"]),
        Net("fuel sender", "analog", ["fuel_car", "an_fuel"]),
        Net("coolant", "analog", ["an_cool_out", "b_coolant"]),
        Net("fuel", "analog", ["an_fuel_out", "b_fuel"]),
        Net("oil lamp", "switch", ["oil_car", "sw_oil"]),
        Net("brake feed", "switch", ["brake_car", "sw_brake"]),
        Net("lights feed", "switch", ["lights_car", "sw_lights"]),
        Net("oil", "switch", ["sw_oil_out", "b_oil"]),
        Net("brake", "switch", ["sw_brake_out", "b_brake"]),
        Net("lights", "switch", ["sw_lights_out", "b_lights"]),
        Net("+5 V", "power", ["pw_5v", "tr_vcc", "gn_vcc", "b_vin"]),
        Net("3.3 V", "logic", ["tr_vio", "tr_s", "an_3v3", "b_3v3"]),
        Net(
            "GND",
            "ground",
            ["pw_gnd", "tr_gnd", "gn_gnd", "dv_gnd", "vs_gnd", "an_gnd", "sw_gnd", "b_gnd"],
        ),
    ]
    sd = d["sd"]
    if sd["interface"] == "spi":
        terms = [Terminal(f"sd_{role}", f"{role.upper()}", "right") for role in sd["pins"]]
        terms += [Terminal("sd_vcc", "VCC 3.3 V", "right"), Terminal("sd_gnd", "GND", "right")]
        parts.append(Box("microSD breakout (SPI)", COL_B, terms, ["industrial-grade card"]))
        for role in sd["pins"]:
            nets.append(Net(f"SD {role}", "sd", [f"sd_{role}", f"b_sd_{role}"]))
        _add_end(nets, "3.3 V", "sd_vcc")
        _add_end(nets, "GND", "sd_gnd")
    for led in d["leds"]["items"]:
        if led.get("external"):
            key = f"led{led['id']}"
            parts.append(
                Box(
                    f"Status LED ({led['color']}) + 330 ohm",
                    COL_B,
                    [
                        Terminal(f"{key}_a", "anode (via 330 ohm)", "right"),
                        Terminal(f"{key}_k", "cathode", "right"),
                    ],
                )
            )
            nets.append(Net(f"LED {led['id']}", "led", [f"{key}_a", f"b_{key}"]))
            _add_end(nets, "GND", f"{key}_k")
    return car, parts, nets


def _add_end(nets: list[Net], name: str, key: str) -> None:
    for net in nets:
        if net.name == name:
            net.ends.append(key)
            return
    raise KeyError(name)


def _board_box(board: Board) -> Box:
    d = board.data
    rows: list[Terminal] = []
    for function, pin_name, header in board.power_pins():
        key = {"Ground": "b_gnd", "3.3 V out": "b_3v3"}.get(function, "b_vin")
        rows.append(Terminal(key, f"{_where(header, pin_name)}  {function}", "left"))
    keys = {
        "CAN RX": "b_can_rx",
        "CAN TX": "b_can_tx",
        "GNSS RX (from GNSS TX)": "b_gps_rx",
        "GNSS TX (to GNSS RX)": "b_gps_tx",
        "Ignition sense (ADC)": "b_ign",
        "VSS pulse in": "b_vss",
        "Tach pulse in": "b_tach",
        "Coolant sender (ADC)": "b_coolant",
        "Fuel sender (ADC)": "b_fuel",
        "Oil pressure switch in": "b_oil",
        "Brake lights in": "b_brake",
        "Headlights in": "b_lights",
    }
    sd_spi = d["sd"]["interface"] == "spi"
    leds = {f"LED {led['color']} ({led['use']})": led for led in d["leds"]["items"]}
    notes = []
    for pin in board.signal_pins():
        label = f"{_where(pin.header, pin.pin)} / {pin.mcu}  {pin.function}"
        if pin.function in keys:
            rows.append(Terminal(keys[pin.function], label, "left"))
        elif pin.function.startswith("SD ") and sd_spi:
            role = pin.function[3:].lower()
            rows.append(Terminal(f"b_sd_{role}", label, "left"))
        elif pin.function in leds and leds[pin.function].get("external"):
            rows.append(Terminal(f"b_led{leds[pin.function]['id']}", label, "left"))
        else:
            rows.append(Terminal(f"int_{pin.pin}", label + "  (on board)", "none"))
    notes.append(f"CAN bus {board.can_bus}, UART {board.gps_uart} at {board.gps_baud} baud")
    notes.append(f"mpy-cross -march={board.mpy_cross_arch}")
    return Box(f"{board.title} ({board.name})", COL_C, rows, notes)


def _where(header: str, pin: str) -> str:
    return pin if header == pin else f"{header}: {pin}"


def _stack(boxes: list[Box], top: float) -> float:
    y = top
    for box in boxes:
        box.y = y
        for i, t in enumerate(box.terminals):
            t.y = y + 24 + ROW * i + ROW / 2
            t.x = box.column[0] if t.side == "left" else box.column[1]
        y += box.height + 22
    return y


def render_svg(board: Board) -> str:
    """The wiring diagram of ``board`` as SVG text (deterministic)."""
    car, parts, nets = _parts(board)
    board_box = _board_box(board)
    top = 70.0
    bottom = max(_stack(car, top), _stack(parts, top), _stack([board_box], top))
    height = int(bottom + 60)

    ET.register_namespace("", SVG_NS)
    svg = ET.Element(
        f"{{{SVG_NS}}}svg",
        {
            "width": str(WIDTH),
            "height": str(height),
            "viewBox": f"0 0 {WIDTH} {height}",
            "font-family": "DejaVu Sans, Arial, sans-serif",
            "font-size": "11",
        },
    )
    ET.SubElement(svg, f"{{{SVG_NS}}}title").text = f"keilog wiring: {board.title}"
    ET.SubElement(
        svg, f"{{{SVG_NS}}}rect", {"width": str(WIDTH), "height": str(height), "fill": "#ffffff"}
    )
    _text(svg, 20, 28, f"keilog wiring: {board.title}", size=18, weight="bold")
    _text(
        svg,
        20,
        48,
        f"Generated from hardware/boards/{board.name}.json by `python -m keilog.hardware.wiring`; "
        "do not edit by hand. Listen-only by default: transceiver S pin high.",
    )

    for box in [*car, *parts, board_box]:
        _draw_box(svg, box)

    terminals = {t.key: t for box in [*car, *parts, board_box] for t in box.terminals}
    lanes = {"ab": 0, "bc": 0}
    for net in nets:
        ends = [terminals[k] for k in net.ends]
        xs = [t.x for t in ends]
        channel = CHANNEL_AB if min(xs) <= COL_B[0] else CHANNEL_BC
        lane_key = "ab" if channel is CHANNEL_AB else "bc"
        step = 7 if lane_key == "ab" else 9
        bus_x = channel[0] + 6 + step * lanes[lane_key]
        lanes[lane_key] += 1
        color = COLORS[net.kind]
        ys = [t.y for t in ends]
        group = ET.SubElement(
            svg, f"{{{SVG_NS}}}g", {"stroke": color, "stroke-width": "1.6", "fill": "none"}
        )
        ET.SubElement(group, f"{{{SVG_NS}}}title").text = net.name
        _line(group, bus_x, min(ys), bus_x, max(ys))
        for t in ends:
            _line(group, t.x, t.y, bus_x, t.y)
            ET.SubElement(
                group,
                f"{{{SVG_NS}}}circle",
                {"cx": _f(bus_x), "cy": _f(t.y), "r": "2.2", "fill": color, "stroke": "none"},
            )
    _text(
        svg,
        20,
        height - 20,
        "Colours: red supply, black ground, grey 3.3 V, orange CAN, blue GNSS, green sense, "
        "purple pulses, teal senders, slate switches, brown SD, gold LED. See hardware/README.md.",
    )
    ET.indent(svg, space=" ")
    return ET.tostring(svg, encoding="unicode") + "\n"


def _draw_box(svg: ET.Element, box: Box) -> None:
    x0, x1 = box.column
    ET.SubElement(
        svg,
        f"{{{SVG_NS}}}rect",
        {
            "x": _f(x0),
            "y": _f(box.y),
            "width": _f(x1 - x0),
            "height": _f(box.height),
            "rx": "4",
            "fill": "#f7f9fb",
            "stroke": "#34495e",
        },
    )
    _text(svg, x0 + 6, box.y + 16, box.title, weight="bold")
    for t in box.terminals:
        anchor = "end" if t.side == "right" else "start"
        x = x1 - 6 if t.side == "right" else x0 + 6
        _text(svg, x, t.y + 4, t.label, anchor=anchor)
    for i, note in enumerate(box.notes):
        y = box.y + 24 + ROW * (len(box.terminals) + i) + ROW / 2 + 4
        _text(svg, x0 + 6, y, note, style="italic", fill="#555555")


def _text(
    parent: ET.Element,
    x: float,
    y: float,
    content: str,
    *,
    size: int | None = None,
    weight: str | None = None,
    anchor: str = "start",
    style: str | None = None,
    fill: str = "#111111",
) -> None:
    attrs = {"x": _f(x), "y": _f(y), "text-anchor": anchor, "fill": fill}
    if size:
        attrs["font-size"] = str(size)
    if weight:
        attrs["font-weight"] = weight
    if style:
        attrs["font-style"] = style
    ET.SubElement(parent, f"{{{SVG_NS}}}text", attrs).text = content


def _line(parent: ET.Element, x1: float, y1: float, x2: float, y2: float) -> None:
    ET.SubElement(
        parent, f"{{{SVG_NS}}}line", {"x1": _f(x1), "y1": _f(y1), "x2": _f(x2), "y2": _f(y2)}
    )


def _f(v: float) -> str:
    return f"{v:g}"


def wiring_dir() -> Path:
    from keilog.hardware.boards import boards_dir

    return boards_dir().parent / "wiring"


def write_all(directory: Path | None = None) -> list[Path]:
    """Write ``<board>.svg`` for every board; returns the paths written."""
    directory = directory or wiring_dir()
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for board in iter_boards():
        path = directory / f"{board.name}.svg"
        path.write_text(render_svg(board), encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    directory = Path(args[0]) if args else None
    for path in write_all(directory):
        print(path, file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
