"""A throwaway OpenSSH server on 127.0.0.1 for the engine:ssh:// tests: its own config, host
key, authorised client key and known_hosts file in a temporary directory, on a free port,
stopped (by its pid) when the test module ends. Nothing is started for the whole machine."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import missing

SSHD = "/usr/sbin/sshd"
SFTP = "/usr/lib/openssh/sftp-server"


@dataclass
class Sshd:
    port: int
    key: Path  # the authorised client key
    other_key: Path  # a key the server does not accept
    known_hosts: Path  # lists the server's host key for [127.0.0.1]:port
    log: Path

    def target(self, user: str = "root") -> str:
        return f"engine:ssh://{user}@127.0.0.1:{self.port}"

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


def _pid(path: Path) -> int | None:
    text = path.read_text().strip() if path.exists() else ""
    return int(text) if text.isdigit() else None


def start_sshd(d: Path, config: str = "") -> Iterator[Sshd]:
    """An sshd with its files in ``d``; ``config``: more sshd_config lines (SetEnv, Subsystem)."""
    if not os.access(SSHD, os.X_OK) or shutil.which("ssh-keygen") is None:
        missing("openssh-server (/usr/sbin/sshd; scripts/test-setup.sh installs it)")
    if os.geteuid() != 0:
        missing("root, to run a test sshd that logs in as root")
    for name in ("host", "client", "other"):
        _keygen(d / name)
    (d / "authorized_keys").write_bytes((d / "client.pub").read_bytes())
    port = free_port()
    (d / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d / 'host'}\nPidFile {d / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {d / 'authorized_keys'}\nPermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
        # the temporary directory is under /tmp (mode 1777), which StrictModes refuses
        "StrictModes no\nAllowStreamLocalForwarding yes\n"
        + config
        + ("" if "Subsystem" in config else f"Subsystem sftp {SFTP}\n")
    )
    host_key = " ".join((d / "host.pub").read_text().split()[:2])
    (d / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_key}\n")
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's compiled-in privilege separation dir
    log = d / "sshd.log"
    proc = subprocess.run(
        [SSHD, "-f", str(d / "sshd_config"), "-E", str(log)], check=False, timeout=30
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
        yield Sshd(port, d / "client", d / "other", d / "known_hosts", log)
    finally:
        os.kill(pid, signal.SIGTERM)
