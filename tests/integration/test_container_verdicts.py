"""CIS section 5 verdicts that depend on what the engine actually did, judged on real containers.

Each case is a container staged on the running dockerd with the docker CLI a user would run
(``-P``, a symlink to /etc mounted, a ``docker exec`` without ``--user``...), read by the
engine collector and judged by the rule. Issue 18 lists the wrong verdicts these pin down.
"""

from __future__ import annotations

import os
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from assessor.catalog import load_catalog
from assessor.collectors.engine import EngineCollector
from assessor.evaluate import evaluate_rule
from assessor.evidence import Evidence
from assessor.targets import parse_target
from tests.conftest import SOCKET, Docker

pytestmark = pytest.mark.docker

CATALOG = load_catalog()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        return int(s.getsockname()[1])


def collect_containers(sock: str, label: str) -> dict[str, Evidence]:
    """The engine collector's container evidence of this test's containers, by short name."""
    found: dict[str, Evidence] = {}
    for ev in EngineCollector().collect(parse_target(f"engine:unix://{sock}")):
        if ev.kind == "image":
            break  # images come last; this test reads none
        if ev.kind != "container":
            continue
        labels = (ev.data.get("Config") or {}).get("Labels") or {}
        if labels.get("assessor.test") == label:
            name = str(ev.data.get("Name", "")).lstrip("/")
            found[name.rsplit("-", 1)[0]] = ev
    return found


def verdict(rule: str, ev: Evidence) -> tuple[str, str]:
    result = evaluate_rule(CATALOG.rules[rule], ev)
    return result.status.value, result.message


@pytest.fixture(scope="module")
def host_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="assessor-h2-") as d:
        root = Path(d)
        (root / "etclink").symlink_to("/etc")
        (root / "runlink").symlink_to("/run")
        (root / "sockdir").mkdir()
        # a file named like the daemon's socket, wherever it lies (CIS 5.32 audit: grep docker.sock)
        (root / "sockdir" / "docker.sock").write_text("")
        (root / "plain").mkdir()
        os.chmod(root, 0o755)
        yield root


@pytest.fixture(scope="module")
def staged(docker: Docker, host_dir: Path) -> Iterator[dict[str, Evidence]]:
    wide = free_port()
    cases: dict[str, tuple[tuple[str, ...], bool]] = {
        # 5.14: what is bound, not only what was requested
        "publish-all": (("--expose", "80", "-P"), True),
        "publish-all-stopped": (("--expose", "80", "-P"), False),
        "wide-port": (("-p", f"{wide}:80"), True),
        "local-port": (("-p", "127.0.0.1::80"), True),
        # 5.6: aliases and what lies below the listed directories
        "lib64": (("-v", "/lib64:/l64:ro"), False),
        "etc-alias": (("-v", f"{host_dir / 'etclink'}:/e"), False),
        "usr-sub": (("-v", "/usr/share:/s:ro"), False),
        "narrow": (("-v", f"{host_dir / 'plain'}:/data"), False),
        # 5.32: a docker.sock file anywhere, and folders holding the daemon's socket
        "sock-file": (("-v", f"{host_dir / 'sockdir' / 'docker.sock'}:/x.sock"), False),
        "run-alias": (("-v", f"{host_dir / 'runlink'}:/r:ro"), False),
        "var-run": (("-v", "/var/run:/host/run"), False),
        # 5.24: an exec without --user runs as the container's user
        "user-exec": (("--user", "1000"), True),
        "root-exec": ((), True),
        # 5.4: NET_RAW is in Docker's default set
        "default-caps": ((), False),
        "drop-net-raw": (("--cap-drop", "NET_RAW"), False),
        "drop-all-add-net-raw": (("--cap-drop", "ALL", "--cap-add", "NET_RAW"), False),
    }
    # a network of our own: the default bridge (docker0) is shared with every other test
    network = f"cv-{docker.label[:12]}"
    docker("network", "create", "--label", f"assessor.test={docker.label}", network)
    try:
        for name, (flags, start) in cases.items():
            docker.create(f"cv-{name}", "--network", network, *flags, start=start)
        short = docker.label[:8]
        docker("exec", "-d", f"cv-user-exec-{short}", "sleep", "60")
        docker("exec", "-d", f"cv-root-exec-{short}", "sleep", "60")
        time.sleep(0.5)
        evidence = collect_containers(SOCKET, docker.label)
        yield {k.removeprefix("cv-"): v for k, v in evidence.items()}
    finally:
        docker("rm", "-f", *(f"cv-{n}-{docker.label[:8]}" for n in cases), check=False)
        docker("network", "rm", network, check=False)


