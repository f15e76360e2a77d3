"""``docker save`` archives, from a file or streamed from the Engine API, read in one pass.

The archive is a tar of tars. Its members are read in the order they arrive: small JSON
documents are kept (bounded), every layer is scanned as it streams past, and only at the
end does ``manifest.json`` say which layers, in which order, make which image. Both the
Docker 20.10 layout (``<id>/layer.tar``) and the OCI layout Docker 25 writes
(``blobs/sha256/<hex>``, still with a ``manifest.json``) are read, and Podman's
(``<digest>.tar``); a gzip-compressed archive (``docker save | gzip``) too.
"""

from __future__ import annotations

import os
import posixpath
import re
import stat
import tarfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any

from assessor import jsonsafe
from assessor.collectors.image.layer import LayerScan, member_path, scan_layer
from assessor.collectors.image.resolve import parse_object
from assessor.collectors.image.stream import CORRUPT, Blob, Budget, Plain, decoder, digest_of
from assessor.collectors.limits import Limits
from assessor.errors import ImageError, TargetUnreachableError

_BLOB = re.compile(r"^blobs/(sha256|sha512)/([0-9a-f]{64}|[0-9a-f]{128})$")
_CONFIG_NAME = re.compile(r"^([0-9a-f]{64})\.json$")
_JSON_NAMES = ("manifest.json", "index.json", "repositories", "oci-layout")


@dataclass
class ArchiveImage:
    config: dict[str, Any]
    config_digest: str
    repo_tags: list[str]
    scans: list[LayerScan]


@dataclass
class _Contents:
    docs: dict[str, bytes] = field(default_factory=dict)
    layers: dict[str, LayerScan] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)  # member -> member it links to
    doc_bytes: int = 0


# a pipe the shell handed over (``docker save app | assessor scan
# image:docker-archive:/dev/stdin``, or ``<(docker save app)``): streamed, never a named FIFO
_INHERITED_PIPE = re.compile(r"^/(?:dev/stdin|dev/fd/\d+|proc/self/fd/\d+)$")
_KINDS = {
    stat.S_IFDIR: "a directory (for an OCI layout use image:oci:)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
}
PADDING = 1 << 20  # zero bytes accepted after the archive's end marker (tar pads to 10 KiB)


def _refuse(path: str, mode: int, what: str) -> ImageError:
    kind = _KINDS.get(stat.S_IFMT(mode), "not a regular file")
    return ImageError(f"{what}: {path} is {kind}; a docker-archive must be a regular file")


