"""The report in a real browser: Debian's chromium, headless, opening the file URL.

.ci/run installs chromium; elsewhere these tests skip, saying so. The report logs nothing
to the console, so any console line is a failure. The screenshot stays in the test's tmp
directory for people to look at.
"""

from __future__ import annotations

import http.server
import re
import socket
import struct
import threading
import zlib
from collections.abc import Iterator

import pytest
from keilog.report import write_report

from tests.report.browser import HEIGHT, WIDTH, needs_chromium, png_size, render

pytestmark = needs_chromium


def test_the_console_check_catches_errors(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><p>x</p><script>missingFunction();</script>")
    out = render(page.as_uri(), tmp_path)
    assert len(out.console) == 1 and "Uncaught ReferenceError" in out.console[0]


def test_the_demo_report_renders_its_map_plot_and_violations(florida, tmp_path):
    report = tmp_path / "report.html"
    result = write_report(florida.db, report, check=florida.check, roads=florida.roads)
    shot = tmp_path / "report.png"
    out = render(report.as_uri(), tmp_path, shot)
    assert out.console == []
    assert re.search(r'<html lang="en" data-ready="1">', out.html)  # the script ran to its end
    n = len(florida.check["trips"][0]["violations"])
    assert n == result.violations >= 1
    dom = out.dom
    assert len(dom.find("svg", "map")) == 1 and len(dom.find("svg", "speed-plot")) == 1
    assert len(dom.find("a", "violation-marker")) == n
    assert len(dom.find("path", "road")) >= 2
    # the offline base map: water, roads by class and the town's name (florida_rural.osm)
    assert dom.find("path", "water") and dom.find("path", "hw-track")
    assert [e.all_text() for e in dom.find("text", "place")] == ["Micanopy"]
    rows = [e for e in dom.find("tr") if e.attrs.get("id", "").startswith("violation-1-")]
    assert len(rows) == n
    assert png_size(shot) == (WIDTH, HEIGHT)
    assert shot.stat().st_size > 50_000  # a blank page compresses to a few kB


def _tile_png(rgb: tuple[int, int, int] = (200, 220, 200)) -> bytes:
    """A 256 x 256 one-colour PNG (PNG spec: signature, IHDR, IDAT of zlib rows, IEND)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    row = b"\x00" + bytes(rgb) * 256
    ihdr = struct.pack(">IIBBBBB", 256, 256, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(row * 256))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def tile_server() -> Iterator[tuple[str, list[str]]]:
    """A loopback tile server that answers every path with one tile; logs the paths."""
    tile = _tile_png()
    seen: list[str] = []

    class Tiles(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(tile)))
            self.end_headers()
            self.wfile.write(tile)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Tiles)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{{z}}/{{x}}/{{y}}.png", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_tiles_from_a_tile_server_go_under_the_drawing(florida, tmp_path, tile_server):
    url, seen = tile_server
    report = tmp_path / "tiles.html"
    write_report(florida.db, report, check=florida.check, roads=florida.roads, tiles=url,
                 tiles_attribution="Test tiles")  # fmt: skip
    out = render(report.as_uri(), tmp_path, tmp_path / "tiles.png")
    assert out.console == []
    images = out.dom.find("image")
    assert images and len(seen) == len(images)
    assert all(re.fullmatch(r"/\d+/\d+/\d+\.png", p) for p in seen)
    assert "with-tiles" in out.dom.one("svg", "map").classes
    assert out.dom.one("text", "attribution").all_text() == "Test tiles"
    assert out.dom.find("path", "track")


def test_without_a_tile_server_the_map_falls_back_to_the_offline_drawing(florida, tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    report = tmp_path / "offline.html"
    write_report(florida.db, report, check=florida.check, roads=florida.roads,
                 tiles=f"http://127.0.0.1:{port}/{{z}}/{{x}}/{{y}}.png")  # fmt: skip
    out = render(report.as_uri(), tmp_path)
    svg = out.dom.one("svg", "map")
    assert out.dom.find("image") == []
    assert "with-tiles" not in svg.classes
    assert out.dom.one("text", "attribution").all_text() == "Map tiles unavailable: offline drawing"
    assert out.dom.find("path", "track") and out.dom.find("path", "road")


PHONE_WIDTH = 390  # CSS pixels of a common phone in portrait


def test_on_a_phone_the_page_does_not_scroll_sideways(florida, tmp_path):
    """Headless chromium will not make a window narrower than 500 px, so the report is
    opened in a 390 px frame, as a phone shows it, and measured from the page around."""
    report = tmp_path / "report.html"
    write_report(florida.db, report, check=florida.check, roads=florida.roads)
    host = tmp_path / "phone.html"
    host.write_text(
        f'<!DOCTYPE html><html><body style="margin:0">'
        f'<iframe id="phone" src="{report.name}" style="width:{PHONE_WIDTH}px;height:1500px;'
        'border:0"></iframe><script>'
        'document.getElementById("phone").addEventListener("load", function () {'
        "  var d = this.contentDocument.documentElement;"
        "  document.body.dataset.overflow = String(d.scrollWidth - d.clientWidth);"
        "  document.body.dataset.width = String(d.clientWidth);"
        "});</script></body></html>",
        encoding="utf-8",
    )
    shot = tmp_path / "phone.png"
    out = render(host.as_uri(), tmp_path, shot, width=PHONE_WIDTH + 200, height=1500)
    assert out.console == []
    width = re.search(r'data-width="(\d+)"', out.html)
    overflow = re.search(r'data-overflow="(-?\d+)"', out.html)
    assert width is not None and int(width.group(1)) == PHONE_WIDTH
    assert overflow is not None and int(overflow.group(1)) <= 0
    assert png_size(shot) == (PHONE_WIDTH + 200, 1500)
