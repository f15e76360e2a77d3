"""The real dockerd under the daemon.json settings the CIS daemon rules judge, and rootless.

Each state is a dockerd of its own (tests/dockerd_variant.py: own data root, socket, config
file, network namespace), never the system's. For each state every verdict that depends on
the setting is asserted, against the same verdict on a dockerd left at its defaults:

- ``hardened``: no-new-privileges (CIS v1.8.0 2.15), icc false (2.2), userland-proxy false
  (2.17), live-restore (2.16), userns-remap "default" (2.10), default-ulimits within this
  kernel's hard limit of 20000 (2.9), and json-file log rotation (max-size, max-file), which
  keeps logs on the host (2.14 still fails: it asks for remote logging);
- ``defaults``: an empty daemon.json;
- ``rootless``: dockerd-rootless.sh as an unprivileged user (2.1, 2.10, the configuration
  under the user's home);
- a swarm manager bound to one address and a worker joined to it with the default listen
  address, in two network namespaces linked by a veth pair (7.2: 2377 and 7946 tcp/udp).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from assessor.catalog import load_catalog
from assessor.evaluate import evaluate_rule
from assessor.evidence import Evidence
from tests.dockerd_variant import (
    Daemon,
    dockerd_variant,
    engine_evidence,
    rootless_dockerd,
    scan,
)

pytestmark = pytest.mark.docker

HARDENED: dict[str, Any] = {
    "no-new-privileges": True,
    "icc": False,
    "userland-proxy": False,
    "live-restore": True,
    "userns-remap": "default",
    "default-ulimits": {"nofile": {"Name": "nofile", "Soft": 1024, "Hard": 2048}},
    "log-driver": "json-file",
    "log-opts": {"max-size": "10m", "max-file": "3"},
}

# rule: (verdict under defaults, verdict under HARDENED)
DEPENDS_ON_SETTING = {
    "engine-icc-disabled": ("fail", "pass"),  # 2.2
    "engine-default-ulimits-configured": ("fail", "pass"),  # 2.9
    "engine-userns-remap-enabled": ("fail", "pass"),  # 2.10
    "engine-remote-logging": ("fail", "fail"),  # 2.14: rotated json-file logs stay local
    "engine-no-new-privileges-enabled": ("fail", "pass"),  # 2.15
    "engine-live-restore-enabled": ("fail", "pass"),  # 2.16
    "engine-userland-proxy-disabled": ("fail", "pass"),  # 2.17
    "engine-daemon-config-consistent": ("pass", "pass"),  # the file is what runs
    "engine-daemon-rootless": ("fail", "fail"),  # 2.1
    "engine-iptables-enabled": ("pass", "pass"),  # 2.4
}


@dataclass
class State:
    daemon: Daemon
    engine: dict[str, tuple[str, str]]  # the engine's verdicts
    containers: dict[str, dict[str, tuple[str, str]]]  # by container name
    evidence: dict[str, Any]  # the engine evidence document


def _state(d: Daemon, db: str) -> State:
    verdicts = scan(d.target, db=db)
    engine = next(v for v in verdicts.values() if "engine-icc-disabled" in v)
    containers = {
        res.split(" (")[0]: v for res, v in verdicts.items() if "container-user-not-root" in v
    }
    return State(d, engine, containers, engine_evidence(d.socket))


@pytest.fixture(scope="module")
def defaults(tmp_path_factory: pytest.TempPathFactory) -> Iterator[State]:
    with dockerd_variant({}) as d:
        d.create("plain", start=True)
        yield _state(d, f"sqlite:///{tmp_path_factory.mktemp('defaults') / 'a.db'}")


@pytest.fixture(scope="module")
def hardened(tmp_path_factory: pytest.TempPathFactory) -> Iterator[State]:
    with dockerd_variant(HARDENED) as d:
        d.create("inherits", start=True)  # no --security-opt: the daemon's default applies
        d.create("opts-out", "--security-opt", "no-new-privileges=false", start=True)
        yield _state(d, f"sqlite:///{tmp_path_factory.mktemp('hardened') / 'a.db'}")


@pytest.fixture(scope="module")
def rootless(tmp_path_factory: pytest.TempPathFactory) -> Iterator[State]:
    with rootless_dockerd({"no-new-privileges": True, "live-restore": True}) as d:
        d.create("plain", start=True)
        yield _state(d, f"sqlite:///{tmp_path_factory.mktemp('rootless') / 'a.db'}")


@pytest.mark.parametrize("rule", sorted(DEPENDS_ON_SETTING))
def test_daemon_verdicts_follow_the_setting(rule: str, defaults: State, hardened: State) -> None:
    plain, set_ = DEPENDS_ON_SETTING[rule]
    assert defaults.engine[rule][0] == plain, defaults.engine[rule]
    assert hardened.engine[rule][0] == set_, hardened.engine[rule]


def test_evidence_names_what_was_read(defaults: State, hardened: State) -> None:
    for state in (defaults, hardened):
        d, daemon = state.daemon, state.evidence["data"]["daemon"]
        assert daemon["found"] is True
        assert daemon["pid"] == d.pid  # this dockerd, not the system's
        read = daemon["read"]
        assert read["cmdline"] == f"/proc/{d.pid}/cmdline"
        assert read["config_file"] == str(d.config_file)
        assert read["config_sha256"] == hashlib.sha256(d.config_file.read_bytes()).hexdigest()
        assert "GET /info" in read["api"]
        assert daemon["conflicts"] == []
    effective = hardened.evidence["data"]["daemon"]["effective"]
    origin = hardened.evidence["data"]["daemon"]["origin"]
    assert effective["log-opts"] == {"max-size": "10m", "max-file": "3"}
    assert origin["log-opts"] == "daemon.json"
    assert effective["default-ulimits"] == {"nofile": "1024:2048"}
    assert effective["userns-remap"] is True and origin["userns-remap"] == "running"
    assert hardened.evidence["data"]["info"]["DockerRootDir"].endswith(".165536") or (
        "name=userns" in hardened.evidence["data"]["info"]["SecurityOptions"]
    )


def test_container_inherits_no_new_privileges_from_the_daemon(hardened: State) -> None:
    """CIS v1.8.0 5.26 on a daemon with no-new-privileges (2.15): a container that does not
    opt out has the restriction; one with no-new-privileges=false does not."""
    label = hardened.daemon.label[:8]
    opts_out = hardened.containers[f"opts-out-{label}"]["container-no-new-privileges"]
    assert opts_out[0] == "fail", opts_out
    inherits = hardened.containers[f"inherits-{label}"]["container-no-new-privileges"]
    assert inherits[0] == "pass", inherits


def test_default_ulimits_apply_to_containers(hardened: State) -> None:
    """2.8's setting is in force: the container's own limit is the daemon's default."""
    d = hardened.daemon
    pid = d.docker("inspect", "--format", "{{ .State.Pid }}", f"inherits-{d.label[:8]}")
    limits = Path(f"/proc/{pid}/limits").read_text()
    line = next(x for x in limits.splitlines() if x.startswith("Max open files"))
    assert line.split()[3:5] == ["1024", "2048"], line


