"""The firmware's encoder, under MicroPython, produces the golden bytes exactly."""

import pytest

from tests.conftest import DATA, TESTS, run_mp

VECTORS = sorted(p.stem for p in (DATA / "logformat").glob("*.json"))


@pytest.mark.parametrize("name", VECTORS)
def test_firmware_encoder_matches_golden_bytes(name):
    out = run_mp(TESTS / "firmware" / "mp_encode.py", str(DATA / "logformat" / f"{name}.json"))
    encoded = b"".join(bytes.fromhex(line) for line in out.stdout.split())
    assert encoded == (DATA / "logformat" / f"{name}.klg").read_bytes()


def test_there_are_golden_vectors():
    assert {"worked_example", "segment_mixed", "full_block"} <= set(VECTORS)
