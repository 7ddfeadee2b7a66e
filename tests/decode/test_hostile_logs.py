"""Every reader of untrusted log bytes fails cleanly (issue 14).

The property, over python-can's and asammdf's readers, gzip and our own KLG reader:
reading (and importing) a damaged file either works, reports damage with counts, or
raises keilog's own error naming the file; never another exception, and a refused file
leaves nothing in the database.
"""

from __future__ import annotations

import struct
from pathlib import Path

import can
import pytest
import sqlite_utils
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from keilog import store
from keilog.cli.main import cli
from keilog.decode.logs import open_log
from keilog.errors import DamagedFileError, KeilogError, LogFormatError
from keilog.logformat.reader import BLOCK_SIZE
from keilog.store.frames import frame_count

from tests.conftest import DATA

GOLDEN = Path(__file__).parents[1] / "data" / "logformat"
N = 3000  # frames in each sample log (the truncated BLF held 3000)
SUFFIXES = [".log", ".asc", ".blf", ".trc", ".csv", ".mf4", ".log.gz"]


def messages(n: int = N) -> list[can.Message]:
    return [
        can.Message(
            timestamp=1_700_000_000.0 + i / 100,
            arbitration_id=0x100 + i % 7,
            data=struct.pack("<II", i, i * 7),
        )
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """A valid log of N frames in each format, written by python-can's writers."""
    work = tmp_path_factory.mktemp("samples")
    out = {}
    for suffix in SUFFIXES:
        path = work / f"sample{suffix}"
        with can.Logger(str(path)) as writer:
            for m in messages():
                writer.on_message_received(m)
        out[suffix] = path.read_bytes()
    return out


def read_all(path: Path, skip: bool = False) -> tuple[int, list[str]]:
    log = open_log(path, skip_bad_lines=skip)
    return sum(len(b) for b in log.batches(chunk_frames=1000)), log.problems


def frames_in(db_path: Path) -> int:
    """Frames stored; a database that a refused first import never kept has none."""
    if not db_path.exists():
        return 0
    return frame_count(sqlite_utils.Database(db_path).conn)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_every_sample_reads_whole_without_damage(samples, tmp_path, suffix) -> None:
    path = tmp_path / f"ok{suffix}"
    path.write_bytes(samples[suffix])
    assert read_all(path) == (N, [])


def test_a_truncated_blf_is_damage_not_a_silent_part(samples, tmp_path) -> None:
    path = tmp_path / "cut.blf"
    path.write_bytes(samples[".blf"][: len(samples[".blf"]) // 2])
    frames, problems = read_all(path)
    assert 0 < frames < N
    assert len(problems) == 1
    assert "an object runs past the end of the file" in problems[0]
    assert f"{frames} frames read before it" in problems[0]
    # keilog import refuses it by default, and stores nothing of it ...
    r = CliRunner().invoke(cli, ["import", str(path), "--db", str(tmp_path / "k.db")])
    assert r.exit_code == 1
    assert r.output.startswith("Error: cut.blf: 1 damaged part (first: byte ")
    assert "import with --allow-damage" in r.output
    assert not (tmp_path / "k.db").exists()  # a refused first import leaves no database
    # ... and with --allow-damage stores the readable frames and records the damage.
    args = ["import", str(path), "--db", str(tmp_path / "k.db"), "--allow-damage"]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    assert frames_in(tmp_path / "k.db") == frames
    damage = sqlite_utils.Database(tmp_path / "k.db").execute("select damage from segments")
    assert "runs past the end" in damage.fetchone()[0]


def test_a_blf_object_with_a_huge_size_is_damage(samples, tmp_path) -> None:
    data = bytearray(samples[".blf"])
    first = data.index(b"LOBJ", 144)  # the first object after the file header
    struct.pack_into("<I", data, first + 8, 0x7FFF_FFF0)  # its object size
    path = tmp_path / "huge.blf"
    path.write_bytes(bytes(data))
    frames, problems = read_all(path)
    assert frames < N
    assert len(problems) == 1 and "runs past the end" in problems[0]


@pytest.mark.parametrize("suffix", [".log", ".csv"])
def test_a_bad_line_is_refused_by_number_or_skipped_by_choice(samples, tmp_path, suffix) -> None:
    lines = samples[suffix].decode().splitlines(keepends=True)
    lines.insert(3, "this is not a frame\n")
    path = tmp_path / f"bad{suffix}"
    path.write_text("".join(lines))
    with pytest.raises(LogFormatError, match=rf"bad\{suffix}: cannot read .* at line 4, after"):
        read_all(path)
    frames, problems = read_all(path, skip=True)
    assert frames == N
    assert len(problems) == 1 and problems[0].startswith("line 4: skipped (")


def test_an_asc_bad_line_is_refused_by_number(samples, tmp_path) -> None:
    lines = samples[".asc"].decode().splitlines(keepends=True)
    lines[10] = lines[10].replace(" Rx ", " Rx d 8 zz ", 1) if " Rx " in lines[10] else "x\n"
    path = tmp_path / "bad.asc"
    path.write_text("".join(lines))
    try:
        frames, _ = read_all(path, skip=True)
    except LogFormatError as exc:
        assert "bad.asc: cannot read this asc log at line" in str(exc)
    else:
        assert frames == N - 1  # python-can's ASC reader passes over lines it cannot parse


def test_zeros_named_klg_are_not_a_segment_and_damage_is_summarised(tmp_path) -> None:
    path = tmp_path / "00010001.KLG"
    path.write_bytes(bytes(2048 * BLOCK_SIZE))  # 1 MB of zeros: 2048 empty blocks
    with pytest.raises(
        LogFormatError,
        match=r"00010001\.KLG: not a keilog log segment: no "
        r"readable block in 1048576 bytes \(block 0 \(byte 0\): empty",
    ):
        store.import_files(tmp_path / "k.db", [path], allow_damage=True)
    assert not (tmp_path / "k.db").exists()
    # A real segment followed by 2048 empty blocks: its damage is a short summary.
    real = (DATA / "logformat" / "segment_mixed.klg").read_bytes()
    other = tmp_path / "00010002.KLG"
    other.write_bytes(real + bytes(2048 * BLOCK_SIZE))
    result = store.import_files(tmp_path / "k.db", [other], allow_damage=True)[0]
    assert len(result.damage) == 6
    assert result.damage[-1] == "... and 2043 more: 2043 x empty (all-zero) block"
    with pytest.raises(DamagedFileError, match=r"00010003\.KLG: 2049 damaged parts"):
        third = tmp_path / "00010003.KLG"
        third.write_bytes(real + bytes(2048 * BLOCK_SIZE + 1))
        store.import_files(tmp_path / "k.db", [third], allow_damage=False)


def mutate(data: bytes, how: str, at: int, flips: list[int], junk: bytes) -> bytes:
    if how == "truncate":
        return data[: at % (len(data) + 1)]
    if how == "flip":
        b = bytearray(data)
        for f in flips:
            b[f % len(b)] ^= 1 << (f % 8)
        return bytes(b)
    if how == "splice":
        i = at % (len(data) + 1)
        return data[:i] + junk + data[i:]
    return junk


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    suffix=st.sampled_from([*SUFFIXES, ".KLG"]),
    how=st.sampled_from(["truncate", "flip", "splice", "random"]),
    at=st.integers(0, 1 << 20),
    flips=st.lists(st.integers(0, 1 << 20), min_size=1, max_size=8),
    junk=st.binary(max_size=600),
    allow=st.booleans(),
)
def test_fuzz_every_log_reader_gives_success_damage_or_our_error(
    samples, klg_sample, tmp_path_factory, suffix, how, at, flips, junk, allow
) -> None:
    work = tmp_path_factory.mktemp("fuzz")
    source = klg_sample if suffix == ".KLG" else samples[suffix]
    path = work / f"f{suffix}"
    path.write_bytes(mutate(source, how, at, flips, junk))
    db_path = work / "k.db"
    try:
        result = store.import_files(db_path, [path], allow_damage=allow)[0]
    except KeilogError as exc:
        assert str(path.name) in str(exc)
        assert "\n" not in str(exc)
        assert frames_in(db_path) == 0  # refused: nothing of it stored
    else:
        assert frames_in(db_path) == result.frames
        assert allow or not result.damage


@pytest.fixture(scope="module")
def klg_sample() -> bytes:
    """A golden segment of the log format spec (docs/log-format.md)."""
    return (GOLDEN / "segment_mixed.klg").read_bytes()


def test_keilog_decode_of_a_damaged_log_exits_1_unless_damage_is_allowed(samples, tmp_path):
    path = tmp_path / "cut.blf"
    path.write_bytes(samples[".blf"][: len(samples[".blf"]) // 2])
    dbc = str(Path(__file__).parents[2] / "dbc" / "keicar.dbc")
    r = CliRunner().invoke(cli, ["decode", str(path), "--dbc", dbc, "--nl"])
    assert r.exit_code == 1
    assert "Error: " in r.output and "cut.blf: 1 damaged part" in r.output
    assert "pass --allow-damage" in r.output
    r = CliRunner().invoke(cli, ["decode", str(path), "--dbc", dbc, "--nl", "--allow-damage"])
    assert r.exit_code == 0, r.output
    assert "cut.blf: byte " in r.output


def test_keilog_decode_skips_a_bad_candump_line_when_allowed(samples, tmp_path):
    lines = samples[".log"].decode().splitlines(keepends=True)
    lines.insert(5, "garbage\n")
    path = tmp_path / "bad.log"
    path.write_text("".join(lines))
    dbc = str(Path(__file__).parents[2] / "dbc" / "keicar.dbc")
    r = CliRunner().invoke(cli, ["decode", str(path), "--dbc", dbc, "--nl"])
    assert r.exit_code == 1
    assert "bad.log: cannot read this candump log at line 6, after 5 frames" in r.output
    r = CliRunner().invoke(cli, ["decode", str(path), "--dbc", dbc, "--nl", "--allow-damage"])
    assert r.exit_code == 0, r.output
    assert "bad.log: line 6: skipped (" in r.output
    assert f"of {N:,} frames" in r.output