def test_rootless_daemon_verdicts(rootless: State) -> None:
    """Before: the rootless dockerd's process was not found (its socket lives in
    rootlesskit's network namespace), and once found its data root under the user's home
    conflicted with /var/lib/docker (engine-daemon-config-consistent failed); 2.10 failed
    though rootless mode maps container root to the daemon's unprivileged user."""
    v = rootless.engine
    assert v["engine-daemon-rootless"][0] == "pass", v["engine-daemon-rootless"]
    assert v["engine-daemon-config-consistent"][0] == "pass", v["engine-daemon-config-consistent"]
    assert v["engine-userns-remap-enabled"][0] == "pass", v["engine-userns-remap-enabled"]
    assert "rootless" in v["engine-userns-remap-enabled"][1]
    # the settings of the user's daemon.json are judged, not /etc/docker/daemon.json's
    assert v["engine-no-new-privileges-enabled"][0] == "pass"
    assert v["engine-live-restore-enabled"][0] == "pass"
    assert v["engine-icc-disabled"][0] == "fail", v["engine-icc-disabled"]
    # CIS 2.17 applies "where hairpin NAT is available": not from the host to a rootless
    # daemon's namespace, whose published ports only the proxy brings to the host
    assert v["engine-userland-proxy-disabled"][0] == "not_applicable"
    assert "rootless" in v["engine-userland-proxy-disabled"][1]


