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

from collections.abc import Callable, Iterable
from typing import Any

from assessor.collectors.image.layer import Entry, LayerScan, describe
from assessor.collectors.limits import Limits
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


def _parent(path: str) -> str:
    cut = path.rfind("/")
    return path[:cut] if cut > 0 else ""


class _Tree:
    """The merged filesystem with an index of each directory's children, so that a whiteout
    or an opaque directory removes its subtree in time proportional to what it removes.

    Directories that no layer lists (``a/b`` of a lone member ``a/b/c``) are in the index
    too, as nodes without an entry."""

    def __init__(self) -> None:
        self.final: dict[str, Entry] = {}
        self.children: dict[str, set[str]] = {}
        self.linked: set[str] = set()  # paths in their parent's set of children
        self.symlinks: set[str] = set()

    def add(self, path: str, entry: Entry) -> None:
        self.final[path] = entry
        if entry.kind == "l":
            self.symlinks.add(path)
        else:
            self.symlinks.discard(path)
        # link the path, and any ancestor new to the index, to its parent
        while path and path not in self.linked:
            self.linked.add(path)
            parent = _parent(path)
            self.children.setdefault(parent, set()).add(path)
            path = parent

    def _drop(self, path: str) -> None:
        self.final.pop(path, None)
        self.symlinks.discard(path)
        self.linked.discard(path)

    def remove(self, path: str, *, keep_self: bool = False) -> None:
        """Delete ``path``'s subtree (all of it, or only what is below it)."""
        stack = list(self.children.pop(path, ()))
        while stack:
            p = stack.pop()
            stack.extend(self.children.pop(p, ()))
            self._drop(p)
        if not keep_self and path:
            self._drop(path)
            siblings = self.children.get(_parent(path))
            if siblings is not None:
                siblings.discard(path)


def _through_link(paths: Iterable[str], is_link: Callable[[str], bool]) -> tuple[str, str] | None:
    """The first (path, symlink) where a path lies under a symlink: each directory is looked
    at once, whatever the number of paths below it."""
    verdict: dict[str, str | None] = {"": None}

    def link_above(d: str) -> str | None:
        chain: list[str] = []
        while d not in verdict:
            chain.append(d)
            d = _parent(d)
        found = verdict[d]
        for c in reversed(chain):
            found = c if is_link(c) else found
            verdict[c] = found
        return found

    for p in paths:
        link = link_above(_parent(p))
        if link is not None:
            return p, link
    return None


def merge(layers: list[LayerScan]) -> dict[str, Entry]:
    """The final filesystem: path -> the entry a container sees.

    Linear in the number of entries: each layer costs its own entries plus what it removes."""
    tree = _Tree()
    final = tree.final
    for position, layer in enumerate(layers):
        what = describe(layer.digest, position)
        # a non-directory over a lower directory hides what was under that directory
        replaced = [
            p
            for p, e in layer.entries.items()
            if e.kind != "d" and (lower := final.get(p)) is not None and lower.kind == "d"
        ]
        for p in (*layer.whiteouts, *replaced):
            tree.remove(p)
        for p in layer.opaque:
            if p:  # an opaque marker at the root hides nothing (as before: report more)
                tree.remove(p, keep_self=True)
        entries = layer.entries

        def is_link(d: str, entries: dict[str, Entry] = entries) -> bool:
            # this layer's entry decides; a lower symlink replaced here is no longer a link
            e = entries.get(d)
            return e.kind == "l" if e is not None else d in tree.symlinks

        if tree.symlinks or any(e.kind == "l" for e in entries.values()):
            hit = _through_link(entries, is_link)
            if hit is not None:
                raise ImageError(f"{what}: {hit[0]} is written through the symlink {hit[1]}")
        for p, target in layer.pending_links.items():
            if target not in final:
                raise ImageError(f"{what}: hard link {p} -> {target}, a path in no layer below")
        for p, e in layer.entries.items():
            tree.add(p, e)
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

    return {
        "files": {
            "entries": len(final),
            "bytes": total,
            "setuid": _capped(setuid, limits),
            "world_writable": _capped(writable, limits),
            "devices": _capped(devices, limits),
        },
        "file_secrets": _capped(secrets, limits),
        "packages": _packages(packages),
        "ssh_server": ["/" + p for p in SSH_SERVERS if p in final],
    }


def _packages(packages: list[dict[str, Any]]) -> dict[str, Any]:
    """The package databases found, and the packages they list (a later database's version of
    a name wins)."""
    installed: dict[str, str] = {}
    managers = sorted({p["manager"] for p in packages})
    complete = all(p["packages"] is not None and not p["truncated"] for p in packages)
    for p in packages:
        for pkg in p["packages"] or []:
            installed[pkg["name"]] = pkg["version"]
    names = sorted(installed)
    return {
        "managers": managers,
        "databases": [
            {k: p[k] for k in ("manager", "path", "layer", "truncated")} for p in packages
        ],
        "complete": bool(packages) and complete,
        "count": len(names),
        "names": [f"{n} {installed[n]}".strip() for n in names],
    }