@contextmanager
def open_archive(path: str, limits: Limits, what: str) -> Iterator[IO[bytes]]:
    """The archive file, opened without blocking: a regular file within max_archive_bytes,
    or a pipe given as /dev/stdin or /dev/fd/N. Devices, FIFOs, sockets and directories are
    refused before a byte is read."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise TargetUnreachableError(f"{what}: cannot open {path}: no such file") from None
    except OSError as e:
        raise TargetUnreachableError(f"{what}: cannot open {path}: {e.strerror}") from None
    pipe = stat.S_ISFIFO(st.st_mode) and bool(_INHERITED_PIPE.match(path))
    if not stat.S_ISREG(st.st_mode) and not pipe:
        raise _refuse(path, st.st_mode, what)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise TargetUnreachableError(f"{what}: cannot open {path}: {e.strerror}") from None
    try:
        st = os.fstat(fd)  # what was opened, not what was looked at
        if not stat.S_ISREG(st.st_mode) and not (pipe and stat.S_ISFIFO(st.st_mode)):
            raise _refuse(path, st.st_mode, what)
        if stat.S_ISREG(st.st_mode) and st.st_size > limits.max_archive_bytes:
            raise ImageError(
                f"{what}: {path} is {st.st_size} bytes, larger than max_archive_bytes "
                f"({limits.max_archive_bytes})"
            )
        os.set_blocking(fd, True)
        f = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with f:
        yield f


def _is_json_name(path: str) -> bool:
    return path in _JSON_NAMES or path.endswith(".json") or path.endswith("/json")


def _read_members(read: Callable[[int], bytes], limits: Limits, what: str) -> _Contents:
    # the archive's own digest is never asked for (each layer in it is verified): not hashed
    outer = Blob(
        read, digest=None, size=None, limit=limits.max_archive_bytes, what=what, hashed=False
    )
    _, decoded = decoder(outer)
    plain = Plain(decoded, outer, Budget(limits), what, hashed=False)
    budget = Budget(limits)
    out = _Contents()
    tf = tarfile.TarFile(fileobj=plain, mode="r")  # type: ignore[arg-type]
    while True:
        ti = tf.next()
        tf.members.clear()  # type: ignore[attr-defined]  # tarfile keeps every member
        if ti is None:
            break
        budget.add_entry(what)
        path = member_path(ti.name, what)
        if ti.issym() or ti.islnk():
            # docker save links a layer.tar shared by two images to the first copy
            base = posixpath.dirname(path) if ti.issym() else ""
            target = member_path(posixpath.join(base, ti.linkname), f"{what}: link {path}")
            out.links[path] = target
            continue
        if not ti.isfile():
            continue
        blob = _BLOB.match(path)
        f = tf.extractfile(ti)
        assert f is not None
        is_json = _is_json_name(path)
        if blob and not is_json:
            is_json = f.peek(1)[:1].lstrip() in (b"{", b"[")  # type: ignore[attr-defined]
        if is_json:
            if ti.size > limits.max_config_bytes:
                raise ImageError(
                    f"{what}: {path}: a JSON document of {ti.size} bytes exceeds "
                    f"max_config_bytes ({limits.max_config_bytes})"
                )
            out.doc_bytes += ti.size
            if out.doc_bytes > 8 * limits.max_config_bytes:
                raise ImageError(f"{what}: too many JSON documents (over 8 x max_config_bytes)")
            out.docs[path] = f.read(ti.size)
        elif blob or path.endswith(".tar"):  # <id>/layer.tar (Docker), <digest>.tar (Podman)
            digest = f"{blob.group(1)}:{blob.group(2)}" if blob else None
            out.layers[path] = scan_layer(
                f.read,
                index=len(out.layers),
                digest=digest,
                size=ti.size,
                budget=budget,
                what=f"{what}: {path}",
            )
    if not plain.rest_is_zero(PADDING):
        raise ImageError(
            f"{what}: invalid tar header, data or over {PADDING} bytes of padding after the end "
            "of the archive"
        )
    outer.drain()
    return out


def _resolve_member(out: _Contents, name: Any, what: str) -> str:
    if not isinstance(name, str):
        raise ImageError(f"{what}: manifest.json names a member that is not a string")
    path = member_path(name, f"{what}: manifest.json")
    seen = 0
    while path in out.links:
        path = out.links[path]
        seen += 1
        if seen > 8:
            raise ImageError(f"{what}: link loop at {name[:200]}")
    return path


def read_archive(read: Callable[[int], bytes], limits: Limits, what: str) -> list[ArchiveImage]:
    """Every image in the archive, each with its layers scanned and verified."""
    try:
        out = _read_members(read, limits, what)
    except (tarfile.TarError, EOFError) as e:
        raise ImageError(f"{what}: corrupt or truncated archive: {e}") from None
    except CORRUPT as e:
        raise ImageError(f"{what}: corrupt archive: {type(e).__name__}: {e}") from None
    raw = out.docs.get("manifest.json")
    if raw is None:
        raise ImageError(f"{what}: not a docker-archive (no manifest.json)")
    try:
        entries = jsonsafe.loads(raw)
    except jsonsafe.JSONBoundError as e:
        raise ImageError(f"{what}: manifest.json: {e}") from None
    except ValueError as e:
        raise ImageError(f"{what}: manifest.json is not valid JSON: {str(e)[:120]}") from None
    if not isinstance(entries, list) or not entries:
        raise ImageError(f"{what}: manifest.json lists no images")
    images: list[ArchiveImage] = []
    for n, entry in enumerate(entries):
        where = f"{what}: manifest.json[{n}]"
        if not isinstance(entry, dict):
            raise ImageError(f"{where}: not an object")
        config_path = _resolve_member(out, entry.get("Config"), where)
        data = out.docs.get(config_path)
        if data is None:
            raise ImageError(f"{where}: config {config_path[:200]} is not in the archive")
        expected = None
        if m := _BLOB.match(config_path):
            expected = f"{m.group(1)}:{m.group(2)}"
        elif m := _CONFIG_NAME.match(posixpath.basename(config_path)):
            expected = f"sha256:{m.group(1)}"
        digest = digest_of(data, expected.partition(":")[0] if expected else "sha256")
        if expected and digest != expected:
            raise ImageError(f"{where}: config {config_path} does not match its digest name")
        config = parse_object(data, f"{where}: config")
        layer_names = entry.get("Layers")
        if not isinstance(layer_names, list):
            raise ImageError(f"{where}: Layers is not a list")
        if len(layer_names) > limits.max_layers:
            raise ImageError(f"{where}: more than max_layers ({limits.max_layers}) layers")
        scans: list[LayerScan] = []
        for name in layer_names:
            path = _resolve_member(out, name, where)
            scan = out.layers.get(path)
            if scan is None:
                raise ImageError(f"{where}: layer {path[:200]} is not in the archive")
            scans.append(scan)
        tags = entry.get("RepoTags") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise ImageError(f"{where}: RepoTags is not a list of strings")
        images.append(ArchiveImage(config, digest, tags, scans))
    return images
