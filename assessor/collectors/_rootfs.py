"""Read files under a root directory without ever leaving it.

For ``host:/`` this is the live filesystem. For ``host:/some/root`` (an offline root, a
mounted image of another machine) every symlink is resolved *inside* the root, so an absolute
link such as ``etc/docker -> /etc/shadow-dir`` cannot make assessor read the scanning host.
"""

from __future__ import annotations

import os
import stat
from pathlib import PurePosixPath
from typing import Any

from assessor.collectors._access import LOCAL, Access
from assessor.regularfile import NotRegularFileError, TooLargeError

MAX_SYMLINKS = 40
MAX_READ = 1 << 20  # files read whole (daemon.json, unit files, audit rules) are capped at 1 MiB

_TYPES = {
    stat.S_IFREG: "file",
    stat.S_IFDIR: "directory",
    stat.S_IFLNK: "symlink",
    stat.S_IFSOCK: "socket",
    stat.S_IFIFO: "fifo",
    stat.S_IFCHR: "char-device",
    stat.S_IFBLK: "block-device",
}


class RootFS:
    """``root`` read through ``access``: this machine's files, or (over SSH) another's, whose
    root is always ``/`` and live."""

    def __init__(self, root: str, access: Access = LOCAL) -> None:
        self.root = os.path.normpath(root)
        self.live = self.root == "/"
        self.access = access
        self._users: dict[int, str] | None = None
        self._groups: dict[int, str] | None = None

    def real(self, path: str) -> str | None:
        """The real path of ``path`` (absolute, as seen inside the root), symlinks resolved
        inside the root; None when a component is missing or links loop."""
        a = self.access
        if self.live and a.local:
            real = os.path.realpath(path)
            return real if os.path.lexists(real) else None
        parts = list(PurePosixPath("/" + path.lstrip("/")).parts[1:])
        resolved: list[str] = []
        hops = 0
        while parts:
            part = parts.pop(0)
            if part in ("", "."):
                continue
            if part == "..":
                if resolved:
                    resolved.pop()
                continue
            host_path = os.path.join(self.root, *resolved, part)
            try:
                st = a.lstat(host_path)
            except OSError:
                return None
            if stat.S_ISLNK(st.mode):
                hops += 1
                if hops > MAX_SYMLINKS:
                    return None
                link = a.readlink(host_path)
                if link.startswith("/"):
                    resolved = []
                parts = list(PurePosixPath(link).parts[1 if link.startswith("/") else 0 :]) + parts
                continue
            resolved.append(part)
        return "/" + "/".join(resolved)

    def host_path(self, path: str) -> str | None:
        real = self.real(path)
        if real is None:
            return None
        return real if self.live else os.path.join(self.root, real.lstrip("/"))

    def stat(self, path: str) -> dict[str, Any]:
        """Mode, owner and type of ``path`` (following links inside the root)."""
        info: dict[str, Any] = {"path": path}
        parent = self.real(os.path.dirname(path) or "/")
        if parent is None:
            info["exists"] = False
            return info
        own = os.path.join(parent, os.path.basename(path))
        try:
            lst = self.access.lstat(own if self.live else os.path.join(self.root, own.lstrip("/")))
        except FileNotFoundError:
            info["exists"] = False
            return info
        except OSError as e:
            info.update(exists=None, error=e.strerror or str(e))
            return info
        host_path = self.host_path(path)
        if host_path is None:
            info.update(exists=False, dangling_link=True)
            return info
        try:
            st = self.access.stat(host_path)
        except OSError as e:
            info.update(exists=None, error=e.strerror or str(e))
            return info
        info.update(
            exists=True,
            type=_TYPES.get(stat.S_IFMT(st.mode), "other"),
            mode=f"{stat.S_IMODE(st.mode):04o}",
            uid=st.uid,
            gid=st.gid,
            user=self.user_name(st.uid),
            group=self.group_name(st.gid),
            size=st.size,
        )
        if stat.S_ISLNK(lst.mode):
            info["link_target"] = self.real(path)
        return info

    def read_text(self, path: str, limit: int = MAX_READ) -> str | None:
        """The file's text (at most ``limit`` bytes, else OSError), None when absent."""
        host_path = self.host_path(path)
        if host_path is None or not self.access.isfile(host_path):
            return None
        # a FIFO or a device put there after the check must not stall the scan (nor a link
        # swapped in, on an offline root)
        try:
            data, _ = self.access.read_file(host_path, limit, follow=self.live)
        except NotRegularFileError as e:  # named by its path in the root, as users know it
            raise OSError(f"{path} is {e.kind}, not a regular file") from None
        except TooLargeError:
            raise OSError(f"{path} is larger than {limit} bytes") from None
        return data.decode("utf-8", "replace")

    def listdir(self, path: str, limit: int = 10_000) -> list[str]:
        host_path = self.host_path(path)
        if host_path is None or not self.access.isdir(host_path):
            return []
        try:
            # this machine's are sorted before the bound (the same names every time); a
            # remote folder is read to the bound only
            names = sorted(self.access.listdir(host_path, None if self.access.local else limit))
        except OSError:
            return []
        return names[:limit]

    def exists(self, path: str) -> bool:
        return self.host_path(path) is not None

    def _table(self, file: str) -> dict[int, str]:
        table: dict[int, str] = {}
        try:
            text = self.read_text(file) or ""
        except OSError:
            return table
        for line in text.splitlines():
            fields = line.split(":")
            if len(fields) >= 3 and fields[2].isdigit():
                table.setdefault(int(fields[2]), fields[0])
        return table

    def user_name(self, uid: int) -> str | None:
        if self._users is None:
            self._users = self._table("/etc/passwd")
        return self._users.get(uid)

    def group_name(self, gid: int) -> str | None:
        if self._groups is None:
            self._groups = self._table("/etc/group")
        return self._groups.get(gid)
