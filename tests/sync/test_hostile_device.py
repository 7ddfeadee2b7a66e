"""A lying device writes nothing outside the archive folder (issue 14).

Every name a device lists must be a segment name (BBBBSSSS.KLG), its id a plain
folder name, its HELLO fields in range; anything else is a one-line error naming the
port and the device, raised before a byte is written.
"""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from keilog import store
from keilog.cli.main import cli
from keilog.errors import KeilogError
from keilog.sync import (
    Archive,
    DeviceClient,
    DeviceError,
    InvalidReplyError,
    SyncError,
    sync,
    sync_port,
)

from tests.sync.conftest import LoggedRun
from tests.sync.liar import Liar, LiarLink, LiarOnPty, Segment

VICTIM = b"the user's own file\n"


def tree(root: Path) -> dict[str, bytes]:
    """Every file under root with its bytes (symbolic links as their target)."""
    return {
        str(p.relative_to(root)): p.read_bytes() if p.is_file() else b"<dir>"
        for p in sorted(root.rglob("*"))
    }


def run_sync(liar: Liar, work: Path) -> None:
    into = work / "home" / "into"
    db = store.open_db(work / "k.db")
    try:
        client = DeviceClient(LiarLink(liar), "/dev/liar", timeout=0.05, retries=1)
        sync(client, Archive(into), db)
    finally:
        db.close()


def home(work: Path) -> Path:
    h = work / "home"
    (h / "into").mkdir(parents=True)
    (h / "victim.txt").write_bytes(VICTIM)
    (h / "into" / "index.jsonl").write_bytes(b"")
    return h


@pytest.mark.parametrize(
    ("device_id", "name", "sealed"),
    [
        (b"..", b"victim.txt", False),
        (b"..", b"victim.txt", True),
        (b"..", b"..", False),
        (b"liar-unit", b"index.jsonl", True),
        (b"liar-unit", b"../victim.txt", False),
        (b"../..", b"00010001.KLG", False),
        (b"a/b", b"00010001.KLG", False),
        (b".", b"00010001.KLG", False),
        (b"", b"00010001.KLG", False),
        (b"unit\x1b[2J", b"00010001.KLG", False),
        (b"liar-unit", b"0001000a.KLG", False),
        (b"liar-unit", b"00010001.klg", False),
        (b"liar-unit", b"\x00", True),
    ],
)
def test_a_lying_device_is_refused_before_anything_is_written(
    tmp_path: Path, device_id: bytes, name: bytes, sealed: bool
) -> None:
    h = home(tmp_path)
    before = tree(h)
    liar = Liar(device_id=device_id, segments=[Segment(name, b"the device's bytes", sealed)])
    with pytest.raises(InvalidReplyError) as exc:
        run_sync(liar, tmp_path)
    message = str(exc.value)
    assert "\n" not in message
    assert message.startswith("/dev/liar")
    assert "nothing" in message
    assert tree(h) == before
    assert liar.requests.count(liar.p.READ) == 0


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("max_data", 0, "max_data 0"),
        ("max_data", 16376, "max_data 16376"),
        ("mono_lo", 1 << 30, "monotonic"),
        ("utc", (1, 20000, 86_400_000, 0), "UTC ms of day"),
        ("free_kib", 300, "300 KiB free of 200"),
        ("board", b"unix\x07", "board"),
    ],
)
def test_a_hello_out_of_range_is_refused_naming_the_field(
    tmp_path: Path, field: str, value: object, says: str
) -> None:
    h = home(tmp_path)
    before = tree(h)
    liar = Liar(segments=[Segment(b"00010001.KLG", b"x")])
    setattr(liar, field, value)
    with pytest.raises(InvalidReplyError, match=f"/dev/liar: device liar-unit: .*{says}"):
        run_sync(liar, tmp_path)
    assert tree(h) == before


def test_names_that_do_not_increase_are_refused(tmp_path: Path) -> None:
    home(tmp_path)
    liar = Liar(segments=[Segment(b"00010002.KLG", b"a", False), Segment(b"00010001.KLG", b"b")])
    with pytest.raises(InvalidReplyError, match=r"listed 00010001\.KLG after 00010002\.KLG"):
        run_sync(liar, tmp_path)


def test_a_rotate_that_names_no_segment_is_refused(tmp_path: Path) -> None:
    home(tmp_path)
    with pytest.raises(InvalidReplyError, match=r"sealed a segment named '\.\./\.\./x'"):
        run_sync(Liar(rotate_name=b"../../x"), tmp_path)


def test_an_honest_liar_syncs_real_segments(tmp_path: Path, logged: LoggedRun) -> None:
    """The control: the same fake device with real names and bytes is synced."""
    h = home(tmp_path)
    data = (logged.folder / logged.names[0]).read_bytes()
    liar = Liar(segments=[Segment(logged.names[0].encode(), data)])
    run_sync(liar, tmp_path)
    sha = hashlib.sha256(data).hexdigest()
    assert (h / "into" / f"{sha}.KLG").read_bytes() == data
    assert (h / "victim.txt").read_bytes() == VICTIM
    assert liar.segments[0].acked


