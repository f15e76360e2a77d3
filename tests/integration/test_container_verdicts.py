"""CIS section 5 verdicts that depend on what the engine actually did, judged on real containers.

Each case is a container staged on the running dockerd with the docker CLI a user would run
(``-P``, a symlink to /etc mounted, a ``docker exec`` without ``--user``...), read by the
engine collector and judged by the rule. Issue 18 lists the wrong verdicts these pin down.
"""

from __future__ import annotations

import copy
import os
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


# --- a second dockerd: daemon.json "no-new-privileges": true and "ip": "127.0.0.1", a socket not
# named docker.sock ---


@pytest.fixture(scope="module")
def variant() -> Iterator[dict[str, Any]]:
    from tests.dockerd_variant import dockerd_variant

    with tempfile.TemporaryDirectory(prefix="asv-", dir="/tmp") as d:
        extra = Path(d)
        os.chmod(extra, 0o755)
        engine_sock = extra / "engine.sock"
        with dockerd_variant(
            {"no-new-privileges": True, "ip": "127.0.0.1"}, args=("-H", f"unix://{engine_sock}")
        ) as daemon:
            network = f"cv-{daemon.label[:12]}"
            daemon.docker("network", "create", "--label", f"assessor.test={daemon.label}", network)
            # an empty HostIp binds the daemon's "ip" on the default bridge, not on a network
            # of one's own (which has no host_binding_ipv4 option)
            daemon.create("cv-bridge-running", "-p", "18080:80", start=True)
            daemon.create("cv-bridge-stopped", "-p", "18081:80")
            daemon.create("cv-own-network-stopped", "--network", network, "-p", "18082:80")
            for name, flags in {
                "daemon-default": (),
                "opted-out": ("--security-opt", "no-new-privileges=false"),
                "own-opt": ("--security-opt", "no-new-privileges"),
                "socket-folder": ("-v", f"{extra}:/d:ro"),
                "socket-file": ("-v", f"{engine_sock}:/e.sock"),
            }.items():
                daemon.create(f"cv-{name}", *flags)
            evidence = collect_containers(daemon.socket, daemon.label)
            yield {
                "evidence": {k.removeprefix("cv-"): v for k, v in evidence.items()},
                "engine_sock": str(engine_sock),
                "sockets": {daemon.socket, str(engine_sock)},
            }


def test_daemon_no_new_privileges_applies_to_containers(variant: dict[str, Any]) -> None:
    # CIS 5.26 audit: SecurityOpt stays empty when daemon.json sets no-new-privileges
    ev = variant["evidence"]["daemon-default"]
    assert not ev.data["HostConfig"]["SecurityOpt"]
    status, message = verdict("container-no-new-privileges", ev)
    assert status == "pass", message
    assert "daemon" in message and "2.15" in message and "daemon.json" in message


def test_container_opting_out_of_daemon_no_new_privileges_fails(variant: dict[str, Any]) -> None:
    status, message = verdict("container-no-new-privileges", variant["evidence"]["opted-out"])
    assert status == "fail", message
    assert "no-new-privileges=false" in message


def test_container_own_no_new_privileges_says_so(variant: dict[str, Any]) -> None:
    status, message = verdict("container-no-new-privileges", variant["evidence"]["own-opt"])
    assert status == "pass", message
    assert "SecurityOpt" in message


def test_daemon_sockets_come_from_its_configuration(variant: dict[str, Any]) -> None:
    sockets = variant["evidence"]["daemon-default"].data["Assessor"]["DaemonSockets"]
    assert variant["sockets"] <= set(sockets["paths"]), sockets


@pytest.mark.parametrize("name", ["socket-folder", "socket-file"])
def test_mount_of_a_daemon_socket_elsewhere_fails(variant: dict[str, Any], name: str) -> None:
    # the socket is not named docker.sock and lies outside /run: only the daemon's own -H says it
    status, message = verdict("container-docker-socket-not-mounted", variant["evidence"][name])
    assert status == "fail", message
    assert variant["engine_sock"] in message


# --- 5.3: this machine has no SELinux; the SELinux states are the captured document rewritten ---


def _rewritten(ev: Evidence, **observed: Any) -> Evidence:
    doc = copy.deepcopy(ev.document())
    doc["data"]["Assessor"].update(observed)
    return Evidence.from_document(doc)