# Every automated engine rule on the rootless daemon (daemon.json: no-new-privileges,
# live-restore), reviewed against CIS v1.8.0: only 2.10, 2.17 and the configuration check
# judge rootless mode differently from a rootful daemon.
ROOTLESS_VERDICTS = {
    "engine-authorization-plugin-enabled": "fail",  # 2.13: no plugin, rootless or not
    "engine-base-device-size-unchanged": "not_applicable",  # 2.12: overlay2, not devicemapper
    "engine-cgroup-parent-default": "pass",  # 2.11: default parent
    "engine-container-sprawl": "pass",  # 6.2: one running container
    "engine-daemon-config-consistent": "pass",  # its own daemon.json and data root
    "engine-daemon-rootless": "pass",  # 2.1
    "engine-default-ulimits-configured": "fail",  # 2.9: unset
    "engine-experimental-disabled": "pass",  # 2.19
    "engine-icc-disabled": "fail",  # 2.2: its docker0 (in rootlesskit's netns) allows icc
    "engine-image-sprawl": "pass",  # 6.1: the one image is used
    "engine-insecure-registries-absent": "pass",  # 2.5
    "engine-iptables-enabled": "pass",  # 2.4: iptables in rootlesskit's namespace
    "engine-live-restore-enabled": "pass",  # 2.16: set in the user's daemon.json
    "engine-log-level-info": "pass",  # 2.3
    "engine-no-new-privileges-enabled": "pass",  # 2.15: set in the user's daemon.json
    "engine-remote-logging": "fail",  # 2.14: json-file
    "engine-seccomp-profile-not-unconfined": "pass",  # 2.18
    "engine-storage-driver-not-aufs": "pass",  # 2.6
    "engine-storage-driver-not-devicemapper": "pass",  # 2.7
    "engine-swarm-autolock": "not_applicable",  # no swarm
    "engine-swarm-mode-disabled": "pass",
    "engine-swarm-overlay-encrypted": "not_applicable",
    "engine-tls-authentication": "not_applicable",  # 2.8: no tcp:// host
    "engine-userland-proxy-disabled": "not_applicable",  # 2.17: no hairpin NAT to the host
    "engine-userns-remap-enabled": "pass",  # 2.10: rootless maps container root
}


def test_every_engine_rule_on_rootless(rootless: State) -> None:
    automated = sorted(
        r.id for r in load_catalog().rules.values() if r.target.value == "engine" and r.automated
    )
    assert sorted(ROOTLESS_VERDICTS) == automated
    wrong = {
        rule: rootless.engine[rule]
        for rule, status in ROOTLESS_VERDICTS.items()
        if rootless.engine[rule][0] != status
    }
    assert not wrong, wrong


def test_rootless_published_port_reaches_the_host_through_the_proxy(rootless: State) -> None:
    """The ground for 2.17's not applicable: with the (default) userland proxy, a rootless
    container's published port answers on the host, forwarded by rootlesskit-docker-proxy."""
    import socket
    import time

    d = rootless.daemon
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    d.docker(
        "run", "-d", "--label", f"assessor.test={d.label}", "-p", f"127.0.0.1:{port}:80",
        d.busybox(), "/bin/busybox", "httpd", "-f", "-p", "80", "-h", "/",
    )  # fmt: skip
    answer = b""
    for _ in range(50):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
                conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
                answer = conn.recv(64)
            if answer:
                break
        except OSError:
            pass
        time.sleep(0.1)
    assert answer.startswith(b"HTTP/"), answer


def test_rootless_evidence(rootless: State) -> None:
    d = rootless.daemon
    assert isinstance(d, type(d)) and hasattr(d, "home")
    daemon = rootless.evidence["data"]["daemon"]
    assert daemon["found"] is True and daemon["rootless"] is True
    assert daemon["process"]["uid"] == d.uid  # type: ignore[attr-defined]
    assert daemon["config_file"] == str(d.config_file)
    assert daemon["read"]["config_sha256"] == hashlib.sha256(d.config_file.read_bytes()).hexdigest()
    assert daemon["effective"]["data-root"] == str(d.data_root)
    assert daemon["origin"]["no-new-privileges"] == "daemon.json"
    assert daemon["conflicts"] == []


