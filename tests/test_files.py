"""Every file mxsync writes lands in a regular file: a FIFO, directory or socket at the path
is refused and left as it was, a character device such as /dev/null is written through and
stays a device, and `import -o` does not replace an existing file without --force."""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from mxsync.errors import MxsyncError
from mxsync.files import append_text, atomic_write
from mxsync.secrets import SENSITIVE, isolated_registry, register
from tests.cli_helpers import mxsync, write_manifest
from tests.conftest import OrgFactory

WRITERS = [pytest.param(atomic_write, id="atomic_write"), pytest.param(append_text, id="append")]


@pytest.fixture
def odd_paths(tmp_path: Path) -> Iterator[dict[str, Path]]:
    fifo, folder, sock_path = tmp_path / "fifo", tmp_path / "folder", tmp_path / "sock"
    os.mkfifo(fifo)
    folder.mkdir()
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(sock_path))
    try:
        yield {"a FIFO": fifo, "a directory": folder, "a socket": sock_path}
    finally:
        sock.close()


def _kind(path: Path) -> int:
    return stat.S_IFMT(os.lstat(path).st_mode)


@pytest.mark.parametrize("write", WRITERS)
def test_a_fifo_directory_or_socket_is_refused_and_left_as_it_is(
        write: object, odd_paths: dict[str, Path]) -> None:
    for what, path in odd_paths.items():
        before = _kind(path)
        with pytest.raises(MxsyncError) as info:
            write(path, "text")  # type: ignore[operator]
        assert f"it is {what}" in str(info.value) and "regular file" in str(info.value)
        assert _kind(path) == before
    assert not list((odd_paths["a directory"]).iterdir())


@pytest.mark.parametrize("write", WRITERS)
def test_dev_null_is_written_through_never_replaced(write: object) -> None:
    write(Path(os.devnull), "text\n")  # type: ignore[operator]
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


def test_a_regular_file_is_replaced_unless_told_not_to(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    atomic_write(path, "one", mode=0o600)
    atomic_write(path, "two", mode=0o600)
    assert path.read_text() == "two" and stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(MxsyncError, match="--force"):
        atomic_write(path, "three", replace=False)
    assert path.read_text() == "two"
    append_text(path, "+more")
    assert path.read_text() == "two+more"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]  # no temporary file left


def test_what_is_written_is_redacted(tmp_path: Path) -> None:
    with isolated_registry():
        register("qwertyuiopasdfghjklzxcv")
        atomic_write(tmp_path / "a", "label: QWERTYUIOPASDFGHJKLZXCV\n")
        append_text(tmp_path / "b", "echo: cXdlcnR5dWlvcGFzZGZnaGprbHp4Y3Y=\n")
    assert (tmp_path / "a").read_text() == f"label: {SENSITIVE}\n"
    assert "cXdlcnR5dWlvcGFz" not in (tmp_path / "b").read_text()


def test_plan_out_and_import_o_refuse_odd_targets_and_existing_files(
        new_org: OrgFactory, tmp_path: Path) -> None:
    org = new_org()
    env = {"MODULEX_BASE_URL": org.url, "MODULEX_API_KEY": org.token, "K": "xai-" + "k" * 40}
    path = write_manifest(tmp_path / "m.yaml", [{"id": org.id, "xai": {"credentials": [
        {"name": "a", "api_key_env": "K"}]}}])
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for args in (("plan", "-f", path, "--out", str(fifo)), ("import", "--org", org.id, "-o", str(fifo))):
        run = mxsync(*args, env=env)
        assert run.code == 1 and "it is a FIFO" in run.err and "Traceback" not in run.err, run.both
        assert stat.S_ISFIFO(os.lstat(fifo).st_mode)

    imported = tmp_path / "imported.yaml"
    imported.write_text("mine\n")
    refused = mxsync("import", "--org", org.id, "-o", str(imported), env=env)
    assert refused.code == 1 and "exists" in refused.err and "--force" in refused.err
    assert imported.read_text() == "mine\n"
    forced = mxsync("import", "--org", org.id, "-o", str(imported), "--force", env=env)
    assert forced.code == 0, forced.both
    assert org.id in imported.read_text()

    through = mxsync("import", "--org", org.id, "-o", os.devnull, env=env)
    assert through.code == 0, through.both
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