def test_selinux_host_under_a_daemon_without_it_fails(staged: dict[str, Evidence]) -> None:
    captured = staged["default-caps"]
    observed = captured.data["Assessor"]
    # what the collector read here: no selinuxfs, no selinux in info.SecurityOptions
    assert observed["HostSELinux"] is os.path.exists("/sys/fs/selinux/enforce") is False
    assert "selinux" not in observed["EngineSecurity"]
    status, message = verdict("container-selinux-options", captured)
    assert status == "not_applicable", message
    status, message = verdict("container-selinux-options", _rewritten(captured, HostSELinux=True))
    assert status == "fail", message
    assert "selinux-enabled" in message
    on = sorted({*observed["EngineSecurity"], "selinux"})
    status, message = verdict(
        "container-selinux-options", _rewritten(captured, HostSELinux=True, EngineSecurity=on)
    )
    assert status == "fail", message  # dockerd with SELinux, the container without a label
    remote = _rewritten(captured, HostSELinux=None)
    assert verdict("container-selinux-options", remote)[0] == "not_applicable"


# --- 5.24 on Podman: its exec sessions record no user when --user is not given ---


@pytest.fixture(scope="module")
def podman_execs() -> Iterator[dict[str, Evidence]]:
    import shutil
    import signal
    import subprocess
    import uuid

    from tests.conftest import busybox_rootfs_tar, missing

    if shutil.which("podman") is None:
        missing("podman (run `make test` as root, which installs it)")

    def podman(*args: str, input: bytes | None = None) -> str:
        proc = subprocess.run(
            ["podman", *args], capture_output=True, input=input, timeout=120, check=False
        )
        assert proc.returncode == 0, f"podman {' '.join(args)}: {proc.stderr.decode()}"
        return proc.stdout.decode().strip()

    with tempfile.TemporaryDirectory(prefix="cv-podman-") as d:
        sock = Path(d) / "podman.sock"
        service = subprocess.Popen(
            ["podman", "system", "service", "--time=0", f"unix://{sock}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        label = uuid.uuid4().hex
        image = f"localhost/assessor-test-busybox:{label[:12]}"
        tar = Path(d) / "rootfs.tar"
        tar.write_bytes(busybox_rootfs_tar())
        limits = ("--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024")
        try:
            for _ in range(100):
                if sock.exists():
                    break
                time.sleep(0.1)
            podman("import", "--change", f"LABEL assessor.test={label}", str(tar), image)
            for name, user in (("user", ("--user", "1000")), ("root", ())):
                full = f"cv-{name}-{label[:8]}"
                podman("run", "-d", "--name", full, "--label", f"assessor.test={label}",
                       *limits, *user, image, "sleep", "600")  # fmt: skip
                podman("exec", "-d", full, "sleep", "60")
            evidence = collect_containers(str(sock), label)
            yield {k.removeprefix("cv-"): v for k, v in evidence.items()}
        finally:
            ids = podman("ps", "-aq", "--filter", f"label=assessor.test={label}").split()
            if ids:
                podman("rm", "-f", "-t", "0", *ids)
            podman("rmi", "-f", image)
            os.killpg(service.pid, signal.SIGTERM)
            service.wait(timeout=30)


def test_podman_exec_without_user_runs_as_the_container_user(
    podman_execs: dict[str, Evidence],
) -> None:
    ev = podman_execs["user"]
    assert [e["User"] for e in ev.data["Assessor"]["Execs"]] == [""]  # Podman records none
    status, message = verdict("container-exec-not-root", ev)
    assert status == "pass", message
    assert "1000" in message


def test_podman_exec_without_user_in_root_container_fails(
    podman_execs: dict[str, Evidence],
) -> None:
    status, message = verdict("container-exec-not-root", podman_execs["root"])
    assert status == "fail", message
    assert "root" in message


@pytest.mark.parametrize("name", ["bridge-running", "bridge-stopped"])
def test_daemon_default_bind_address_is_honoured(variant: dict[str, Any], name: str) -> None:
    # '-p 18081:80' requests no address; on the default bridge dockerd binds its "ip" setting
    status, message = verdict("container-ports-bound-to-interface", variant["evidence"][name])
    assert status == "pass", message
    assert "127.0.0.1:1808" in message


def test_own_network_ignores_the_daemon_bind_address(variant: dict[str, Any]) -> None:
    ev = variant["evidence"]["own-network-stopped"]
    status, message = verdict("container-ports-bound-to-interface", ev)
    assert status == "fail", message
    assert "0.0.0.0:18082->80/tcp" in message
