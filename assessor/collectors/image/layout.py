"""OCI image layouts (``oci:DIR[:TAG]``): blobs read in place, never copied.

The directory is as hostile as any image: blob names come only from validated digests,
every file is opened without following symlinks and must be a regular file, and every
read is bounded.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

from assessor.collectors.image.layer import LayerScan, scan_layer
from assessor.collectors.image.resolve import (
    Platform,
    Resolved,
    descriptor,
    parse_object,
    resolve,
)
from assessor.collectors.image.stream import Budget, check_digest, digest_of, short
from assessor.collectors.limits import Limits
from assessor.errors import ImageError, TargetUnreachableError

REF_NAME = "org.opencontainers.image.ref.name"


def _open_beneath(root: str, rel: str) -> int:
    """Open ``root/rel`` without following a symlink at any step below ``root``."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    parts = rel.split("/")
    dirfd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts[:-1]:
            step = os.open(part, flags | os.O_DIRECTORY, dir_fd=dirfd)
            os.close(dirfd)
            dirfd = step
        return os.open(parts[-1], flags | os.O_NONBLOCK, dir_fd=dirfd)
    finally:
        os.close(dirfd)


@contextmanager
def open_regular(root: str, rel: str, what: str) -> Iterator[IO[bytes]]:
    """Open a file of the layout for reading: no symlinks on the way (none could lead out of
    the layout), no devices, FIFOs or sockets, and never blocking on open."""
    path = os.path.join(root, rel)
    try:
        fd = _open_beneath(root, rel)
    except FileNotFoundError:
        raise ImageError(f"{what}: missing ({path})") from None
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.ENOTDIR):
            raise ImageError(
                f"{what}: {path}: a symlink or not a directory on the way (refused: it could "
                "lead out of the layout)"
            ) from None
        raise ImageError(f"{what}: cannot open {path}: {e.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ImageError(f"{what}: {path} is not a regular file")
        f = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with f:
        yield f


def read_bounded(f: IO[bytes], limit: int, what: str, limit_name: str) -> bytes:
    data = f.read(limit + 1)
    if len(data) > limit:
        raise ImageError(f"{what}: larger than {limit_name} ({limit} bytes)")
    return data


@dataclass
class LayoutStore:
    root: str
    limits: Limits

    def _path(self, digest: str, what: str) -> str:
        algorithm, _, hexpart = check_digest(digest, what).partition(":")
        return f"blobs/{algorithm}/{hexpart}"

    def fetch(self, digest: str, limit: int, what: str, *, manifest: bool = False) -> bytes:
        name = "max_manifest_bytes" if manifest else "max_config_bytes"
        with open_regular(self.root, self._path(digest, what), f"{what} {short(digest)}") as f:
            data = read_bounded(f, limit, f"{what} {short(digest)}", name)
        if digest_of(data, digest.partition(":")[0]) != digest:
            raise ImageError(f"{what}: blob {short(digest)} does not match its digest")
        return data

    def scan(self, d: dict[str, Any], index: int, budget: Budget, what: str) -> LayerScan:
        digest = d["digest"]
        with open_regular(self.root, self._path(digest, what), what) as f:
            return scan_layer(
                f.read, index=index, digest=digest, size=d.get("size"), budget=budget, what=what
            )


@dataclass
class LayoutImage:
    name: str  # the ref name, or the manifest digest when it has none
    resolved: Resolved
    scans: list[LayerScan]


def _entries(
    root: str, tag: str | None, what: str, limits: Limits
) -> list[tuple[str, dict[str, Any]]]:
    if not os.path.isdir(root):
        raise TargetUnreachableError(f"{what}: {root} is not a directory")
    with open_regular(root, "oci-layout", f"{what}: oci-layout") as f:
        marker = parse_object(
            read_bounded(f, 4096, f"{what}: oci-layout", "4096"), f"{what}: oci-layout"
        )
    if not isinstance(marker.get("imageLayoutVersion"), str):
        raise ImageError(f"{what}: oci-layout has no imageLayoutVersion")
    with open_regular(root, "index.json", f"{what}: index.json") as f:
        index = parse_object(
            read_bounded(f, limits.max_manifest_bytes, f"{what}: index.json", "max_manifest_bytes"),
            f"{what}: index.json",
        )
    manifests = index.get("manifests")
    if not isinstance(manifests, list) or not manifests:
        raise ImageError(f"{what}: index.json lists no images")
    found: list[tuple[str, dict[str, Any]]] = []
    for i, m in enumerate(manifests[: limits.max_layers]):
        d = descriptor(m, f"{what}: index.json manifests[{i}]")
        annotations = d.get("annotations") if isinstance(d.get("annotations"), dict) else {}
        name = annotations.get(REF_NAME) if isinstance(annotations, dict) else None
        found.append((name if isinstance(name, str) else d["digest"], d))
    if tag is None:
        return found
    chosen = [(n, d) for n, d in found if n == tag]
    if not chosen:
        names = ", ".join(sorted({n for n, _ in found}))[:300]
        raise ImageError(f"{what}: no image tagged {tag!r} (found: {names})")
    return chosen


def read_layout(
    root: str, tag: str | None, platform: Platform, limits: Limits, what: str
) -> Iterator[LayoutImage | ImageError]:
    """Each image of the layout (or the one tagged ``tag``), or the error that stopped it."""
    store = LayoutStore(root, limits)
    for name, d in _entries(root, tag, what, limits):
        where = f"{what}:{name}" if not name.startswith("sha") else f"{what}@{short(name)}"
        try:
            data = store.fetch(d["digest"], limits.max_manifest_bytes, where, manifest=True)
            hint = d.get("mediaType", "")
            resolved = resolve(store, data, d["digest"], hint, platform, limits, where)
            budget = Budget(limits)
            scans = [
                store.scan(layer, i, budget, f"{where}: layer {i + 1} ({short(layer['digest'])})")
                for i, layer in enumerate(resolved.layers)
            ]
            yield LayoutImage(name, resolved, scans)
        except ImageError as e:
            yield e
