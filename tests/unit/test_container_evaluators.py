"""The container evaluators of CIS 5.3, 5.4, 5.6, 5.8, 5.14, 5.24, 5.26 and 5.32, on documents the
engine collector captured (tests/rules/container-*/), with one field changed per case: each
boundary of the benchmark's text, and what the message must name."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from assessor.errors import EvaluationError
from assessor.evaluate.functions import (
    Outcome,
    container_capabilities,
    container_docker_socket_mounted,
    container_execs,
    container_no_new_privileges,
    container_ports_on_all_interfaces,
    container_privileged_ports_mapped,
    container_selinux,
    container_sensitive_mounts,
)

RULES = Path(__file__).resolve().parent.parent / "rules"


def captured(rule: str, case: str) -> dict[str, Any]:
    doc = json.loads((RULES / rule / f"{case}.json").read_text())
    data: dict[str, Any] = copy.deepcopy(doc["data"])
    return data


def run(fn: Callable[[Any, Any], Outcome], data: Any, **args: Any) -> Outcome:
    return fn(data, args)


# --- 5.6 ---------------------------------------------------------------------------------------

MOUNTS = "container-sensitive-host-paths-not-mounted"


def _bind(data: dict[str, Any], source: str, rw: bool, resolved: str | None = None) -> None:
    data["Mounts"] = [{"Type": "bind", "Source": source, "Destination": "/m", "RW": rw}]
    data["Assessor"]["MountSources"] = {
        "resolved": True,
        "root": "/",
        "paths": {source: resolved or source},
    }


@pytest.mark.parametrize(
    ("source", "resolved", "matched"),
    [
        ("/", None, "is /"),
        ("/boot", None, "is /boot"),
        ("/dev", None, "is /dev"),
        ("/etc/ssl", None, "below /etc"),
        ("/lib64", "/usr/lib64", "is /lib64"),
        ("/proc", None, "is /proc"),
        ("/sys/fs", None, "below /sys"),
        ("/usr", None, "is /usr"),
        ("/bin", "/usr/bin", "is /bin"),
        ("/sbin", "/usr/sbin", "is /sbin"),
        ("/root", None, "is /root"),
        ("/var/lib/docker", None, "is /var/lib/docker"),
        ("/var/lib/containerd/x", None, "below /var/lib/containerd"),
        ("/run/containerd", None, "is /run/containerd"),
        ("/srv/etc-link", "/etc", "resolves to /etc, is /etc"),
        ("/srv/lib-link", "/usr/lib/x", "resolves to /usr/lib/x, below /usr"),
    ],
)
def test_sensitive_directory_matched_and_named(source: str, resolved: str, matched: str) -> None:
    data = captured(MOUNTS, "pass-no-mounts")
    _bind(data, source, rw=False, resolved=resolved)
    out = run(container_sensitive_mounts, data)
    assert out.status == "fail"
    assert out.message.endswith(f"{source} -> /m (ro; {matched})"), out.message
    assert "0 read-write, 1 read-only" in out.message


@pytest.mark.parametrize("source", ["/srv/data", "/usrlocal", "/etcetera", "/home/u", "/tmp/x"])
def test_not_sensitive(source: str) -> None:
    data = captured(MOUNTS, "pass-no-mounts")
    _bind(data, source, rw=True)
    out = run(container_sensitive_mounts, data)
    assert out.status == "pass", out.message
    assert (
        out.message == "no sensitive host path is mounted (sources resolved on the engine's host)"
    )


def test_read_write_mounts_come_first() -> None:
    data = captured(MOUNTS, "pass-no-mounts")
    data["Mounts"] = [
        {"Type": "bind", "Source": "/etc", "Destination": "/a", "RW": False},
        {"Type": "bind", "Source": "/usr", "Destination": "/b", "RW": True},
        {"Type": "volume", "Source": "/var/lib/docker/volumes/v/_data", "Destination": "/v"},
    ]
    data["Assessor"]["MountSources"]["paths"] = {"/etc": "/etc", "/usr": "/usr"}
    out = run(container_sensitive_mounts, data)
    assert out.message == (
        "sensitive host paths mounted (1 read-write, 1 read-only; sources resolved on the "
        "engine's host): /usr -> /b (rw; is /usr), /etc -> /a (ro; is /etc)"
    )


def test_remote_engine_sources_are_judged_as_named() -> None:
    data = captured(MOUNTS, "pass-no-mounts")
    _bind(data, "/srv/etc-link", rw=True, resolved="/etc")
    data["Assessor"]["MountSources"] = {"resolved": False, "reason": "a remote engine"}
    out = run(container_sensitive_mounts, data)
    assert out.status == "pass"
    assert "sources as the engine names them (a remote engine)" in out.message


def test_paths_argument_replaces_the_list() -> None:
    data = captured(MOUNTS, "pass-no-mounts")
    _bind(data, "/srv/data", rw=True)
    assert run(container_sensitive_mounts, data, paths=["/srv"]).status == "fail"


@pytest.mark.parametrize("drop", ["Mounts", "Assessor"])
def test_sensitive_mounts_need_their_evidence(drop: str) -> None:
    data = captured(MOUNTS, "pass-no-mounts")
    del data[drop]
    with pytest.raises(EvaluationError):
        run(container_sensitive_mounts, data)


# --- 5.32 --------------------------------------------------------------------------------------

SOCKET = "container-docker-socket-not-mounted"


@pytest.mark.parametrize(
    ("source", "resolved", "why"),
    [
        ("/var/run/docker.sock", "/run/docker.sock", "the daemon's socket /var/run/docker.sock"),
        ("/var/run", "/run", "a folder holding the daemon's socket /var/run/docker.sock"),
        ("/", None, "a folder holding the daemon's socket /run/docker.sock"),
        ("/srv/x/docker.sock", None, "a file named docker.sock (CIS 5.32 audit)"),
        ("/srv/link", "/run", "a folder holding the daemon's socket /run/docker.sock"),
    ],
)
def test_socket_mounts_fail(source: str, resolved: str | None, why: str) -> None:
    data = captured(SOCKET, "pass-no-mounts")
    _bind(data, source, rw=True, resolved=resolved)
    out = run(container_docker_socket_mounted, data)
    assert out.status == "fail"
    assert out.message == f"Docker socket mounted: {source} -> /m ({why})"


def test_a_socket_named_by_the_daemon_elsewhere_fails() -> None:
    data = captured(SOCKET, "pass-no-mounts")
    data["Assessor"]["DaemonSockets"]["paths"] = ["/srv/engine.sock"]
    _bind(data, "/srv", rw=False)
    out = run(container_docker_socket_mounted, data)
    assert out.message == (
        "Docker socket mounted: /srv -> /m (a folder holding the daemon's socket /srv/engine.sock)"
    )
    _bind(data, "/srv/engine.sock", rw=False)
    assert (
        "(the daemon's socket /srv/engine.sock)"
        in run(container_docker_socket_mounted, data).message
    )


@pytest.mark.parametrize("source", ["/run/user", "/var/run2", "/srv/docker.sock.d/x", "/runx"])
def test_socket_near_misses_pass(source: str) -> None:
    data = captured(SOCKET, "pass-no-mounts")
    _bind(data, source, rw=True)
    out = run(container_docker_socket_mounted, data)
    assert out.status == "pass", out.message
    assert out.message.startswith(
        "no mount gives the Docker socket (checked the daemon's sockets: "
    )


def test_socket_rule_needs_the_daemon_sockets() -> None:
    data = captured(SOCKET, "pass-no-mounts")
    del data["Assessor"]["DaemonSockets"]
    with pytest.raises(EvaluationError, match="DaemonSockets"):
        run(container_docker_socket_mounted, data)


# --- 5.14 and 5.8 ------------------------------------------------------------------------------

PORTS = "container-ports-bound-to-interface"


@pytest.mark.parametrize(
    ("ip", "status"), [("", "fail"), ("0.0.0.0", "fail"), ("::", "fail"), ("10.0.0.5", "pass")]
)
def test_bound_addresses(ip: str, status: str) -> None:
    data = captured(PORTS, "pass-localhost")
    data["NetworkSettings"]["Ports"] = {"80/tcp": [{"HostIp": ip, "HostPort": "8080"}]}
    out = run(container_ports_on_all_interfaces, data)
    assert out.status == status, out.message
    shown = f"{ip or '0.0.0.0'}:8080->80/tcp"
    assert out.message.endswith(shown)
    assert "(bound, NetworkSettings.Ports)" in out.message


def test_running_container_ignores_requested_bindings() -> None:
    data = captured(PORTS, "pass-localhost")
    data["HostConfig"]["PortBindings"] = {"80/tcp": [{"HostIp": "", "HostPort": "1"}]}
    data["NetworkSettings"]["Ports"] = {"80/tcp": None}
    out = run(container_ports_on_all_interfaces, data)
    assert out.message == "no published ports (bound, NetworkSettings.Ports)"


def test_stopped_publish_all_binds_each_exposed_port() -> None:
    data = captured(PORTS, "fail-publish-all-stopped")
    data["Config"]["ExposedPorts"] = {"80/tcp": {}, "53/udp": {}}
    out = run(container_ports_on_all_interfaces, data)
    assert out.message.endswith(
        "0.0.0.0:(chosen at start)->53/udp, 0.0.0.0:(chosen at start)->80/tcp"
    )
    data["HostConfig"]["PublishAllPorts"] = False
    assert run(container_ports_on_all_interfaces, data).status == "pass"


@pytest.mark.parametrize(
    ("address", "status"),
    [
        ("127.0.0.1", "pass"),
        ("10.0.0.5", "pass"),
        ("0.0.0.0", "fail"),
        ("::", "fail"),
        (None, "fail"),
    ],
)
def test_stopped_empty_host_ip_binds_the_network_default(address: str | None, status: str) -> None:
    data = captured(PORTS, "pass-localhost-stopped")
    data["HostConfig"]["PortBindings"] = {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}
    data["Assessor"]["DefaultBindIP"] = (
        None if address is None else {"address": address, "from": "network bridge: option X"}
    )
    out = run(container_ports_on_all_interfaces, data)
    assert out.status == status, out.message
    if status == "pass":
        assert out.message.endswith(
            f"; no HostIp binds {address} (network bridge: option X)): {address}:8080->80/tcp"
        )
    # a running container is judged on what was bound, whatever the default says
    data["State"]["Running"] = True
    data["NetworkSettings"]["Ports"] = {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}
    assert run(container_ports_on_all_interfaces, data).status == "fail"


@pytest.mark.parametrize(
    ("port", "status"), [("80", "fail"), ("1023", "fail"), ("1024", "pass"), ("0", "pass")]
)
def test_privileged_port_bound(port: str, status: str) -> None:
    data = captured(PORTS, "pass-localhost")
    data["NetworkSettings"]["Ports"] = {"80/tcp": [{"HostIp": "", "HostPort": port}]}
    out = run(container_privileged_ports_mapped, data)
    assert out.status == status, out.message
    assert ("0.0.0.0:80->80/tcp" in out.message) == (port == "80")


@pytest.mark.parametrize(
    "drop", ["HostConfig.PortBindings", "HostConfig.PublishAllPorts", "State.Running",
             "NetworkSettings.Ports", "State", "NetworkSettings"],
)  # fmt: skip
def test_ports_need_their_evidence(drop: str) -> None:
    for fn in (container_ports_on_all_interfaces, container_privileged_ports_mapped):
        data = captured(PORTS, "pass-localhost")
        node = data
        *parents, leaf = drop.split(".")
        for p in parents:
            node = node[p]
        del node[leaf]
        with pytest.raises(EvaluationError):
            run(fn, data)


# --- 5.24 --------------------------------------------------------------------------------------

EXECS = "container-exec-not-root"


@pytest.mark.parametrize(
    ("exec_user", "config_user", "status", "who"),
    [
        ("", "", "fail", "root (no --user, and the container sets no user)"),
        ("", "0", "fail", "0 (no --user: the container's user)"),
        ("", "root:1000", "fail", "root:1000 (no --user: the container's user)"),
        ("", "1000", "pass", "1000 (default)"),
        ("", "app", "pass", "app (default)"),
        ("0", "1000", "fail", "0"),
        ("00", "1000", "fail", "00"),
        ("0:0", "1000", "fail", "0:0"),
        ("root", "1000", "fail", "root"),
        ("1000:0", "", "pass", "1000:0"),
        ("10", "", "pass", "10"),
    ],
)
def test_exec_user(exec_user: str, config_user: str, status: str, who: str) -> None:
    data = captured(EXECS, "pass-no-user-in-user-1000-container")
    data["Assessor"]["Execs"][0]["User"] = exec_user
    data["Config"]["User"] = config_user
    out = run(container_execs, data, root=True)
    assert out.status == status, out.message
    assert out.message.endswith(f"as {who}"), out.message


def test_exec_needs_the_container_user() -> None:
    data = captured(EXECS, "pass-no-user-in-user-1000-container")
    del data["Config"]["User"]
    with pytest.raises(EvaluationError, match=r"Config\.User"):
        run(container_execs, data, root=True)


# --- 5.26 --------------------------------------------------------------------------------------

NNP = "container-no-new-privileges"


@pytest.mark.parametrize(
    ("options", "daemon", "status", "said"),
    [
        ([], True, "pass", "restricted by the daemon's default (CIS 2.15"),
        ([], False, "fail", "the daemon's default is false (from default)"),
        ([], None, "fail", "the daemon's default could not be read"),
        (["no-new-privileges"], False, "pass", "own SecurityOpt 'no-new-privileges'"),
        (["no-new-privileges:true"], None, "pass", "'no-new-privileges:true'"),
        (["no-new-privileges=1"], False, "pass", "'no-new-privileges=1'"),
        (["no-new-privileges=false"], True, "fail", "'no-new-privileges=false'"),
        (["no-new-privileges:F"], True, "fail", "'no-new-privileges:F'"),
        (["no-new-privileges", "no-new-privileges=0"], True, "fail", "'no-new-privileges=0'"),
        (["no-new-privileges=false", "no-new-privileges"], False, "pass", "'no-new-privileges'"),
        (["seccomp=unconfined"], True, "pass", "the container does not opt out"),
        (["no-new-privilegesX"], True, "pass", "does not opt out"),
    ],
)
def test_no_new_privileges(options: list[str], daemon: bool | None, status: str, said: str) -> None:
    data = captured(NNP, "fail-default")
    data["HostConfig"]["SecurityOpt"] = options or None
    data["Assessor"]["DaemonNoNewPrivileges"]["value"] = daemon
    out = run(container_no_new_privileges, data)
    assert out.status == status, out.message
    assert said in out.message, out.message


def test_unparsable_no_new_privileges_is_an_error() -> None:
    data = captured(NNP, "fail-default")
    data["HostConfig"]["SecurityOpt"] = ["no-new-privileges=maybe"]
    with pytest.raises(EvaluationError, match="maybe"):
        run(container_no_new_privileges, data)


@pytest.mark.parametrize("drop", ["HostConfig", "Assessor"])
def test_no_new_privileges_needs_its_evidence(drop: str) -> None:
    data = captured(NNP, "pass-no-new-privileges")
    del data[drop]
    with pytest.raises(EvaluationError):
        run(container_no_new_privileges, data)


# --- 5.4 ---------------------------------------------------------------------------------------

CAPS = "container-capabilities-restricted"


@pytest.mark.parametrize(
    ("add", "drop", "privileged", "status", "said"),
    [
        (None, None, False, "fail", "keeps NET_RAW"),
        (None, ["NET_RAW"], False, "pass", "NET_RAW removed"),
        (None, ["net_raw"], False, "pass", "NET_RAW removed"),
        (None, ["CAP_NET_RAW"], False, "pass", "NET_RAW removed"),
        (None, ["ALL"], False, "pass", "NET_RAW removed"),
        (["NET_RAW"], ["ALL"], False, "fail", "adds NET_RAW back"),
        (
            ["ALL"],
            ["NET_RAW"],
            False,
            "fail",
            "adds dangerous capabilities: ALL; adds NET_RAW back",
        ),
        (["CHOWN"], ["ALL"], False, "pass", "whether the remaining capabilities are needed"),
        (["cap_sys_admin"], ["ALL"], False, "fail", "adds dangerous capabilities: SYS_ADMIN ("),
        (None, ["ALL"], True, "fail", "runs --privileged"),
    ],
)
def test_capabilities(
    add: list[str] | None, drop: list[str] | None, privileged: bool, status: str, said: str
) -> None:
    data = captured(CAPS, "fail-default-keeps-net-raw")
    data["HostConfig"].update(CapAdd=add, CapDrop=drop, Privileged=privileged)
    out = run(container_capabilities, data)
    assert out.status == status, out.message
    assert said in out.message, out.message


@pytest.mark.parametrize("key", ["CapAdd", "CapDrop"])
def test_capabilities_need_their_evidence(key: str) -> None:
    data = captured(CAPS, "pass-drop-net-raw")
    del data["HostConfig"][key]
    with pytest.raises(EvaluationError, match=key):
        run(container_capabilities, data)


# --- 5.3 ---------------------------------------------------------------------------------------

SELINUX = "container-selinux-options"


@pytest.mark.parametrize(
    ("host", "engine", "options", "label", "status", "said"),
    [
        (False, False, None, "", "not_applicable", "neither the host"),
        (None, False, None, "", "not_applicable", "was not observed"),
        (True, False, None, "", "fail", "without selinux-enabled"),
        (True, True, None, "", "fail", "has no SELinux label"),
        (None, True, None, "", "fail", "has no SELinux label"),
        (True, True, None, "system_u:system_r:container_t:s0", "pass", "container_t"),
        (True, True, ["label=type:spc_t"], "", "pass", "label=type:spc_t"),
        (True, True, ["label:level:s0"], "", "pass", "label:level:s0"),
        (True, True, ["label=disable"], "x_t", "fail", "disabled for this container (label=disable)"),
        (True, True, ["label:disable"], "", "fail", "(label:disable)"),
    ],
)  # fmt: skip
def test_selinux(
    host: bool | None, engine: bool, options: list[str] | None, label: str, status: str, said: str
) -> None:
    data = captured(SELINUX, "not_applicable-no-selinux")
    data["Assessor"]["HostSELinux"] = host
    names = set(data["Assessor"]["EngineSecurity"]) - {"selinux"}
    data["Assessor"]["EngineSecurity"] = sorted(names | ({"selinux"} if engine else set()))
    data["HostConfig"]["SecurityOpt"] = options
    data["ProcessLabel"] = label
    out = run(container_selinux, data)
    assert out.status == status, out.message
    assert said in out.message, out.message


@pytest.mark.parametrize("drop", ["ProcessLabel", "HostConfig", "Assessor"])
def test_selinux_needs_its_evidence(drop: str) -> None:
    data = captured(SELINUX, "pass-process-label")
    del data[drop]
    with pytest.raises(EvaluationError):
        run(container_selinux, data)


# --- the collector's daemon sockets (CIS 5.32) ---------------------------------------------------


@pytest.mark.parametrize(
    ("hosts", "expected"),
    [
        (None, {"/var/run/docker.sock", "/run/docker.sock"}),
        (["unix://"], {"/var/run/docker.sock", "/run/docker.sock"}),
        (["fd://"], {"/var/run/docker.sock", "/run/docker.sock"}),
        (["unix:///srv/engine.sock", "tcp://127.0.0.1:2375"], {"/srv/engine.sock"}),
        (["tcp://0.0.0.0:2376"], set()),
    ],
)
def test_daemon_sockets_from_hosts(hosts: list[str] | None, expected: set[str]) -> None:
    from assessor.collectors.engine import _daemon_sockets
    from assessor.targets import parse_target

    effective = {} if hosts is None else {"hosts": hosts}
    daemon = {"found": True, "effective": effective, "origin": {"hosts": "flag"} if hosts else {}}
    remote = _daemon_sockets(parse_target("engine:tcp://10.0.0.1:2376"), daemon, local=False)
    assert set(remote["paths"]) == expected
    assert remote["hosts_from"] == ("flag" if hosts else "default")
    local = _daemon_sockets(parse_target("engine:unix:///srv/x.sock"), daemon, local=False)
    assert set(local["paths"]) == expected | {"/srv/x.sock"}
