"""assessor's cache folder: data it can compute again, kept to make the next run faster.

What is cached is data, never code: the validated catalog (``catalog-*.json``) and the
analysis of engine images by image ID (``images/``). Each file is written whole (a temporary
file renamed), read only when this user owns it and nobody else can write it or its folder,
and pruned to the most recently used. ``ASSESSOR_CACHE_DIR`` moves the folder; set empty,
it turns every cache off.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from platformdirs import user_cache_dir


def folder(sub: str = "") -> Path | None:
    """The cache folder (or ``sub`` in it); None when caching is off."""
    base = os.environ.get("ASSESSOR_CACHE_DIR")
    if base == "":
        return None
    if base is None:
        base = user_cache_dir("assessor")
    return Path(base) / sub if sub else Path(base)


def trusted(path: Path) -> bool:
    """A cache file we may read: ours, and writable by nobody else (nor its folder)."""
    try:
        for p in (path, path.parent):
            st = p.stat()
            if st.st_uid != os.geteuid() or st.st_mode & 0o022:
                return False
    except OSError:
        return False
    return True


def read(path: Path, max_bytes: int) -> bytes | None:
    """The bytes of a trusted cache file of at most ``max_bytes``, marked as just used; None
    when it is absent, not trusted, too big or unreadable."""
    if not trusted(path):
        return None
    try:
        with path.open("rb") as f:
            body = f.read(max_bytes + 1)
        if len(body) > max_bytes:
            return None
        os.utime(path)  # recently used: kept by prune
    except OSError:
        return None
    return body


def write(path: Path, body: bytes) -> bool:
    """Write ``path`` whole (readable by this user only); False when the folder is not
    writable, which only costs speed."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem[:16]}-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(body)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError:
        return False
    return True


def prune(current: Path, pattern: str, keep: int, stale: tuple[str, ...] = ()) -> None:
    """Keep the ``keep`` most recently used files matching ``pattern`` beside ``current``
    (``current`` included); remove the rest, and every file matching a ``stale`` pattern."""
    try:
        entries = sorted(
            (p for p in current.parent.glob(pattern) if p != current),
            key=lambda p: p.stat().st_mtime,
            reverse=True,
        )
        old = [p for s in stale for p in current.parent.glob(s)]
        for p in [*entries[keep - 1 :], *old]:
            p.unlink(missing_ok=True)
    except OSError:
        return
