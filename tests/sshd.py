"""Throwaway OpenSSH servers for the SSH tests: each with its own config, host key, authorised
client key and known_hosts file in a temporary directory, stopped (by its pid) when the test
module ends. One listens on 127.0.0.1 (free ports); another can run inside a network
namespace the test creates (``netns``: a veth pair on a free /30 of 10.221.21.0/24, the
server on the inside address), a second machine on the network with this machine's
filesystem (so its engine socket is this machine's). Nothing is started for the whole machine."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import missing

SSHD = "/usr/sbin/sshd"
SFTP = "/usr/lib/openssh/sftp-server"
NETNS_RANGE = ipaddress.ip_network("10.221.21.0/24")


@dataclass
class Sshd:
    port: int
    key: Path  # the authorised client key
    other_key: Path  # a key the server does not accept
    known_hosts: Path  # lists the server's host key for each address:port it listens on
    log: Path
    address: str = "127.0.0.1"
    ports: list[int] = field(default_factory=list)  # every port it listens on

    def target(self, user: str = "root", port: int | None = None) -> str:
        return f"engine:ssh://{user}@{self.address}:{port or self.port}"

    def args(self) -> tuple[str, ...]:
        return ("--known-hosts", str(self.known_hosts), "--ssh-key", str(self.key))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True, timeout=30
    )


def _known(address: str, port: int) -> str:
    return address if port == 22 else f"[{address}]:{port}"


def _pid(path: Path) -> int | None:
    text = path.read_text().strip() if path.exists() else ""
    return int(text) if text.isdigit() else None


def start_sshd(
    d: Path,
    config: str = "",
    *,
    address: str = "127.0.0.1",
    ports: Sequence[int] = (),
    netns: str | None = None,
    client: Path | None = None,
) -> Iterator[Sshd]:
    """An sshd with its files in ``d`` on ``address`` (``ports``, default one free port),
    inside ``netns`` if given, accepting ``client`` (a private key; default a new one);
    ``config``: more sshd_config lines (SetEnv, Subsystem)."""
    if not os.access(SSHD, os.X_OK) or shutil.which("ssh-keygen") is None:
        missing("openssh-server (/usr/sbin/sshd; scripts/test-setup.sh installs it)")
    if os.geteuid() != 0:
        missing("root, to run a test sshd that logs in as root")
    d.mkdir(parents=True, exist_ok=True)
    for name in ("host", "other", *(() if client else ("client",))):
        _keygen(d / name)
    key = client or d / "client"
    (d / "authorized_keys").write_bytes(Path(f"{key}.pub").read_bytes())
    ports = list(ports) or [free_port()]
    listen = "".join(f"Port {p}\n" for p in ports)
    (d / "sshd_config").write_text(
        f"{listen}ListenAddress {address}\nHostKey {d / 'host'}\nPidFile {d / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {d / 'authorized_keys'}\nPermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
        # the temporary directory is under /tmp (mode 1777), which StrictModes refuses
        "StrictModes no\nAllowStreamLocalForwarding yes\nMaxStartups 100\n"
        + config
        + ("" if "Subsystem" in config else f"Subsystem sftp {SFTP}\n")
    )
    host_key = " ".join((d / "host.pub").read_text().split()[:2])
    (d / "known_hosts").write_text("".join(f"{_known(address, p)} {host_key}\n" for p in ports))
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's compiled-in privilege separation dir
    log = d / "sshd.log"
    inside = ["ip", "netns", "exec", netns] if netns else []
    proc = subprocess.run(
        [*inside, SSHD, "-f", str(d / "sshd_config"), "-E", str(log)], check=False, timeout=30
    )
    if proc.returncode != 0:
        pytest.fail(f"sshd did not start: {log.read_text() if log.exists() else proc}")
    pid_file = d / "sshd.pid"
    deadline = time.monotonic() + 10
    # the file appears before sshd has written its pid into it
    while not _pid(pid_file) and time.monotonic() < deadline:
        time.sleep(0.05)
    pid = _pid(pid_file)
    if not pid:
        pytest.fail(f"sshd wrote no pid file: {log.read_text()}")
    try:
        yield Sshd(ports[0], key, d / "other", d / "known_hosts", log, address, ports)
    finally:
        os.kill(pid, signal.SIGTERM)
        # its sessions ("sshd: root@notty") outlive the listener; one whose client vanished
        # with a deleted network namespace would wait forever: every holder of its log goes
        for session in _holders(log):
            with contextlib.suppress(ProcessLookupError):
                os.kill(session, signal.SIGTERM)


def _holders(path: Path) -> list[int]:
    """The processes that have ``path`` open."""
    found = []
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        with contextlib.suppress(OSError):
            if any(os.readlink(fd) == str(path) for fd in fd_dir.iterdir()):
                found.append(int(fd_dir.parent.name))
    return found


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, timeout=30, capture_output=True)


def _free_subnet() -> ipaddress.IPv4Network:
    """A /30 of NETNS_RANGE that no interface of this machine has an address in."""
    shown = subprocess.run(
        ["ip", "-o", "-4", "addr"], check=True, timeout=30, capture_output=True, text=True
    ).stdout
    used = [ipaddress.ip_interface(w) for w in shown.split() if "/" in w and w[0].isdigit()]
    for net in NETNS_RANGE.subnets(new_prefix=30):
        if not any(u.ip in net for u in used):
            return net
    pytest.fail(f"no free /30 left in {NETNS_RANGE} for a test network namespace")


@contextlib.contextmanager
def netns() -> Iterator[tuple[str, str]]:
    """A network namespace of this test, joined to this machine by a veth pair on a free
    /30: (its name, its address). Deleted (with the pair) at the end."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        missing("root and iproute2 (ip), to make a network namespace")
    tag = uuid.uuid4().hex[:8]
    name, outside, inside = f"asr-{tag}", f"asro{tag}", f"asri{tag}"
    net = _free_subnet()
    here, there = (str(h) for h in net.hosts())
    _ip("netns", "add", name)
    try:
        _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
        _ip("link", "set", inside, "netns", name)
        _ip("addr", "add", f"{here}/30", "dev", outside)
        _ip("link", "set", outside, "up")
        _ip("-n", name, "addr", "add", f"{there}/30", "dev", inside)
        _ip("-n", name, "link", "set", inside, "up")
        _ip("-n", name, "link", "set", "lo", "up")
        yield name, there
    finally:
        subprocess.run(["ip", "link", "del", outside], check=False, timeout=30, capture_output=True)
        subprocess.run(["ip", "netns", "del", name], check=False, timeout=30, capture_output=True)