def test_the_archive_refuses_a_path_that_leaves_it(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "into")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "into" / ".partial").mkdir()
    (tmp_path / "into" / ".partial" / "unit").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(SyncError, match="outside the archive folder"):
        archive.open_partial("unit", "00010001.KLG", 0)
    with pytest.raises(SyncError, match="cannot name a file"):
        archive.partial_path("..", "00010001.KLG")
    with pytest.raises(SyncError, match="not a SHA-256"):
        archive.object_path("../victim")
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_keilog_sync_from_a_lying_device_on_a_pty_is_a_one_line_error(tmp_path: Path) -> None:
    h = home(tmp_path)
    before = tree(h)
    liar = Liar(device_id=b"..", segments=[Segment(b"victim.txt", b"pwned\n", False)])
    with LiarOnPty(liar) as pty:
        args = ["sync", "--port", pty.path, "--into", str(h / "into")]
        result = CliRunner().invoke(cli, [*args, "--db", str(tmp_path / "k.db"), "-q"])
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"Error: {pty.path}: the device calls itself '..'")
    assert tree(h) == before


_ids = st.one_of(
    st.sampled_from([b"liar-unit", b"..", b".", b"a/b", b"", b"x" * 16]),
    st.binary(max_size=16),
)
_names = st.one_of(
    st.sampled_from([b"00010001.KLG", b"victim.txt", b"..", b"index.jsonl", b"../00000001.KL"]),
    st.binary(max_size=12),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    device_id=_ids,
    name=_names,
    sealed=st.booleans(),
    hashed=st.booleans(),
    max_data=st.sampled_from([0, 1, 63, 64, 4096, 16375, 16376, 65535]),
    data=st.binary(max_size=300),
)
def test_fuzz_a_lying_device_never_writes_outside_into(
    tmp_path_factory: pytest.TempPathFactory,
    device_id: bytes,
    name: bytes,
    sealed: bool,
    hashed: bool,
    max_data: int,
    data: bytes,
) -> None:
    work = tmp_path_factory.mktemp("fuzz")
    h = home(work)
    outside = {k: v for k, v in tree(h).items() if not k.startswith("into")}
    liar = Liar(
        device_id=device_id,
        max_data=max_data,
        segments=[Segment(name, data, sealed, hashed)],
    )
    try:
        run_sync(liar, work)
    except KeilogError as exc:
        assert "\n" not in str(exc)
    after = {k: v for k, v in tree(h).items() if not k.startswith("into")}
    assert after == outside


@pytest.mark.parametrize(
    ("config", "says"),
    [
        (b"[" * 100_000, "nested more than 8 deep"),
        (b'{"a": {"b": ' * 50 + b"1" + b"}" * 100, "nested more than 8 deep"),
        (b"\xff\xfe not json", "not valid JSON"),
        (b"[1, 2]", "a config must be a JSON object"),
    ],
    ids=["deep", "deep-objects", "binary", "list"],
)
def test_a_lying_devices_config_is_our_error(config: bytes, says: str) -> None:
    from keilog.errors import ConfigError
    from keilog.sync.devconf import pull_config

    with LiarOnPty(Liar(config=config)) as pty, pytest.raises(ConfigError) as exc:
        pull_config(pty.path, timeout=0.5)
    assert str(exc.value).startswith(f"{pty.path}: the device's config")
    assert says in str(exc.value)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    command=st.sampled_from([0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0A, 0x0B]),
    payload=st.binary(max_size=200),
)
def test_fuzz_any_reply_payload_is_our_error_or_a_sync(
    tmp_path_factory: pytest.TempPathFactory, command: int, payload: bytes
) -> None:
    """Every command's reply replaced by arbitrary bytes (a HELLO that starts right, so
    the rest is parsed too): success or keilog's error, and nothing outside into/."""
    work = tmp_path_factory.mktemp("garble")
    h = home(work)
    outside = {k: v for k, v in tree(h).items() if not k.startswith("into")}
    liar = Liar(segments=[Segment(b"00010001.KLG", b"\x00" * 600)])
    if command == 0x01:
        payload = struct.pack("<HB", 1, 1) + payload
    liar.garble[command] = payload
    try:
        run_sync(liar, work)
    except KeilogError as exc:
        assert "\n" not in str(exc)
    assert {k: v for k, v in tree(h).items() if not k.startswith("into")} == outside


@pytest.mark.parametrize(
    "payload", [b"[" * 16000, b"\xff", b"[1]", b"1" * 5000], ids=["deep", "binary", "list", "huge"]
)
def test_lying_counters_are_a_device_error(payload: bytes) -> None:
    liar = Liar(garble={0x09: payload})
    client = DeviceClient(LiarLink(liar), "/dev/liar", timeout=0.05, retries=1)
    client.hello()
    with pytest.raises(DeviceError, match=r"^/dev/liar: device liar-unit: COUNTERS is"):
        client.counters()


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(device_id=_ids, name=_names, sealed=st.booleans(), data=st.binary(max_size=200))
def test_fuzz_a_lying_device_on_a_pty_through_sync_port(
    tmp_path_factory: pytest.TempPathFactory,
    device_id: bytes,
    name: bytes,
    sealed: bool,
    data: bytes,
) -> None:
    """The same property through the real serial path: keilog.sync.sync_port opens the
    pty by name with pyserial, as keilog sync opens /dev/ttyACM0."""
    work = tmp_path_factory.mktemp("pty")
    h = home(work)
    outside = {k: v for k, v in tree(h).items() if not k.startswith("into")}
    liar = Liar(device_id=device_id, segments=[Segment(name, data, sealed)])
    with LiarOnPty(liar) as pty:
        try:
            sync_port(pty.path, h / "into", work / "k.db", timeout=0.2, retries=1)
        except KeilogError as exc:
            assert "\n" not in str(exc)
    assert {k: v for k, v in tree(h).items() if not k.startswith("into")} == outside
