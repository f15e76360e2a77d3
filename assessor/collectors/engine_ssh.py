"""The Docker Engine API of another machine, read through SSH (``engine:ssh://USER@HOST``).

Nothing is installed or run on the remote host: asyncssh logs in and forwards the engine's
unix socket (OpenSSH's direct-streamlocal, ``AllowStreamLocalForwarding``, on by default) to
a unix socket in a private temporary directory here, which the engine collector's httpx
client reads like a local socket. The host key is checked against known_hosts (ssh's
``StrictHostKeyChecking yes``); keys come from the ssh agent, ~/.ssh's default keys, or the
key file given. The connection lives in an event loop of its own thread and closes with the
client.

One login serves the targets of one host read at the same time: ``ssh://HOST`` is the machine
(assessor.collectors.ssh_access) and its engine (``engine:ssh://HOST``), and while one of them
holds the connection the other uses it too (``SshSession.acquire``); it is closed when the
last lets it go.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Coroutine
from typing import Any, ClassVar, NoReturn, TypeVar

import asyncssh

from assessor.collectors.options import SshSettings
from assessor.errors import TargetUnreachableError
from assessor.targets import SshEndpoint, Target, ssh_endpoint

_T = TypeVar("_T")


def default_known_hosts() -> str:
    return os.path.expanduser("~/.ssh/known_hosts")


_Key = tuple[str | None, str, int, SshSettings]


class SshSession:
    """A logged-in SSH connection to the host a target names (``ssh://`` or
    ``engine:ssh://``), run by an event loop in a thread of its own; ``run`` waits, within a
    bound, for a coroutine on it (assessor.collectors.ssh_access reads files with it).

    Errors name the target of whoever asked (``target=``), else the one that logged in."""

    _shared: ClassVar[dict[_Key, SshSession]] = {}
    _opening: ClassVar[dict[_Key, threading.Lock]] = {}
    # the last failed login to each host: when it failed, and why
    _failed: ClassVar[dict[_Key, tuple[float, str]]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, target: Target, settings: SshSettings) -> None:
        self.target = target
        self.endpoint: SshEndpoint = ssh_endpoint(target)
        self.settings = settings
        self.known_hosts = settings.known_hosts or default_known_hosts()
        self.host_key = ""
        self.users = 0  # the holders of a shared session (acquire, release)
        self._conn: asyncssh.SSHClientConnection | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="ssh", daemon=True)

    @classmethod
    def acquire(cls, target: Target, settings: SshSettings) -> SshSession:
        """The open session to the host and login ``target`` names, shared with the other
        targets that hold it now; else a new login (its failure names ``target``). Give it
        back with ``release``."""
        settings = settings.with_key(target.key)
        e = ssh_endpoint(target)
        key: _Key = (e.user, e.host, e.port, settings)
        asked = time.monotonic()
        with cls._lock:
            opening = cls._opening.setdefault(key, threading.Lock())
        with opening:  # one login at a time per host: the second waits and shares it
            with cls._lock:
                found = cls._shared.get(key)
                if found is not None and found._conn is not None:
                    found.users += 1
                    return found
                failed = cls._failed.get(key)
            if failed is not None and failed[0] >= asked:  # failed while this one waited
                raise TargetUnreachableError(f"{target}: {failed[1]}")
            try:
                session = cls(target, settings).open()
            except TargetUnreachableError as x:
                why = x.message.removeprefix(f"{target}: ")
                with cls._lock:
                    cls._failed[key] = (time.monotonic(), why)
                raise
            with cls._lock:
                session.users = 1
                cls._shared[key] = session
            return session

    def release(self) -> None:
        """One holder less; the last one logs out."""
        e = self.endpoint
        key: _Key = (e.user, e.host, e.port, self.settings)
        with self._lock:
            self.users -= 1
            last = self.users <= 0
            if last and self._shared.get(key) is self:
                del self._shared[key]
        if last:
            self.close()

    @property
    def conn(self) -> asyncssh.SSHClientConnection:
        if self._conn is None:
            self.fail("the connection is closed")
        assert self._conn is not None
        return self._conn

    def open(self) -> SshSession:
        """Log in and start forwarding; every failure is one TargetUnreachableError line."""
        if not os.path.isfile(self.known_hosts):
            self.fail(
                f"no known_hosts file {self.known_hosts} to check the host key against: add "
                "the host's key there (its fingerprint checked) or give --known-hosts FILE"
            )
        self._thread.start()
        try:
            self.run(self._open(), 2 * self.settings.timeout + 5)
        except BaseException:
            self.close()
            raise
        return self

    def describe(self) -> dict[str, Any]:
        """How the host was reached, for the evidence."""
        return {
            "user": self.endpoint.user or "(the scanning user)",
            "host": self.endpoint.host,
            "port": self.endpoint.port,
            "host_key": self.host_key,
            "known_hosts": self.known_hosts,
        }

    def close(self) -> None:
        """Log out (safe to call twice)."""
        if self._thread.is_alive():
            # closing a connection that died: nothing left to close
            with contextlib.suppress(TargetUnreachableError, OSError):
                self.run(self._close(), self.settings.timeout)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
        if not self._loop.is_running() and not self._loop.is_closed():
            self._loop.close()

    def run(
        self, coro: Coroutine[Any, Any, _T], timeout: float, target: Target | None = None
    ) -> _T:
        """The coroutine's outcome; TargetUnreachableError (naming ``target``) when it takes
        over ``timeout``."""
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            self.fail(f"no answer within {timeout:g} s", target)

    async def _open(self) -> None:
        e = self.endpoint
        timeout = self.settings.timeout
        options: dict[str, Any] = {}
        if self.settings.key:
            options["client_keys"] = [self._key()]
        try:
            self._conn = await asyncssh.connect(
                e.host,
                e.port,
                username=e.user or (),
                known_hosts=self.known_hosts,
                connect_timeout=timeout,
                login_timeout=timeout,
                **options,
            )
        except asyncssh.HostKeyNotVerifiable:
            self.fail(
                f"the host key is not one {self.known_hosts} lists for {e.host} (unknown or "
                "changed): check it with the host's administrator and add it there, or give "
                "--known-hosts FILE"
            )
        except asyncssh.PermissionDenied:
            keys = self.settings.key or "the ssh agent and ~/.ssh's default keys"
            self.fail(
                f"login as {e.user or 'the current user'} refused with {keys}: authorise a "
                "key on the host, or give --ssh-key FILE"
            )
        except (TimeoutError, asyncssh.ConnectionLost) as x:
            self.fail(f"no SSH answer within {timeout:g} s ({type(x).__name__})")
        except ConnectionRefusedError:
            self.fail("cannot connect: connection refused (no SSH server listens on that port)")
        except (OSError, asyncssh.Error) as x:
            self.fail(f"cannot connect: {_reason(x)}")
        except ValueError as x:  # asyncssh: "Invalid known hosts entry" and the like
            self.fail(
                f"cannot use the known_hosts file {self.known_hosts}: {_reason(x)}; give "
                "--known-hosts FILE of lines as ssh-keyscan or ssh writes them"
            )
        self.host_key = self._fingerprint()

    async def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            await self._conn.wait_closed()
            self._conn = None

    def _key(self) -> asyncssh.SSHKey:
        path = self.settings.key or ""
        try:
            return asyncssh.read_private_key(path)
        except (OSError, asyncssh.KeyImportError) as x:
            if "passphrase" in str(x).lower():  # asyncssh: "Passphrase must be specified ..."
                self.fail(f"the key {path} is encrypted: load it into ssh-agent, without --ssh-key")
            self.fail(f"cannot read the key {path}: {_reason(x)}")

    def _fingerprint(self) -> str:
        key = self._conn.get_server_host_key() if self._conn is not None else None
        return f"{key.get_algorithm()} {key.get_fingerprint()}" if key is not None else ""

    def fail(self, problem: str, target: Target | None = None) -> NoReturn:
        """One line naming the target, the problem and what to do (a target's error reaches
        the user as its message alone)."""
        e = self.endpoint
        raise TargetUnreachableError(
            f"{target or self.target}: ssh to {e.host} port {e.port}: {problem}"
        )


class SshTunnel:
    """A remote engine socket served at ``self.path`` here, over the SSH login to its host
    (shared with the host's other targets read at the same time)."""

    def __init__(self, target: Target, settings: SshSettings) -> None:
        self.target = target
        self.endpoint: SshEndpoint = ssh_endpoint(target)
        self.settings = settings.with_key(target.key)
        self._session: SshSession | None = None
        self._dir = ""
        self.path = ""
        self._listener: asyncssh.SSHListener | None = None

    @property
    def session(self) -> SshSession:
        assert self._session is not None, "the tunnel is not open"
        return self._session

    def open(self) -> SshTunnel:
        """Log in (or share the login) and start forwarding; every failure is one
        TargetUnreachableError line naming this target."""
        self._session = SshSession.acquire(self.target, self.settings)
        try:
            self.session.run(self._forward(), self.settings.timeout + 5, self.target)
        except BaseException:
            self.close()
            raise
        return self

    def describe(self) -> dict[str, Any]:
        """How the engine was reached, for the engine's evidence."""
        return {
            **self.session.describe(),
            "socket": self.endpoint.socket,
            "forwarded_to": "a unix socket in a private temporary directory (0700)",
        }

    def close(self) -> None:
        """Stop forwarding, let the login go, remove the local socket (safe to call twice)."""
        session, self._session = self._session, None
        if session is not None:
            if self._listener is not None:
                with contextlib.suppress(TargetUnreachableError, OSError):
                    session.run(self._stop(), self.settings.timeout, self.target)
            session.release()
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = ""

    def fail(self, problem: str) -> NoReturn:
        self.session.fail(problem, self.target)

    async def _stop(self) -> None:
        if self._listener is not None:
            self._listener.close()
            await self._listener.wait_closed()
            self._listener = None

    async def _forward(self) -> None:
        conn = self.session.conn
        socket = self.endpoint.socket
        try:  # one connection first, so a missing socket or a refusal is named here
            _, writer = await asyncio.wait_for(
                conn.open_unix_connection(socket), self.settings.timeout
            )
            writer.close()
        except TimeoutError:
            self.fail(f"the host did not open {socket} within {self.settings.timeout:g} s")
        except (OSError, asyncssh.Error) as x:
            self.fail(
                f"the host would not forward {socket} ({_reason(x)}): the socket must exist "
                "there and be open to that user, and sshd must allow AllowStreamLocalForwarding"
            )
        self._dir = tempfile.mkdtemp(prefix="assessor-ssh-")  # 0700
        self.path = os.path.join(self._dir, "engine.sock")
        self._listener = await conn.forward_local_path(self.path, socket)


def _reason(error: BaseException) -> str:
    reason = getattr(error, "reason", None) or getattr(error, "strerror", None) or str(error)
    return " ".join(str(reason or type(error).__name__).split())


__all__ = ["SshSession", "SshTunnel", "default_known_hosts"]
