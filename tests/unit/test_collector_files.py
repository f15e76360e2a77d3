"""Files a collector opens by a name someone else chose: never a FIFO, a device or a socket,
never blocking on open, and JSON read within bounds (issue 17, items 5 and 9)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from assessor.collectors import _dockerd
from assessor.collectors._rootfs import RootFS
from assessor.collectors.image.archive import open_archive
from assessor.collectors.limits import Limits
from assessor.errors import ImageError, TargetUnreachableError


def test_the_live_daemon_config_is_read_only_from_a_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "daemon.fifo"
    os.mkfifo(fifo)
    assert _dockerd.read_config(str(fifo))[:2] == (None, f"{fifo}: not a regular file")
    assert _dockerd.read_config("/dev/zero")[1] == "/dev/zero: not a regular file"
    deep = tmp_path / "deep.json"
    deep.write_bytes(b'{"a":' * 10_000 + b"1" + b"}" * 10_000)
    config, error, _ = _dockerd.read_config(str(deep))
    assert config is None and error == f"{deep}: JSON nested deeper than 64 levels"
    huge = tmp_path / "huge.json"
    huge.write_bytes(b'{"max-concurrent-uploads": ' + b"9" * 5000 + b"}")
    assert "JSON number of 5000 digits" in str(_dockerd.read_config(str(huge))[1])


def test_an_offline_root_reads_only_regular_files(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    os.mkfifo(tmp_path / "etc/fifo")
    os.mknod(tmp_path / "etc/zero", 0o644 | 0o020000, os.makedev(1, 5))
    (tmp_path / "etc/file").write_text("text")
    fs = RootFS(str(tmp_path))
    assert fs.read_text("/etc/fifo") is None
    assert fs.read_text("/etc/zero") is None
    assert fs.read_text("/etc/file") == "text"


def test_an_archive_is_a_regular_file_or_an_inherited_pipe(tmp_path: Path) -> None:
    limits = Limits()
    fifo = tmp_path / "a.fifo"
    os.mkfifo(fifo)
    sock = tmp_path / "a.sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(sock))
        for path, kind in (
            ("/dev/zero", "a character device"),
            (str(fifo), "a FIFO"),
            (str(tmp_path), "a directory"),
            (str(sock), "a socket"),
        ):
            with (
                pytest.raises(ImageError, match=f"is {kind}"),
                open_archive(path, limits, "image:docker-archive:x"),
            ):
                pass
    big = tmp_path / "big.tar"
    with open(big, "wb") as f:
        f.truncate(3 << 20)
    small = limits.replace({"max_archive_bytes": 1 << 20})
    with (
        pytest.raises(ImageError, match="larger than max_archive_bytes"),
        open_archive(str(big), small, "x"),
    ):
        pass
    with open_archive(str(big), limits, "x") as f:
        assert f.read(4) == bytes(4)
    with (
        pytest.raises(TargetUnreachableError, match="no such file"),
        open_archive(str(tmp_path / "missing.tar"), limits, "x"),
    ):
        pass
    read, write = os.pipe()
    os.write(write, b"tar")
    os.close(write)
    try:
        with open_archive(f"/dev/fd/{read}", limits, "x") as f:
            assert f.read() == b"tar"
    finally:
        os.close(read)
