"""Layers merged into the image's final filesystem, and the file evidence drawn from it.

Merging follows the OCI layer rules: a ``.wh.NAME`` whiteout deletes NAME (and what is
under it) from the layers below, ``.wh..wh..opq`` empties its directory of what lower
layers put there, and an upper entry replaces a lower one at the same path. So the
evidence describes what a container of this image sees, and a setuid binary deleted by a
later layer is not reported.

Two layer shapes are refused because an unpacking tool could be turned by them into
writing outside its target: a member under a path that is a symlink (a write *through* a
link), and a hard link to a path that exists in no layer at or below it.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from typing import Any

from assessor.collectors.image.layer import Entry, LayerScan, describe
from assessor.collectors.image.limits import Limits
from assessor.errors import ImageError

SSH_SERVERS = (
    "usr/sbin/sshd",
    "sbin/sshd",
    "usr/bin/sshd",
    "usr/local/sbin/sshd",
    "usr/sbin/dropbear",
    "usr/bin/dropbear",
    "usr/sbin/in.telnetd",
    "usr/sbin/telnetd",
)

_KIND_NAMES = {
    "f": "file",
    "d": "directory",
    "h": "hard link",
    "c": "char device",
    "b": "block device",
}


def _ancestors(path: str) -> Iterable[str]:
    while True:
        path = posixpath.dirname(path)
        if not path:
            return
        yield path


def merge(layers: list[LayerScan]) -> dict[str, Entry]:
    """The final filesystem: path -> the entry a container sees."""
    final: dict[str, Entry] = {}
    symlinks: set[str] = set()
    for position, layer in enumerate(layers):
        what = describe(layer.digest, position)
        gone = set(layer.whiteouts)
        # a non-directory over a lower directory hides what was under that directory
        gone.update(
            p
            for p, e in layer.entries.items()
            if e.kind != "d" and (lower := final.get(p)) is not None and lower.kind == "d"
        )
        if gone or layer.opaque:
            opaque = layer.opaque
            for p in [
                p
                for p in final
                if p in gone or any(a in gone or a in opaque for a in _ancestors(p))
            ]:
                del final[p]
            symlinks = {p for p in symlinks if p in final}
        layer_links = {p for p, e in layer.entries.items() if e.kind == "l"}
        # a lower symlink replaced in this layer (by a directory, say) is no longer a link
        symlinks = {p for p in symlinks if p not in layer.entries} | layer_links
        links = symlinks
        if links:
            for p in layer.entries:
                for a in _ancestors(p):
                    if a in links:
                        raise ImageError(f"{what}: {p} is written through the symlink {a}")
        for p, target in layer.pending_links.items():
            if target not in final:
                raise ImageError(f"{what}: hard link {p} -> {target}, a path in no layer below")
        final.update(layer.entries)
    return final


def _item(path: str, e: Entry, digests: dict[int, str]) -> dict[str, Any]:
    return {
        "path": "/" + path,
        "type": _KIND_NAMES.get(e.kind, e.kind),
        "mode": f"{e.mode:04o}",
        "uid": e.uid,
        "gid": e.gid,
        "layer": digests[e.layer],
    }


def _capped(items: list[dict[str, Any]], limits: Limits) -> dict[str, Any]:
    items.sort(key=lambda i: str(i["path"]))
    return {
        "count": len(items),
        "items": items[: limits.max_findings],
        "truncated": len(items) > limits.max_findings,
    }


def file_evidence(
    layers: list[LayerScan], final: dict[str, Entry], limits: Limits
) -> dict[str, Any]:
    """``files``, ``secrets.files``, ``packages`` and ``ssh_server`` evidence of the image."""
    digests = {layer.index: layer.digest for layer in layers}
    setuid: list[dict[str, Any]] = []
    writable: list[dict[str, Any]] = []
    devices: list[dict[str, Any]] = []
    total = 0
    for path, e in final.items():
        if e.kind in ("f", "h"):
            total += e.size if e.kind == "f" else 0
            if e.mode & 0o6000:
                item = _item(path, e, digests)
                item["bits"] = "+".join(
                    b for b, m in (("setuid", 0o4000), ("setgid", 0o2000)) if e.mode & m
                )
                setuid.append(item)
        if e.kind in ("f", "h", "d") and e.mode & 0o002 and not (e.kind == "d" and e.mode & 0o1000):
            writable.append(_item(path, e, digests))
        if e.kind in ("c", "b"):
            devices.append(_item(path, e, digests))

    secrets: list[dict[str, Any]] = []
    packages: list[dict[str, Any]] = []
    for layer in {layer.index: layer for layer in layers}.values():  # a layer may repeat
        for path, found in layer.found.items():
            now = final.get(path)
            if now is None or now.layer != layer.index:
                continue  # deleted or replaced by a later layer
            for f in found:
                f = {**f, "path": "/" + path, "layer": layer.digest}
                (packages if f["kind"] == "packages" else secrets).append(f)

    installed: dict[str, str] = {}
    managers = sorted({p["manager"] for p in packages})
    complete = all(p["packages"] is not None and not p["truncated"] for p in packages)
    for p in packages:
        for pkg in p["packages"] or []:
            installed[pkg["name"]] = pkg["version"]
    names = sorted(installed)
    return {
        "files": {
            "entries": len(final),
            "bytes": total,
            "setuid": _capped(setuid, limits),
            "world_writable": _capped(writable, limits),
            "devices": _capped(devices, limits),
        },
        "file_secrets": _capped(secrets, limits),
        "packages": {
            "managers": managers,
            "databases": [
                {k: p[k] for k in ("manager", "path", "layer", "truncated")} for p in packages
            ],
            "complete": bool(packages) and complete,
            "count": len(names),
            "names": [f"{n} {installed[n]}".strip() for n in names],
        },
        "ssh_server": ["/" + p for p in SSH_SERVERS if p in final],
    }
