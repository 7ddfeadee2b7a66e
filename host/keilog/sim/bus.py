"""The simulated car on a python-can bus: its broadcast frames out, OBD-II answers back.

Any python-can interface works, named as python-can names it (``-i/--interface``,
``-c/--channel``, ``-b/--bitrate``): ``virtual`` by default (in-process only, as
python-can's virtual bus is), ``socketcan`` on ``vcan0`` where the kernel has it, or a
USB-CAN adapter. The car does not ACK-check anything: it sends its cyclic frames and,
between them, answers the service 01 requests it hears.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import can

from keilog.errors import ConfigError
from keilog.sim.obd import REQUEST_IDS

DEFAULT_INTERFACE = "virtual"
DEFAULT_VIRTUAL_CHANNEL = "keilog"


def open_bus(
    interface: str = DEFAULT_INTERFACE,
    channel: str | int | None = None,
    bitrate: int | None = None,
    **kwargs: Any,
) -> can.BusABC:
    """Open a python-can bus; errors name the interface and channel and say what to try."""
    if channel is None and interface == "virtual":
        channel = DEFAULT_VIRTUAL_CHANNEL
    config: dict[str, Any] = dict(kwargs)
    if bitrate is not None:
        config["bitrate"] = bitrate
    if interface == "virtual":
        config.setdefault("preserve_timestamps", True)
    try:
        return can.Bus(interface=interface, channel=channel, **config)
    except (can.CanError, OSError, ValueError, ImportError, NotImplementedError) as exc:
        hint = ""
        if interface == "socketcan":
            hint = (
                "; for a virtual SocketCAN device run `sudo modprobe vcan && sudo ip link add "
                f"dev {channel or 'vcan0'} type vcan && sudo ip link set up {channel or 'vcan0'}`"
            )
        raise ConfigError(
            f"cannot open CAN bus interface={interface!r} channel={channel!r}: {exc}{hint}"
        ) from None


class BusLink:
    """Sends the car's frames on ``bus`` and answers OBD-II requests heard on it.

    ``respond`` returns the answer to a request (or None); ``on_frame`` is told about
    every frame that passes (sent or heard), for the firmware stream.
    """

    def __init__(
        self,
        bus: can.BusABC,
        respond: Callable[[can.Message], can.Message | None],
        on_frame: Callable[[can.Message], None] | None = None,
    ) -> None:
        self.bus = bus
        self.respond = respond
        self.on_frame = on_frame
        self.sent = 0
        self.heard = 0
        self.answered = 0

    def send(self, msg: can.Message) -> None:
        self.bus.send(msg)
        self.sent += 1
        if self.on_frame is not None:
            self.on_frame(msg)

    def service(self, timeout: float) -> None:
        """Listen for up to ``timeout`` seconds (0: only what is queued), answering
        requests. Returns early only when nothing more is waiting and time is up."""
        msg = self.bus.recv(timeout=max(0.0, timeout))
        while msg is not None:
            self.heard += 1
            if self.on_frame is not None:
                self.on_frame(msg)
            if msg.arbitration_id in REQUEST_IDS and not msg.is_extended_id:
                answer = self.respond(msg)
                if answer is not None:
                    self.send(answer)
                    self.answered += 1
            msg = self.bus.recv(timeout=0.0)
