"""Another machine's files and programs over SSH (``ssh://[USER@]HOST[:PORT]``, the ``ssh``
extra): the host collector reads it as it reads this machine (assessor.collectors._access).

Nothing is installed there. Files, folders, links and /proc come through SFTP (the
``sftp-server`` subsystem OpenSSH ships); what has no file comes from a command run there
(``uname -m``, ``auditctl -l`` and ``-s``, since the kernel's audit list is read over
netlink, which does not cross SSH). With sudo (``?sudo=1`` or ``--ssh-sudo``), commands run
as ``sudo -n`` and the SFTP server itself is started through ``sudo -n``, so files only root
may read are read too; a refused sudo is one line saying so.

Every call is bounded: by ``--ssh-timeout`` (a host that stops answering ends the target with
that reason, never the scan), by size (``limit`` of each read, the output of a command), and
by count (folder entries, processes).
"""

from __future__ import annotations

import asyncio
import errno
import shlex
import stat
from collections.abc import Awaitable, Coroutine, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any, TypeVar

import asyncssh

from assessor.collectors import _proc
from assessor.collectors._access import Access, Stat
from assessor.collectors.engine_ssh import SshSession, _reason
from assessor.collectors.options import SshSettings
from assessor.errors import TargetUnreachableError
from assessor.regularfile import NotRegularFileError, TooLargeError
from assessor.targets import Target

_T = TypeVar("_T")

CHUNK = 32 << 10  # bytes per SFTP read (OpenSSH's sftp-server answers up to 256 KiB)
IN_FLIGHT = 32  # SFTP requests at once when many small files are read
MAX_CACHED = 100_000  # stats kept while a machine is read
# the connection itself is gone (not one file or command)
_LOST = (
    asyncssh.SFTPConnectionLost,
    asyncssh.SFTPNoConnection,
    asyncssh.DisconnectError,
    asyncssh.ChannelOpenError,
    ConnectionError,
)
# where OpenSSH's packages put the SFTP server (Debian, Red Hat, SUSE and Arch, Alpine)
SFTP_SERVERS = (
    "/usr/lib/openssh/sftp-server",
    "/usr/libexec/openssh/sftp-server",
    "/usr/lib/ssh/sftp-server",
    "/usr/libexec/sftp-server",
)
# where programs are looked up (a login's PATH over SSH often lacks the sbin folders)
PROGRAM_DIRS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


def _os_error(e: asyncssh.SFTPError, path: str) -> OSError:
    """An SFTP status as the OSError the same failure gives on this machine."""
    if isinstance(e, asyncssh.SFTPNoSuchFile | asyncssh.SFTPNoSuchPath):
        return FileNotFoundError(errno.ENOENT, "No such file or directory", path)
    if isinstance(e, asyncssh.SFTPPermissionDenied):
        return PermissionError(errno.EACCES, "Permission denied", path)
    if isinstance(e, asyncssh.SFTPNotADirectory):
        return NotADirectoryError(errno.ENOTDIR, "Not a directory", path)
    return OSError(errno.EIO, " ".join(str(e.reason or e).split()) or "SFTP error", path)


def _stat(attrs: asyncssh.SFTPAttrs) -> Stat:
    return Stat(
        attrs.permissions or 0,
        attrs.uid if attrs.uid is not None else -1,
        attrs.gid if attrs.gid is not None else -1,
        attrs.size or 0,
        float(attrs.mtime or 0),
    )


