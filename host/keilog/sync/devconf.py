"""Read and replace an installed logger's config over the sync link.

The device validates a new config against the firmware's SCHEMA before it stores it
(and refuses it with the reasons otherwise); keilog validates it the same way first, so
that a mistake is caught before the cable is involved. The new config takes effect at
the logger's next boot.
"""

from __future__ import annotations

import json
from typing import Any

from keilog.hardware.devconfig import check_config, parse_config
from keilog.sync.client import DeviceClient
from keilog.sync.errors import VerifyError
from keilog.sync.ports import open_port, resolve


def pull_config(port: str, timeout: float = 1.0) -> dict[str, Any]:
    """The config stored on the logger at port ("auto": the one plugged in); {} when it
    runs on its defaults."""
    path = resolve(port)
    ser = open_port(path)
    try:
        client = DeviceClient(ser, path, timeout=timeout)
        client.hello()
        raw = client.get_config()
        client.bye()
    finally:
        ser.close()
    if not raw.strip():
        return {}
    # The device's bytes are untrusted too: not UTF-8, not JSON, or nested 100,000 deep
    # is a ConfigError naming the port, never a traceback.
    return parse_config(raw.decode("utf-8", errors="replace"), f"{path}: the device's config")


def push_config(port: str, config: dict[str, Any], timeout: float = 1.0) -> str:
    """Validate config, store it on the logger, read it back; returns the port used."""
    check_config(config)
    data = (json.dumps(config, indent=2, sort_keys=True) + "\n").encode()
    path = resolve(port)
    ser = open_port(path)
    try:
        client = DeviceClient(ser, path, timeout=timeout)
        client.hello()
        client.put_config(data)
        back = client.get_config()
        client.bye()
    finally:
        ser.close()
    if back != data:
        raise VerifyError(
            f"{path}: the config read back differs from the one sent; run the command again"
        )
    return path