# --- 5.14 -------------------------------------------------------------------------------------


def test_publish_all_fails_on_what_is_bound(staged: dict[str, Evidence]) -> None:
    # 'docker run -P' requests no binding (HostConfig.PortBindings is empty); dockerd binds the
    # exposed port on every interface (CIS 5.14 audit reads NetworkSettings.Ports)
    status, message = verdict("container-ports-bound-to-interface", staged["publish-all"])
    assert status == "fail", message
    assert "0.0.0.0:" in message and "80/tcp" in message


def test_publish_all_fails_when_stopped(staged: dict[str, Evidence]) -> None:
    status, message = verdict("container-ports-bound-to-interface", staged["publish-all-stopped"])
    assert status == "fail", message
    assert "80/tcp" in message


def test_explicit_wide_port_fails(staged: dict[str, Evidence]) -> None:
    status, message = verdict("container-ports-bound-to-interface", staged["wide-port"])
    assert status == "fail", message


def test_localhost_port_passes(staged: dict[str, Evidence]) -> None:
    status, message = verdict("container-ports-bound-to-interface", staged["local-port"])
    assert status == "pass", message
    assert "127.0.0.1" in message


# --- 5.6 --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "listed"),
    [("lib64", "/lib64"), ("etc-alias", "/etc"), ("usr-sub", "/usr")],
)
def test_sensitive_mounts_fail_naming_the_directory(
    staged: dict[str, Evidence], name: str, listed: str
) -> None:
    status, message = verdict("container-sensitive-host-paths-not-mounted", staged[name])
    assert status == "fail", message
    assert listed in message, message
    mode = "ro" if name in ("lib64", "usr-sub") else "rw"
    assert f"({mode}" in message, message


def test_mount_sources_are_resolved_by_the_collector(
    staged: dict[str, Evidence], host_dir: Path
) -> None:
    sources = staged["etc-alias"].data["Assessor"]["MountSources"]
    assert sources["resolved"] is True
    assert sources["paths"][str(host_dir / "etclink")] == "/etc"


def test_narrow_mount_passes(staged: dict[str, Evidence]) -> None:
    status, message = verdict("container-sensitive-host-paths-not-mounted", staged["narrow"])
    assert status == "pass", message


# --- 5.32 -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["sock-file", "run-alias", "var-run"])
def test_docker_socket_mounts_fail(staged: dict[str, Evidence], name: str) -> None:
    status, message = verdict("container-docker-socket-not-mounted", staged[name])
    assert status == "fail", message


def test_docker_socket_narrow_mount_passes(staged: dict[str, Evidence]) -> None:
    status, message = verdict("container-docker-socket-not-mounted", staged["narrow"])
    assert status == "pass", message


def test_daemon_sockets_are_in_the_evidence(staged: dict[str, Evidence]) -> None:
    sockets = staged["narrow"].data["Assessor"]["DaemonSockets"]
    assert SOCKET in sockets["paths"]


# --- 5.24 -------------------------------------------------------------------------------------


def test_exec_without_user_in_unprivileged_container_passes(staged: dict[str, Evidence]) -> None:
    status, message = verdict("container-exec-not-root", staged["user-exec"])
    assert status == "pass", message


def test_exec_without_user_in_root_container_fails(staged: dict[str, Evidence]) -> None:
    status, message = verdict("container-exec-not-root", staged["root-exec"])
    assert status == "fail", message


# --- 5.4 --------------------------------------------------------------------------------------


def test_default_capabilities_keep_net_raw_and_fail(staged: dict[str, Evidence]) -> None:
    status, message = verdict("container-capabilities-restricted", staged["default-caps"])
    assert status == "fail", message
    assert "NET_RAW" in message


def test_net_raw_dropped_passes(staged: dict[str, Evidence]) -> None:
    status, message = verdict("container-capabilities-restricted", staged["drop-net-raw"])
    assert status == "pass", message


def test_net_raw_added_back_fails(staged: dict[str, Evidence]) -> None:
    status, message = verdict("container-capabilities-restricted", staged["drop-all-add-net-raw"])
    assert status == "fail", message
    assert "NET_RAW" in message
