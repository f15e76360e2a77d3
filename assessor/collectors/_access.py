"""How the host collector and the dockerd lookup reach a machine: its files, its /proc and
/sys, its programs and its name.

``LOCAL`` is this machine, read with the os module, ``read_regular`` and
assessor.collectors._proc, exactly as before there was a choice. An ``ssh://`` target reads
another machine through the same interface over SSH (assessor.collectors.ssh_access, the
``ssh`` extra): SFTP for files, a command for what has no file (``auditctl -l``).
"""

from __future__ import annotations

import os
import platform
import pwd
import stat
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from assessor.collectors import _proc
from assessor.collectors.base import read_live
from assessor.regularfile import read_regular


@dataclass(frozen=True, slots=True)
class Stat:
    """What the collectors use of a stat: type and permission bits, owner, size, mtime."""

    mode: int
    uid: int
    gid: int
    size: int
    mtime: float

    @classmethod
    def of(cls, st: os.stat_result) -> Stat:
        return cls(st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime)


class Access(ABC):
    """One machine's files and programs. Every method is bounded (size, count, time); a
    path that cannot be read raises OSError (FileNotFoundError when absent) unless the
    method says otherwise."""

    # this machine (a process here can be asked of its socket; netlink reaches its kernel)
    local: bool
    # how its files are read, for the evidence ("" for this machine)
    via: str

    @abstractmethod
    def lstat(self, path: str) -> Stat: ...

    @abstractmethod
    def stat(self, path: str) -> Stat: ...

    @abstractmethod
    def readlink(self, path: str) -> str: ...

    @abstractmethod
    def listdir(self, path: str, limit: int | None) -> list[str]:
        """At most ``limit`` names of the folder, in no particular order (None: all of them,
        on this machine only)."""

    @abstractmethod
    def read_file(self, path: str, limit: int, *, follow: bool = True) -> tuple[bytes, Stat]:
        """A regular file's bytes (at most ``limit``) and its stat, as
        assessor.regularfile.read_regular (NotRegularFileError, TooLargeError)."""

    @abstractmethod
    def read_live(self, path: str, limit: int = 4 << 20) -> str | None:
        """A /proc or /sys file's text (at most ``limit`` characters); None if unreadable."""

    def read_lives(self, paths: Sequence[str], limit: int) -> list[str | None]:
        """``read_live`` of each path (at once where the machine is far away)."""
        return [self.read_live(p, limit) for p in paths]

    def describe(self) -> dict[str, Any]:
        """How the machine was reached, for the evidence (nothing for this machine)."""
        return {}

    @abstractmethod
    def read_bytes(self, path: str, limit: int) -> bytes | None:
        """A /proc file's first ``limit`` bytes (cmdline, environ); None if unreadable."""

    def read_bytes_many(self, paths: Sequence[str], limit: int) -> list[bytes | None]:
        """``read_bytes`` of each path (at once where the machine is far away)."""
        return [self.read_bytes(p, limit) for p in paths]

    def readlinks(self, paths: Sequence[str]) -> list[str | None]:
        """Each link's text; None for one that cannot be read."""
        found: list[str | None] = []
        for path in paths:
            try:
                found.append(self.readlink(path))
            except OSError:
                found.append(None)
        return found

    @abstractmethod
    def can_read(self, path: str) -> bool: ...

    @abstractmethod
    def run(self, argv: list[str], timeout: float) -> _proc.Completed | None:
        """The program's exit code and output (bounded); None when missing, timed out, or
        not started."""

    @abstractmethod
    def which(self, name: str) -> str | None: ...

    @abstractmethod
    def node(self) -> str:
        """The machine's network name (``uname -n``)."""

    @abstractmethod
    def release(self) -> str:
        """The kernel release (``uname -r``)."""

    @abstractmethod
    def machine(self) -> str:
        """The hardware name (``uname -m``)."""

    @abstractmethod
    def clock_ticks(self) -> int:
        """Clock ticks per second (the unit of /proc/PID/stat's start time)."""

    @abstractmethod
    def home_of(self, uid: int) -> str | None:
        """The home folder of the user ``uid`` (/etc/passwd)."""

    def exists(self, path: str) -> bool:
        """Whether ``path`` exists (links followed), as os.path.exists."""
        try:
            self.stat(path)
        except (OSError, ValueError):
            return False
        return True

    def lexists(self, path: str) -> bool:
        try:
            self.lstat(path)
        except (OSError, ValueError):
            return False
        return True

    def isdir(self, path: str) -> bool:
        try:
            return stat.S_ISDIR(self.stat(path).mode)
        except (OSError, ValueError):
            return False

    def isfile(self, path: str) -> bool:
        try:
            return stat.S_ISREG(self.stat(path).mode)
        except (OSError, ValueError):
            return False


class LocalAccess(Access):
    """This machine."""

    local = True
    via = ""

    def lstat(self, path: str) -> Stat:
        return Stat.of(os.lstat(path))

    def stat(self, path: str) -> Stat:
        return Stat.of(os.stat(path))

    def readlink(self, path: str) -> str:
        return os.readlink(path)

    def listdir(self, path: str, limit: int | None) -> list[str]:
        names = os.listdir(path)
        return names if limit is None else names[:limit]

    def read_file(self, path: str, limit: int, *, follow: bool = True) -> tuple[bytes, Stat]:
        data, st = read_regular(path, limit, follow=follow)
        return data, Stat.of(st)

    def read_live(self, path: str, limit: int = 4 << 20) -> str | None:
        return read_live(path, limit)

    def read_bytes(self, path: str, limit: int) -> bytes | None:
        try:
            with open(path, "rb") as f:
                return f.read(limit)
        except OSError:
            return None

    def can_read(self, path: str) -> bool:
        return os.access(path, os.R_OK)

    def run(self, argv: list[str], timeout: float) -> _proc.Completed | None:
        return _proc.run(argv, timeout)

    def which(self, name: str) -> str | None:
        return _proc.which(name)

    def node(self) -> str:
        return platform.node()

    def release(self) -> str:
        return platform.release()

    def machine(self) -> str:
        return platform.machine()

    def clock_ticks(self) -> int:
        return os.sysconf("SC_CLK_TCK")

    def home_of(self, uid: int) -> str | None:
        try:
            return pwd.getpwuid(uid).pw_dir
        except (KeyError, OverflowError):
            return None


LOCAL = LocalAccess()

__all__ = ["LOCAL", "Access", "LocalAccess", "Stat"]
