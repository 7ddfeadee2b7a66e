"""keilog's decoder against cantools on every DBC of the peer corpus.

The corpus (141 DBC files from cantools' own test suite and from opendbc's real cars) is
read from ../shared/peer/ beside the repository; users' checkouts do not have it, so these
tests skip when it is absent. For every message of every file cantools loads, random
frames (full length, short, and with multiplexer selectors set to values the DBC defines)
are decoded by keilog in one batch and by cantools frame by frame with
``decode_choices=False``, and compared value by value. Files cantools rejects must give a
DbcError that names the file and the line.
"""

from __future__ import annotations

import logging
import re
import zlib
from pathlib import Path

import cantools
import numpy as np
import pytest
from cantools.database import UnsupportedDatabaseFormatError
from keilog.decode import Decoder
from keilog.decode.result import UNDEFINED_MULTIPLEXER
from keilog.errors import DbcError

from tests.decode.decode_helpers import (
    batch_of,
    cantools_or_error,
    decode_lone,
    diff,
    random_frames,
    rows_by_index,
    same_value,
)

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
PEER = SHARED / "peer"
FULL_FRAMES = 10  # random full-length frames per message
MUX_FRAMES = 10  # extra frames with defined selector values, per multiplexed message
SHORT_FRAMES = 3  # frames shorter than the DBC length, per message


def _corpus() -> list[object]:
    files = sorted((PEER / "cantools-dbc").glob("*.dbc")) + sorted((PEER / "opendbc").glob("*.dbc"))
    if not files:
        reason = f"peer DBC corpus not found at {PEER} (it sits beside the repository)"
        return [pytest.param(None, marks=pytest.mark.skip(reason=reason), id="no-corpus")]
    return [pytest.param(f, id=f"{f.parent.name}/{f.name}") for f in files]


@pytest.fixture(autouse=True)
def _quiet_cantools() -> None:
    # cantools logs a warning per overwritten message in a few DBCs; not under test.
    logging.getLogger("cantools").setLevel(logging.ERROR)


@pytest.mark.parametrize("path", _corpus())
def test_peer_dbc_decodes_like_cantools_or_is_rejected_with_its_line(path: Path) -> None:
    try:
        db = cantools.database.load_file(str(path), strict=False)
    except UnsupportedDatabaseFormatError:
        _assert_rejected_with_line(path)
        return
    decoder = Decoder(db)
    rng = np.random.default_rng(zlib.crc32(path.name.encode()))  # same frames every run
    width = 64 if any(p.message.length > 8 for p in decoder.plans) else 8
    message_frames = []
    for plan in decoder.plans:
        m = plan.message
        payloads = random_frames(m, plan.tree, rng, FULL_FRAMES, width)
        if plan.multiplexed:
            payloads += random_frames(m, plan.tree, rng, MUX_FRAMES, width)
        for _ in range(SHORT_FRAMES if m.length else 0):
            full = rng.integers(0, 256, min(m.length, width), dtype=np.uint8).tobytes()
            payloads.append(full[: int(rng.integers(0, len(full)))])
        message_frames.append((m, payloads))
    batch, rows = batch_of(message_frames, width)

    result = decoder.decode(batch)

    got_rows = rows_by_index(result)
    assert sorted(got_rows) == list(range(len(rows)))
    undefined_mux: dict[str, int] = {}
    cantools_cannot: set[str] = set()
    for row, (message, payload) in enumerate(rows):
        name, got = got_rows[row]
        assert name == message.name
        expected = cantools_or_error(message, payload)
        if isinstance(expected, dict):
            assert diff(expected, got) == {}, (message.name, payload.hex())
            continue
        if "multiplexer" in str(expected):
            undefined_mux[name] = undefined_mux.get(name, 0) + 1
        else:
            # cantools cannot decode this message at all: the DBC overlaps two signals or
            # puts one past the message's length. keilog decodes every signal the frame's
            # bytes contain (multiplexed ones where their selector matches).
            assert "unpacking failed" in str(expected)
            cantools_cannot.add(name)
            for signal in message.signals:
                if signal.multiplexer_signal is None:
                    lone = decode_lone(message, signal, payload)
                    assert (signal.name in got) == (lone is not None), (message.name, signal.name)
        # Every value keilog gives agrees with cantools decoding that signal alone.
        for signal in message.signals:
            if signal.name in got:
                lone = decode_lone(message, signal, payload)
                assert same_value(lone, got[signal.name]), (message.name, signal.name)
    for name, decoded in result.items():
        if name not in cantools_cannot:
            assert decoded.problems.get(UNDEFINED_MULTIPLEXER, 0) == undefined_mux.get(name, 0)
    assert result.stats.unknown == 0
    assert result.stats.decoded == len(rows)


def _assert_rejected_with_line(path: Path) -> None:
    with pytest.raises(DbcError) as caught:
        Decoder.from_files([path])
    message = str(caught.value)
    assert message.startswith(f"{path}:")
    line_no = int(re.match(r".*?\.dbc:(\d+): ", message).group(1))  # type: ignore[union-attr]
    line = path.read_text(encoding="cp1252").splitlines()[line_no - 1]
    # The named line is the one cantools complains about: it holds the message, signal
    # or text that cantools' error quotes.
    words = [w for w in re.findall(r"\w+", line) if not w.endswith("_") and not w.isdigit()]
    assert any(w in message for w in words), (line, message)
