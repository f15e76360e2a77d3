"""A fleet in one scan (docs/fleet.md): hosts from one inventory, reached over SSH on
127.0.0.1 and on a second machine (an sshd inside a network namespace the test creates),
read a few at once; a host that hangs and one that refuses are stored as unreachable with
their reason, the others stored whole, exit code 3."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli, sql
from tests.sshd import Sshd, free_port, netns, start_sshd

pytestmark = pytest.mark.docker

NO_AGENT = {"SSH_AUTH_SOCK": ""}  # only the key the test names
PORTS = 10  # each sshd listens on this many ports: one target each


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sshd, Sshd, Path]]:
    """Two machines: an sshd on 127.0.0.1 and one in a network namespace, both accepting one
    client key, on PORTS ports each; one known_hosts file lists both."""
    d = tmp_path_factory.mktemp("fleet")
    here_ports = [free_port() for _ in range(PORTS)]
    with netns() as (name, address):
        local = start_sshd(d / "local", ports=here_ports)
        sshd = next(local)
        there_ports = [22, *range(2201, 2201 + PORTS - 1)]
        remote = start_sshd(
            d / "remote", address=address, ports=there_ports, netns=name, client=sshd.key
        )
        other = next(remote)
        known = d / "known_hosts"
        known.write_text(sshd.known_hosts.read_text() + other.known_hosts.read_text())
        try:
            yield sshd, other, known
        finally:
            for started in (remote, local):
                started.close()


def _targets(db: str) -> dict[str, tuple[str, str | None]]:
    return {u: (s, e) for u, s, e in sql(db, "SELECT uri, status, error FROM target")}


def _results(doc: dict[str, Any], target: str) -> set[tuple[str, str, str]]:
    return {
        (r["rule"], r["resource"], r["status"]) for r in doc["results"] if r["target"] == target
    }


def test_one_inventory_two_machines_one_scan(
    fleet: tuple[Sshd, Sshd, Path], tmp_path: Path, db: str
) -> None:
    here, there, known = fleet
    inv = tmp_path / "hosts.ini"
    inv.write_text(
        "[local]\n"
        f"loopback ansible_host=127.0.0.1 ansible_port={here.port}\n"
        "[lab]\n"
        f"nshost ansible_host={there.address}\n"
        "[all:vars]\nansible_user=root\n"
    )
    run = run_cli(
        "scan", "-i", str(inv), "--known-hosts", str(known), "--ssh-key", str(here.key),
        "--format", "json", db=db, env=NO_AGENT,
    )  # fmt: skip
    assert run.code == 0, run.err
    # each host is the machine (ssh://) and its engine (engine:ssh://)
    a, b = f"ssh://root@127.0.0.1:{here.port}", f"ssh://root@{there.address}:22"
    assert _targets(db) == dict.fromkeys((a, f"engine:{a}", b, f"engine:{b}"), ("collected", None))
    doc = run.json()
    # the namespace's sshd shares this machine's filesystem, so the second machine's files
    # and engine are this one's: the same findings through either machine
    assert _results(doc, f"engine:{a}") == _results(doc, f"engine:{b}")
    assert _results(doc, a) == _results(doc, b)
    assert _results(doc, a) and _results(doc, f"engine:{a}")
    identities = [i for (i,) in sql(db, "SELECT identity FROM target ORDER BY id")]
    assert all(identities)


def test_twenty_hosts_one_hanging_one_refusing(
    fleet: tuple[Sshd, Sshd, Path], tmp_path: Path, db: str
) -> None:
    here, there, known = fleet
    silent = socket.socket()  # accepts connections and never speaks: a host that hangs
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    hangs = f"root@127.0.0.1:{silent.getsockname()[1]}"
    refuses = f"root@{there.address}:2299"  # nothing listens there
    good = [f"root@127.0.0.1:{p}" for p in here.ports]
    good += [f"root@{there.address}:{p}" for p in there.ports]
    inv = tmp_path / "fleet.txt"  # a plain list: USER@HOST:PORT is a machine over SSH
    inv.write_text("\n".join([good[0], hangs, *good[1:10], refuses, *good[10:]]) + "\n")
    began = time.monotonic()
    run = run_cli(
        "scan", "-i", str(inv), "--known-hosts", str(known), "--ssh-key", str(here.key),
        "--jobs", "6", "--target-timeout", "20", "--ssh-timeout", "60", "--progress", "plain",
        db=db, env=NO_AGENT, timeout=300,
    )  # fmt: skip
    took = time.monotonic() - began
    silent.close()
    assert run.code == 3, run.err
    stored = _targets(db)
    # each host is two targets: the machine and its engine
    assert len(good) == 2 * PORTS and len(stored) == 2 * (2 * PORTS + 2)
    for t in good:
        assert stored[f"ssh://{t}"] == ("collected", None), stored
        assert stored[f"engine:ssh://{t}"] == ("collected", None), stored
    for t in (f"ssh://{hangs}", f"engine:ssh://{hangs}"):
        status, error = stored[t]
        assert status == "unreachable"
        assert (
            error == f"{t}: not collected within 20 s (--target-timeout); the other targets went on"
        )
    for t in (f"ssh://{refuses}", f"engine:ssh://{refuses}"):
        status, error = stored[t]
        assert status == "unreachable"
        assert error is not None
        assert error.startswith(f"{t}: ssh to {there.address} port 2299: cannot connect"), error
        assert f"assessor: error: {error}" in run.err.splitlines()
    # every target said as it ended; the failures again at the end, with their reason
    ended = [line for line in run.err.splitlines() if line.startswith("assessor: [")]
    assert len(ended) == len(stored)
    # the hanging host's two targets held two slots of six while the others went on: the
    # scan ended soon after their 20 s
    assert took < 150, took
    (assessment,) = sql(db, "SELECT status FROM assessment")
    assert assessment == ("incomplete",)
