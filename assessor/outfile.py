"""Writing an output file (report, export, signature, catalog export, key) safely.

The bytes go to a new file with an unpredictable name in the destination's folder, created
with O_CREAT|O_EXCL|O_NOFOLLOW (``tempfile.mkstemp``), so nothing planted there (a symlink
at a guessed name) is ever written through; the file is flushed to disk, then renamed over
the destination in one step, so a reader sees the old file or the new one, never half of
one. A symlink at the destination itself is replaced by the new file; the file it pointed
to is left alone. Permissions: 0600 for private files (keys); otherwise an existing
destination keeps its permission bits, and a new one gets 0644 less the umask.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from assessor.errors import AssessorError


def check_destination(path: Path) -> None:
    """Refuse at once (before long work) a destination that cannot be written.

    The folder must exist and be writable; the destination, if present, must be a file or a
    symlink (a folder, a device, a FIFO or a socket is not replaced).
    """
    folder = path.parent
    try:
        st = folder.stat()
    except FileNotFoundError:
        raise AssessorError(
            f"{path}: cannot write: no such directory: {folder}",
            hint=f"create it first (mkdir -p {folder}) or give -o a path in an existing folder",
        ) from None
    except OSError as e:
        raise AssessorError(f"{path}: cannot write: {folder}: {e.strerror}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise AssessorError(f"{path}: cannot write: {folder} is not a folder")
    try:
        dest = path.lstat()
    except FileNotFoundError:
        dest = None
    except OSError as e:
        raise AssessorError(f"{path}: cannot write: {e.strerror}") from None
    if dest is not None and stat.S_ISDIR(dest.st_mode):
        raise AssessorError(
            f"{path}: is a folder; give a file name",
            hint=f"for example -o {path / ('FILE' + path.suffix)}",
        )
    if dest is not None and not (stat.S_ISREG(dest.st_mode) or stat.S_ISLNK(dest.st_mode)):
        raise AssessorError(
            f"{path}: not a regular file (a device, FIFO or socket is never replaced)",
            hint="give -o a file name (where the command allows it, -o - writes to standard "
            "output)",
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise AssessorError(
            f"{path}: cannot write: the folder {folder} is not writable by this user",
            hint="choose a folder you can write to",
        )


def _mode(path: Path, private: bool) -> int:
    if private:
        return 0o600
    try:
        st = path.lstat()
        if stat.S_ISREG(st.st_mode):
            return stat.S_IMODE(st.st_mode) & 0o777  # keep what the owner chose
    except OSError:
        pass
    umask = os.umask(0)
    os.umask(umask)
    return 0o644 & ~umask


def write_file(path: Path, data: bytes, *, private: bool = False) -> None:
    """Write ``data`` to ``path`` atomically without following any link (see module doc)."""
    check_destination(path)
    mode = _mode(path, private)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:100]}.", suffix=".tmp")
    except OSError as e:
        raise AssessorError(
            f"{path}: cannot write: cannot create a file in {path.parent}: {e.strerror}"
        ) from None
    try:
        try:
            os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as e:
        _unlink(tmp)
        raise AssessorError(f"{path}: cannot write: {e.strerror}") from None
    except BaseException:
        _unlink(tmp)
        raise
    _sync_folder(path.parent)


def _unlink(tmp: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(tmp)


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (best effort: some file systems refuse)."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
