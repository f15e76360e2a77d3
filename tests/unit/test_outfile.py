"""assessor/outfile.py: outputs written atomically, never through a link (issue 17, item 7)."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from assessor.errors import AssessorError
from assessor.outfile import write_file


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_file_is_0644_less_the_umask(tmp_path: Path) -> None:
    write_file(tmp_path / "r.json", b"{}")
    assert _mode(tmp_path / "r.json") == 0o644 & ~_umask()
    old = os.umask(0o077)
    try:
        write_file(tmp_path / "s.json", b"{}")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "s.json") == 0o600


def test_existing_permissions_are_kept_and_keys_are_private(tmp_path: Path) -> None:
    dest = tmp_path / "r.html"
    dest.write_bytes(b"old")
    dest.chmod(0o640)
    write_file(dest, b"new")
    assert dest.read_bytes() == b"new" and _mode(dest) == 0o640
    write_file(dest, b"key", private=True)
    assert _mode(dest) == 0o600


def test_a_symlink_at_the_destination_is_replaced_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"secret")
    victim.chmod(0o600)
    (tmp_path / "out").mkdir()
    dest = tmp_path / "out" / "r.pdf"
    dest.symlink_to(victim)
    write_file(dest, b"%PDF")
    assert victim.read_bytes() == b"secret" and _mode(victim) == 0o600
    assert not dest.is_symlink() and dest.read_bytes() == b"%PDF"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["r.pdf"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = tmp_path / "r.csv"
    dest.write_bytes(b"old")

    def full(fd: int, data: object) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(AssessorError, match=r"r\.csv: cannot write: No space left on device"):
        write_file(dest, b"new")
    assert dest.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.csv"]


@pytest.mark.parametrize(
    ("make", "want"),
    [
        (lambda p: None, "no such directory"),
        (lambda p: p.parent.mkdir() or p.mkdir(), "is a folder; give a file name"),
        (lambda p: p.parent.mkdir() or os.mkfifo(p), "not a regular file"),
        (lambda p: p.parent.write_text("x"), "is not a folder"),
    ],
)
def test_destinations_that_cannot_be_written(tmp_path: Path, make: object, want: str) -> None:
    dest = tmp_path / "d" / "out.xml"
    make(dest)  # type: ignore[operator]
    with pytest.raises(AssessorError) as e:
        write_file(dest, b"x")
    assert want in e.value.message and "\n" not in e.value.message


def _umask() -> int:
    old = os.umask(0)
    os.umask(old)
    return old
