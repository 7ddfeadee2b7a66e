"""Open a page in Debian's chromium, headless: the DOM after its script ran, its console.

Console messages reach stderr through ``--enable-logging=stderr --v=0`` as
``...:CONSOLE...`` lines. Used by the report's browser tests; other tests (the demo's)
can use it to open any page keilog writes.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.report.htmlquery import Page

CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser")) if p), None)
# Off CI a developer without chromium gets a skip; under CI (.ci/run installs it) a
# missing browser fails the test instead of hiding it.
if CHROMIUM is None and os.environ.get("CI"):
    raise RuntimeError("CI is set but chromium is missing: .ci/run must install it")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (.ci/run installs it: apt-get install chromium)",
)
WIDTH, HEIGHT = 1100, 2600


@dataclass
class Rendered:
    dom: Page
    html: str
    console: list[str]
    screenshot: Path | None


def render(
    url: str,
    tmp: Path,
    screenshot: Path | None = None,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> Rendered:
    """Load url in headless chromium; the DOM after the page's script ran, its console."""
    assert CHROMIUM is not None
    args = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--allow-file-access-from-files",  # a test page may measure a report in a frame
        f"--user-data-dir={tmp / 'chromium-profile'}",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=5000",
        f"--window-size={width},{height}",
        "--hide-scrollbars",
        "--dump-dom",
    ]
    if screenshot is not None:
        args.append(f"--screenshot={screenshot}")
    proc = subprocess.run([*args, url], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    return Rendered(Page(proc.stdout), proc.stdout, console, screenshot)


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])  # IHDR (PNG spec, section 11.2.2)
    return width, height