def test_container_sprawl_reports_both_numbers_and_fails_over_the_threshold(
    defaults: State,
) -> None:
    """CIS v1.8.0 6.2 sets no threshold. Before: one stopped container failed the rule."""
    rule = load_catalog().rules["engine-container-sprawl"]
    d = defaults.daemon
    created = [d.create(f"stopped{i}") for i in range(1)]
    one = evaluate_rule(rule, Evidence.from_document(engine_evidence(d.socket)))
    assert one.status.value == "pass", one.message
    assert "1 stopped and 1 running" in one.message
    limit = int(rule.check.args["max_stopped"])  # type: ignore[union-attr]
    created += [d.create(f"stopped{i}") for i in range(1, limit + 1)]
    many = evaluate_rule(rule, Evidence.from_document(engine_evidence(d.socket)))
    assert many.status.value == "fail", many.message
    assert f"{limit + 1} stopped and 1 running" in many.message
    d.docker("rm", *created)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def swarm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A manager bound to one address and a worker on the default (every interface)."""
    remote_log = {"log-driver": "syslog", "log-opts": {"syslog-address": "udp://127.0.0.1:5514"}}
    with dockerd_variant(remote_log) as manager, dockerd_variant({}) as worker:
        subnet = f"10.214.{secrets.randbelow(250) + 2}"
        a, b = f"h3m{secrets.token_hex(3)}", f"h3w{secrets.token_hex(3)}"
        _ip(
            "link",
            "add",
            a,
            "netns",
            manager.netns,
            "type",
            "veth",
            "peer",
            b,
            "netns",
            worker.netns,
        )
        _ip("-n", manager.netns, "addr", "add", f"{subnet}.1/24", "dev", a)
        _ip("-n", worker.netns, "addr", "add", f"{subnet}.2/24", "dev", b)
        _ip("-n", manager.netns, "link", "set", a, "up")
        _ip("-n", worker.netns, "link", "set", b, "up")
        addr = f"{subnet}.1"
        manager.docker("swarm", "init", "--advertise-addr", addr, "--listen-addr", f"{addr}:2377")
        try:
            token = manager.docker("swarm", "join-token", "-q", "worker")
            worker.docker(
                "swarm", "join", "--token", token, "--advertise-addr", f"{subnet}.2", f"{addr}:2377"
            )
            db = tmp_path_factory.mktemp("swarm")
            yield {
                "manager": scan(
                    "host:/", manager.target, db=f"sqlite:///{db / 'm.db'}", netns=manager.netns
                ),
                "worker": scan("host:/", db=f"sqlite:///{db / 'w.db'}", netns=worker.netns),
                "manager_daemon": manager,
            }
        finally:
            worker.docker("swarm", "leave", "--force", check=False)
            manager.docker("swarm", "leave", "--force", check=False)


def _host(verdicts: dict[str, dict[str, tuple[str, str]]]) -> dict[str, tuple[str, str]]:
    return next(v for v in verdicts.values() if "host-swarm-port-bound" in v)


def test_swarm_ports_bound_on_the_manager(swarm: dict[str, Any]) -> None:
    status, message = _host(swarm["manager"])["host-swarm-port-bound"]
    assert status == "pass", message
    for sock in ("2377/tcp", "7946/tcp", "7946/udp"):
        assert sock in message, message


def test_swarm_gossip_port_on_every_interface_fails_on_the_worker(swarm: dict[str, Any]) -> None:
    """CIS v1.8.0 7.2 audits 2377 and 7946. Before: a worker (no 2377, gossip on every
    interface, tcp and udp) was not applicable."""
    status, message = _host(swarm["worker"])["host-swarm-port-bound"]
    assert status == "fail", message
    assert ":7946/tcp" in message and ":7946/udp" in message, message


def test_swarm_manager_engine_verdicts(swarm: dict[str, Any]) -> None:
    engine = next(v for v in swarm["manager"].values() if "engine-icc-disabled" in v)
    assert engine["engine-swarm-mode-disabled"][0] == "fail"
    assert engine["engine-swarm-autolock"][0] == "fail"
    assert engine["engine-remote-logging"][0] == "pass", engine["engine-remote-logging"]
    assert engine["engine-daemon-config-consistent"][0] == "pass"


def test_variant_daemon_config_is_its_own(hardened: State) -> None:
    """The collector reads THIS daemon's --config-file, never /etc/docker/daemon.json."""
    daemon = hardened.evidence["data"]["daemon"]
    assert daemon["config_file"] == str(hardened.daemon.config_file)
    assert json.loads(hardened.daemon.config_file.read_text()) == daemon["daemon_json"]
