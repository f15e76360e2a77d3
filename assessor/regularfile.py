"""Reading a file someone else named, without trusting what it is.

A path from a user (a waivers file, an ARF file, attestation evidence) or from a target (an
offline root's daemon.json, the live daemon's --config-file) may name a FIFO that blocks an
open() forever, a device that never ends (/dev/zero), a folder, or a file that grows while it
is read. `read_regular` is the one way such a file is read: opened without blocking, checked
with fstat on what was opened (so what is checked is what is read), and read to at most
``limit`` bytes. Each caller words the refusal for its own user; the exceptions carry what it
needs (``kind``, ``size``).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

_KINDS = {
    stat.S_IFDIR: "a folder",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFLNK: "a symlink",
}


class NotRegularFileError(OSError):
    """The path names a folder, FIFO, device, socket (or a symlink where none is followed)."""

    def __init__(self, path: str | Path, mode: int) -> None:
        self.kind = _KINDS.get(stat.S_IFMT(mode), "not a regular file")
        super().__init__(f"{path} is {self.kind}, not a regular file")


class TooLargeError(OSError):
    """The file holds more than the limit (``size`` is None when it grew while being read)."""

    def __init__(self, path: str | Path, size: int | None, limit: int) -> None:
        self.size = size
        self.limit = limit
        shown = f"is {size} bytes," if size is not None else "grew while read:"
        super().__init__(f"{path} {shown} larger than {limit} bytes")


def read_regular(
    path: str | Path, limit: int, *, follow: bool = True
) -> tuple[bytes, os.stat_result]:
    """The bytes (at most ``limit``) and the fstat of the regular file at ``path``.

    Raises FileNotFoundError when absent, NotRegularFileError for anything but a regular file
    (with ``follow=False`` a symlink too, even to a regular file), TooLargeError past
    ``limit``, and OSError for what the system refuses.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        if not follow and os.path.islink(path):
            raise NotRegularFileError(path, stat.S_IFLNK) from e
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFileError(path, st.st_mode)
        if st.st_size > limit:
            raise TooLargeError(path, st.st_size, limit)
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, min(limit + 1 - size, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise TooLargeError(path, None, limit)
        return b"".join(chunks), st
    finally:
        os.close(fd)