class SshAccess(Access):
    """The machine an SSH session is logged in to."""

    local = False

    def __init__(self, session: SshSession, sudo: bool, target: Target) -> None:
        self._session = session
        self._sudo = sudo
        self._target = target  # named by every error
        self.via = "over SSH" + (" with sudo -n" if sudo else "")
        self._sftp: asyncssh.SFTPClient | None = None
        self._uname: tuple[str, str, str] | None = None
        self._ticks: int | None = None
        self._passwd: dict[int, str] | None = None
        self._timeout = session.settings.timeout
        self._stats: dict[tuple[bool, str], Stat | OSError] = {}

    def start(self) -> SshAccess:
        """Check sudo (when asked for) and start the SFTP client."""
        self._call(self._start())
        return self

    def __enter__(self) -> SshAccess:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """End the SFTP session (the SSH connection stays the session's)."""
        sftp, self._sftp = self._sftp, None
        if sftp is not None:

            async def stop() -> None:
                sftp.exit()
                await sftp.wait_closed()

            with suppress(TargetUnreachableError, OSError, asyncssh.Error):
                self._run(stop(), self._timeout)

    def describe(self) -> dict[str, Any]:
        """How the machine was read, for the host's evidence."""
        return {
            **self._session.describe(),
            "files": "SFTP" + (" (sftp-server run with sudo -n)" if self._sudo else ""),
            "commands": "run over SSH" + (" with sudo -n" if self._sudo else ""),
            "sudo": self._sudo,
        }

    # -- files

    def lstat(self, path: str) -> Stat:
        return self._cached(path, follow=False)

    def stat(self, path: str) -> Stat:
        return self._cached(path, follow=True)

    def _cached(self, path: str, *, follow: bool) -> Stat:
        """A path's stat, asked once per read of the machine: resolving links inside the
        root looks at each folder of each path, and most paths share their folders (one
        round trip each, over a network)."""
        key = (follow, path)
        if key not in self._stats:
            if len(self._stats) >= MAX_CACHED:
                self._stats.clear()
            call = self.sftp.stat(path) if follow else self.sftp.lstat(path)
            try:
                self._stats[key] = _stat(self._file_call(call, path))
            except OSError as e:
                self._stats[key] = e
        found = self._stats[key]
        if isinstance(found, OSError):
            raise found
        return found

    def readlink(self, path: str) -> str:
        return str(self._file_call(self.sftp.readlink(path), path))

    def listdir(self, path: str, limit: int | None) -> list[str]:
        bound = 100_000 if limit is None else limit

        async def names() -> list[str]:
            found: list[str] = []
            async for entry in self.sftp.scandir(path):
                name = str(entry.filename)
                if name not in (".", ".."):
                    found.append(name)
                    if len(found) >= bound:
                        break
            return found

        return self._file_call(names(), path)

    def read_file(self, path: str, limit: int, *, follow: bool = True) -> tuple[bytes, Stat]:
        st = self.stat(path) if follow else self.lstat(path)
        if not stat.S_ISREG(st.mode):
            raise NotRegularFileError(path, st.mode)
        if st.size > limit:
            raise TooLargeError(path, st.size, limit)
        data = self._file_call(self._read(path, limit + 1), path)
        if len(data) > limit:
            raise TooLargeError(path, None, limit)
        return data, st

    def read_live(self, path: str, limit: int = 4 << 20) -> str | None:
        data = self.read_bytes(path, limit)
        return data.decode("utf-8", "replace") if data is not None else None

    def read_lives(self, paths: Sequence[str], limit: int) -> list[str | None]:
        return [
            d.decode("utf-8", "replace") if d is not None else None
            for d in self.read_bytes_many(paths, limit)
        ]

    def read_bytes(self, path: str, limit: int) -> bytes | None:
        try:
            return self._file_call(self._read(path, limit), path)
        except OSError:
            return None

    def read_bytes_many(self, paths: Sequence[str], limit: int) -> list[bytes | None]:
        """Many small files at once (/proc/PID/comm of every process): IN_FLIGHT requests
        at a time, the whole within the timeout for each batch of them."""
        gate = asyncio.Semaphore(IN_FLIGHT)

        async def one(path: str) -> bytes | None:
            async with gate:
                try:
                    return await self._read(path, limit)
                except _LOST:
                    raise
                except (asyncssh.SFTPError, OSError):
                    return None

        async def every() -> list[bytes | None]:
            return list(await asyncio.gather(*(one(p) for p in paths)))

        batches = 1 + len(paths) // IN_FLIGHT
        return self._run(every(), self._timeout * min(batches, 20))

    def readlinks(self, paths: Sequence[str]) -> list[str | None]:
        gate = asyncio.Semaphore(IN_FLIGHT)

        async def one(path: str) -> str | None:
            async with gate:
                try:
                    return str(await self.sftp.readlink(path))
                except _LOST:
                    raise
                except (asyncssh.SFTPError, OSError):
                    return None

        async def every() -> list[str | None]:
            return list(await asyncio.gather(*(one(p) for p in paths)))

        batches = 1 + len(paths) // IN_FLIGHT
        return self._run(every(), self._timeout * min(batches, 20))

    def can_read(self, path: str) -> bool:
        async def opens() -> bool:
            try:
                async with self.sftp.open(path, "rb"):
                    return True
            except asyncssh.SFTPError:
                return False

        return self._call(opens())

    # -- programs and names

    def run(self, argv: list[str], timeout: float) -> _proc.Completed | None:
        command = shlex.join(argv)
        if self._sudo:
            command = "sudo -n -- " + command
        return self._run(self._exec(command, timeout), timeout + self._timeout)

    def which(self, name: str) -> str | None:
        for folder in PROGRAM_DIRS:
            path = f"{folder}/{name}"
            try:
                st = self.stat(path)
            except OSError:
                continue
            if stat.S_ISREG(st.mode) and st.mode & 0o111:
                return path
        return None

    def node(self) -> str:
        return self._names()[0]

    def release(self) -> str:
        return self._names()[1]

    def machine(self) -> str:
        return self._names()[2]

    def clock_ticks(self) -> int:
        if self._ticks is None:
            done = self.run(["getconf", "CLK_TCK"], self._timeout)
            text = done.stdout.strip() if done is not None and done.returncode == 0 else ""
            self._ticks = int(text) if text.isdigit() and int(text) > 0 else 100  # Linux's USER_HZ
        return self._ticks

    def home_of(self, uid: int) -> str | None:
        if self._passwd is None:
            self._passwd = {}
            try:
                raw, _ = self.read_file("/etc/passwd", 4 << 20)
            except OSError:
                raw = b""
            for line in raw.decode("utf-8", "replace").splitlines():
                fields = line.split(":")
                if len(fields) >= 6 and fields[2].isdigit():
                    self._passwd.setdefault(int(fields[2]), fields[5])
        return self._passwd.get(uid)

    def _names(self) -> tuple[str, str, str]:
        """uname -n, -r and -m: the first two from /proc (as the kernel answers uname), the
        hardware name from ``uname -m`` run there."""
        if self._uname is None:
            node = (self.read_live("/proc/sys/kernel/hostname", 4096) or "").strip()
            release = (self.read_live("/proc/sys/kernel/osrelease", 4096) or "").strip()
            done = self.run(["uname", "-m"], self._timeout)
            machine = done.stdout.strip() if done is not None and done.returncode == 0 else ""
            self._uname = (node, release, machine)
        return self._uname

    # -- the coroutines, run on the session's loop

    @property
    def sftp(self) -> asyncssh.SFTPClient:
        if self._sftp is None:
            self._session.fail("the SFTP session is not open", self._target)
        assert self._sftp is not None
        return self._sftp

    def _call(self, coro: Awaitable[_T]) -> _T:
        return self._run(_wrap(coro), self._timeout)

    def _run(self, coro: Coroutine[Any, Any, _T], timeout: float) -> _T:
        """The coroutine's outcome within ``timeout``; a connection that broke off ends the
        target with that reason (a file that cannot be read is only that file's)."""
        try:
            return self._session.run(coro, timeout, self._target)
        except _LOST as x:
            self._session.fail(f"the connection broke off ({_reason(x)})", self._target)

    def _file_call(self, coro: Awaitable[_T], path: str) -> _T:
        """The SFTP call's outcome; its failure as an OSError about ``path``."""
        try:
            return self._call(coro)
        except asyncssh.SFTPError as e:
            raise _os_error(e, path) from None

    async def _read(self, path: str, limit: int) -> bytes:
        """At most ``limit`` bytes, read in chunks of explicit size until the end: /proc
        files say they hold 0 bytes, so a read of "the whole file" would give nothing."""
        chunks: list[bytes] = []
        size = 0
        async with self.sftp.open(path, "rb", encoding=None, block_size=CHUNK) as f:
            while size < limit:
                chunk = await f.read(min(CHUNK, limit - size), size)
                if not isinstance(chunk, bytes) or not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        return b"".join(chunks)

    async def _start(self) -> None:
        conn = self._session.conn
        if not self._sudo:
            try:
                self._sftp = await conn.start_sftp_client()
            except (asyncssh.Error, OSError) as x:
                self._session.fail(
                    f"the host has no SFTP server to read its files with ({_reason(x)}): "
                    "sshd must offer the sftp subsystem (Subsystem sftp in sshd_config, on by "
                    "default)",
                    self._target,
                )
            return
        checked = await self._exec("sudo -n -- true", self._timeout)
        if checked is None or checked.returncode != 0:
            said = " ".join((checked.stderr if checked is not None else "no answer").split())
            self._session.fail(
                f"sudo was refused ({said[:200] or 'exit ' + str(checked and checked.returncode)}"
                "): allow that user to run commands with sudo without a password on the host "
                "(NOPASSWD), or scan without sudo",
                self._target,
            )
        self._sftp = await self._sudo_sftp(conn)

    async def _sudo_sftp(self, conn: asyncssh.SSHClientConnection) -> asyncssh.SFTPClient:
        """The SFTP server started with ``sudo -n`` over a command channel (asyncssh's own
        client speaks to it)."""
        server = None
        plain = await conn.start_sftp_client()  # to find the server's program as the user
        try:
            for path in SFTP_SERVERS:
                try:
                    await plain.stat(path)
                except asyncssh.SFTPError:
                    continue
                server = path
                break
        finally:
            plain.exit()
        if server is None:
            self._session.fail(
                f"no SFTP server program to run with sudo ({', '.join(SFTP_SERVERS)})",
                self._target,
            )
        process = await conn.create_process("sudo -n -- " + shlex.quote(server), encoding=None)
        return await asyncssh.sftp.start_sftp_client(
            conn,
            asyncio.get_running_loop(),
            "strict",
            process.stdout,
            process.stdin,
            "utf-8",
            "strict",
            asyncssh.sftp.MIN_SFTP_VERSION,
        )

    async def _exec(self, command: str, timeout: float) -> _proc.Completed | None:
        """The command run there, its output bounded; None when it does not end in time."""
        conn = self._session.conn
        process = await conn.create_process(command, encoding=None, stdin=asyncssh.DEVNULL)
        try:
            out, err = await asyncio.wait_for(
                asyncio.gather(_drain(process.stdout), _drain(process.stderr)), timeout
            )
            await asyncio.wait_for(process.wait_closed(), timeout)
        except TimeoutError:
            return None
        finally:
            process.close()
        code = process.returncode
        return _proc.Completed(
            code if code is not None else -1,
            out.decode("utf-8", "replace"),
            err.decode("utf-8", "replace"),
        )


async def _wrap(coro: Awaitable[_T]) -> _T:
    return await coro


async def _drain(stream: asyncssh.SSHReader[bytes]) -> bytes:
    """A stream to its end, keeping at most _proc.MAX_OUTPUT bytes (the rest is read and
    dropped, so the command is not stalled on a full channel)."""
    kept = bytearray()
    while chunk := await stream.read(1 << 16):
        if len(kept) < _proc.MAX_OUTPUT:
            kept += chunk[: _proc.MAX_OUTPUT - len(kept)]
    return bytes(kept)


@contextmanager
def ssh_access(target: Target, settings: SshSettings) -> Iterator[SshAccess]:
    """The machine ``target`` names, logged in to and ready to read; logged out after."""
    session = SshSession.acquire(target, settings)
    try:
        with SshAccess(session, settings.sudo or target.sudo, target).start() as access:
            yield access
    finally:
        session.release()


__all__ = ["SshAccess", "ssh_access"]
