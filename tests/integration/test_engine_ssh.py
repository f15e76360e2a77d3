"""engine:ssh://: the engine of this machine read through a throwaway sshd on 127.0.0.1 gives
what the same engine read through its local socket gives; every way the login fails is one
line and exit 3, within the timeout."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SOCKET, Docker, run_cli, sql
from tests.sshd import Sshd, free_port, start_sshd

pytestmark = pytest.mark.docker

# the engine's own settings that only dockerd's command line and daemon.json give: read on
# this machine for a unix socket, and through SFTP over the same connection for SSH (an
# engine:tcp:// engine gives none, and these rules report "error")
DAEMON_PROCESS_RULES = {
    "engine-cgroup-parent-default",
    "engine-daemon-config-consistent",
    "engine-default-ulimits-configured",
    "engine-iptables-enabled",
    "engine-log-level-info",
    "engine-no-new-privileges-enabled",
    "engine-userland-proxy-disabled",
}
NO_AGENT = {"SSH_AUTH_SOCK": ""}  # only the key a test names


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    yield from start_sshd(tmp_path_factory.mktemp("sshd"))


def _results(doc: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(r["rule"], r["resource"], r["status"]) for r in doc["results"]}


def test_ssh_scan_judges_as_the_local_socket_does(
    sshd: Sshd, docker: Docker, tmp_path: Path
) -> None:
    docker.create("sshpriv", "--privileged")
    docker.create("sshhostnet", "--net=host", start=True)
    via_ssh = run_cli(
        "scan", sshd.target(), *sshd.args(), "--format", "json",
        db=f"sqlite:///{tmp_path / 'ssh.db'}", env=NO_AGENT,
    )  # fmt: skip
    assert via_ssh.code == 0, via_ssh.err
    local = run_cli("scan", f"engine:unix://{SOCKET}", "--format", "json",
                    db=f"sqlite:///{tmp_path / 'unix.db'}")  # fmt: skip
    assert local.code == 0, local.err
    remote, here = _results(via_ssh.json()), _results(local.json())
    ours = {r for r in remote if docker.label[:8] in r[1]}
    assert {r[1].split(" ")[0] for r in ours} >= {
        f"sshpriv-{docker.label[:8]}",
        f"sshhostnet-{docker.label[:8]}",
        f"docker-daemon:{docker.image}",  # the engine's images are read through SSH too
    }
    assert ("container-privileged-disabled", next(r[1] for r in ours if "sshpriv" in r[1]),
            "fail") in ours  # fmt: skip
    # other test sessions share this dockerd: what they create or remove between the two
    # scans is in one of them only; the rest must agree
    both = {r[1] for r in remote} & {r[1] for r in here}
    remote, here = {r for r in remote if r[1] in both}, {r for r in here if r[1] in both}
    assert {r for r in remote if docker.label[:8] in r[1]}, "this test's objects were not read"
    assert remote == here, sorted(remote ^ here)
    # dockerd's flags and daemon.json were read on the far side, so its rules are judged
    judged = {r[2] for r in remote if r[0] in DAEMON_PROCESS_RULES}
    assert judged and "error" not in judged, judged


def test_ssh_evidence_says_how_the_engine_was_reached(sshd: Sshd, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    run = run_cli("scan", sshd.target(), *sshd.args(), db=db, env=NO_AGENT)
    assert run.code in (0, 1), run.err
    ((body,),) = sql(db, "SELECT body FROM evidence WHERE kind = 'engine'")
    doc = json.loads(zlib.decompress(body))
    docs = [doc]
    connection = doc["data"]["connection"]
    assert connection["scheme"] == "ssh" and connection["tls"] is False
    ssh = connection["ssh"]
    assert (ssh["user"], ssh["host"], ssh["port"], ssh["socket"]) == (
        "root", "127.0.0.1", sshd.port, "/var/run/docker.sock")  # fmt: skip
    host_key = sshd.known_hosts.read_text().split()[1]
    assert ssh["host_key"].startswith(host_key + " SHA256:")
    daemon = docs[0]["data"]["daemon"]
    # the far side's dockerd, found through its /proc over SFTP, and said to be read so
    assert daemon["found"] is True and daemon["source"] == "process", daemon
    assert daemon["read"]["process_read"] == "over SSH"
    assert daemon["read"]["cmdline"] == f"/proc/{daemon['pid']}/cmdline"


def _refused(run: Any, target: str, want: str) -> None:
    assert run.code == 3, (run.code, run.err)
    lines = run.err.strip().splitlines()
    assert "Traceback" not in run.err
    error = next(line for line in lines if line.startswith("assessor: error:"))
    assert target in error and want in error, run.err


def test_unknown_or_changed_host_key_is_refused(sshd: Sshd, tmp_path: Path) -> None:
    other = " ".join((sshd.other_key.with_suffix(".pub")).read_text().split()[:2])
    changed = tmp_path / "known_hosts"
    changed.write_text(f"[127.0.0.1]:{sshd.port} {other}\n")
    run = run_cli("scan", sshd.target(), "--known-hosts", str(changed), "--ssh-key",
                  str(sshd.key), db=f"sqlite:///{tmp_path / 'a.db'}", env=NO_AGENT)  # fmt: skip
    _refused(run, sshd.target(), "host key is not one")
    empty = tmp_path / "empty"
    empty.write_text("")
    run = run_cli("scan", sshd.target(), "--known-hosts", str(empty), "--ssh-key",
                  str(sshd.key), db=f"sqlite:///{tmp_path / 'b.db'}", env=NO_AGENT)  # fmt: skip
    _refused(run, sshd.target(), "host key is not one")
    run = run_cli("scan", sshd.target(), "--known-hosts", str(tmp_path / "nothing"),
                  db=f"sqlite:///{tmp_path / 'c.db'}", env=NO_AGENT)  # fmt: skip
    _refused(run, sshd.target(), "no known_hosts file")
    garbage = tmp_path / "garbage"
    garbage.write_text("garbage\n")  # one word: asyncssh raises ValueError
    run = run_cli("scan", sshd.target(), "--known-hosts", str(garbage), "--ssh-key",
                  str(sshd.key), db=f"sqlite:///{tmp_path / 'd.db'}", env=NO_AGENT)  # fmt: skip
    _refused(run, sshd.target(), f"cannot use the known_hosts file {garbage}")
    assert "internal error" not in run.err


def test_a_key_the_host_does_not_accept_is_refused(sshd: Sshd, tmp_path: Path) -> None:
    run = run_cli("scan", sshd.target(), "--known-hosts", str(sshd.known_hosts), "--ssh-key",
                  str(sshd.other_key), db=f"sqlite:///{tmp_path / 'a.db'}", env=NO_AGENT)  # fmt: skip
    _refused(run, sshd.target(), "login as root refused")


def test_a_key_file_that_cannot_be_used_is_named(sshd: Sshd, tmp_path: Path) -> None:
    encrypted = tmp_path / "encrypted"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "pass phrase", "-f",
                    str(encrypted)], check=True, timeout=30)  # fmt: skip
    junk = tmp_path / "junk"
    junk.write_text("not a key\n")
    for key, want in [
        (encrypted, f"the key {encrypted} is encrypted: load it into ssh-agent"),
        (junk, f"cannot read the key {junk}: Invalid private key"),
        (tmp_path / "absent", f"cannot read the key {tmp_path / 'absent'}: No such file"),
    ]:
        run = run_cli("scan", sshd.target(), "--known-hosts", str(sshd.known_hosts),
                      "--ssh-key", str(key), db=f"sqlite:///{tmp_path / 'a.db'}",
                      env=NO_AGENT)  # fmt: skip
        _refused(run, sshd.target(), want)


def test_a_socket_the_host_lacks_is_named(sshd: Sshd, tmp_path: Path) -> None:
    target = sshd.target() + "?socket=/nonexistent/docker.sock"
    run = run_cli("scan", target, *sshd.args(), db=f"sqlite:///{tmp_path / 'a.db'}",
                  env=NO_AGENT)  # fmt: skip
    _refused(run, target, "would not forward /nonexistent/docker.sock")


def test_nothing_listening_and_a_silent_listener_fail_within_the_timeout(
    sshd: Sshd, tmp_path: Path
) -> None:
    closed = f"engine:ssh://root@127.0.0.1:{free_port()}"
    run = run_cli("scan", closed, *sshd.args(), db=f"sqlite:///{tmp_path / 'a.db'}",
                  env=NO_AGENT)  # fmt: skip
    _refused(run, closed, "cannot connect: connection refused")
    with socket.socket() as silent:  # accepts, and never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        held: list[socket.socket] = []
        stop = threading.Event()

        def accept() -> None:
            silent.settimeout(0.2)
            while not stop.is_set():
                try:
                    held.append(silent.accept()[0])
                except TimeoutError:
                    continue

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        target = f"engine:ssh://root@127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        try:
            run = run_cli("scan", target, *sshd.args(), "--ssh-timeout", "2",
                          db=f"sqlite:///{tmp_path / 'b.db'}", env=NO_AGENT)  # fmt: skip
        finally:
            stop.set()
            thread.join()
            for s in held:
                s.close()
        took = time.monotonic() - started
    _refused(run, target, "no SSH answer within 2 s")
    assert held, "the scan never connected to the silent listener"
    assert took < 12, f"{took:.1f} s for a 2 s timeout"


def test_defaults_are_the_known_hosts_and_keys_of_home_and_the_agent(
    sshd: Sshd, tmp_path: Path
) -> None:
    """No flags: ~/.ssh/known_hosts and ~/.ssh/id_ed25519, as ssh reads them; then a key only
    the agent holds."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True, mode=0o700)
    (home / ".ssh/known_hosts").write_bytes(sshd.known_hosts.read_bytes())
    (home / ".ssh/id_ed25519").write_bytes(sshd.key.read_bytes())
    (home / ".ssh/id_ed25519").chmod(0o600)
    env = {"HOME": str(home), **NO_AGENT}
    run = run_cli("scan", sshd.target(), db=f"sqlite:///{tmp_path / 'a.db'}", env=env)
    assert run.code in (0, 1), run.err
    (home / ".ssh/id_ed25519").unlink()
    run = run_cli("scan", sshd.target(), db=f"sqlite:///{tmp_path / 'b.db'}", env=env)
    _refused(run, sshd.target(), "login as root refused with the ssh agent")
    agent_sock = tmp_path / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(agent_sock)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while not agent_sock.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        subprocess.run(["ssh-add", "-q", str(sshd.key)], check=True, timeout=30,
                       env={"SSH_AUTH_SOCK": str(agent_sock), "PATH": "/usr/bin:/bin"})  # fmt: skip
        run = run_cli("scan", sshd.target(), db=f"sqlite:///{tmp_path / 'c.db'}",
                      env={**env, "SSH_AUTH_SOCK": str(agent_sock)})  # fmt: skip
        assert run.code in (0, 1), run.err
    finally:
        agent.terminate()
        agent.wait(10)
