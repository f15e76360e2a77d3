"""Captured golden fixtures: real states, staged here, read by the real collectors.

    .venv/bin/python -m tests.rules.capture            # stage, collect, write the fixtures
    .venv/bin/python -m tests.rules.capture --check    # stage, collect, compare with them
    .venv/bin/python -m tests.rules.capture --only container:hardened   # one case

Four kinds of state are staged, each case with the verdicts it must get **declared here**
from the CIS Docker Benchmark v1.8.0's own audit text (never from what a rule says today: a
capture that wrote whatever the rule answers would lock a wrong verdict in):

- containers on the real dockerd (labelled ``assessor.test=<uuid>``, removed afterwards),
  read by the engine collector (``EngineCollector.collect``, the code a scan runs);
- offline host roots built in a temporary folder (files with modes and owners, daemon.json,
  systemd units, audit rules files, an fstab), read by the host collector as ``host:DIR``;
- image tarballs (docker-archive and OCI layout) written here, read by the image collector;
- dockerds of the capture's own (tests/dockerd_variant.py) with a daemon.json and flags of
  each case, read by the engine collector (over the unix socket, or over TCP as a remote one).

Each (case, rule, status) becomes ``tests/rules/<rule>/<status>-captured-<case>.json``.
Volatile values (ids, times, process ids, addresses, random host ports, temporary paths) are
replaced deterministically, so ``--check`` can tell whether the stored captures are still what
the collectors write; the few values that change from run to run by nature (an image's age in
days) are left out of the comparison (:data:`VOLATILE`).

Registries (tests/registry.py: Debian's docker-registry on 127.0.0.1, plain HTTP and open, or
TLS with a test CA and basic auth) are captured too, read by the registry collector.
"""

from __future__ import annotations

import argparse
import copy
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SOCKET = "/var/run/docker.sock"
FIXED_TIME = "2026-01-01T00:00:00Z"
ZERO_TIME = "0001-01-01T00:00:00Z"
MTIME = 1_767_225_600  # 2026-01-01T00:00:00Z
# values that change between two captures of the same state by nature: not compared by --check
VOLATILE = {
    ("image", "age_days"),
    ("image", "read_at"),
    ("registry", "content.tags.*.age_days"),
}

Expect = dict[str, str]  # rule id -> status the benchmark's text gives this state


# ------------------------------------------------------------------------- containers


@dataclass(frozen=True)
class ContainerCase:
    """One container: docker flags, whether it is started, and the declared verdicts."""

    name: str
    flags: tuple[str, ...]
    expect: Expect
    start: bool = True
    command: tuple[str, ...] = ("sleep", "600")
    user_network: bool = True  # the default bridge's docker0 may be absent on this machine
    execs: tuple[tuple[str, ...], ...] = ()  # docker exec -d ARGS... after the start
    pause: bool = False  # docker pause after the start (and the exec sessions)
    why: str = ""


# Resource settings of a well-configured container (CIS 5.11, 5.12, 5.13, 5.26, 5.29, 5.15,
# 5.27, 4.1): the misconfigured cases leave these alone and change one thing.
HARDENED = (
    "--user", "1000",
    "--read-only",
    "--memory", "64m",
    "--cpu-shares", "512",
    "--pids-limit", "64",
    "--cap-drop", "ALL",
    "--security-opt", "no-new-privileges",
    "--restart", "on-failure:3",
    # a health check whose first probe runs in an hour: its state stays "starting", so two
    # captures see the same state (5.27 audits that a health check is configured and running)
    "--health-cmd", "true", "--health-interval", "1h",
)  # fmt: skip

CONTAINERS: tuple[ContainerCase, ...] = (
    ContainerCase(
        "hardened",
        (*HARDENED, "-p", "127.0.0.1::8080"),
        {
            "container-user-not-root": "pass",  # 4.1: User is not root
            "container-rootfs-read-only": "pass",  # 5.13: ReadonlyRootfs=true
            "container-memory-limited": "pass",  # 5.11: Memory is not 0
            "container-cpu-shares-set": "pass",  # 5.12: CpuShares is not 0 or 1024
            "container-pids-limited": "pass",  # 5.29: PidsLimit is not 0 or -1
            "container-capabilities-restricted": "pass",  # 5.4: everything dropped
            "container-no-new-privileges": "pass",  # 5.26: SecurityOpt no-new-privileges
            "container-restart-policy-on-failure": "pass",  # 5.15: on-failure, 3 tries
            "container-health-checked": "pass",  # 5.27: a health check is running
            "container-ports-bound-to-interface": "pass",  # 5.14: bound to 127.0.0.1 only
            "container-privileged-ports-not-mapped": "pass",  # 5.8: a random port >= 1024
            "container-privileged-disabled": "pass",  # 5.5
            "container-host-network-not-shared": "pass",  # 5.10
            "container-host-pid-not-shared": "pass",  # 5.16
            "container-host-ipc-not-shared": "pass",  # 5.17
            "container-host-uts-not-shared": "pass",  # 5.21
            "container-host-userns-not-shared": "pass",  # 5.31
            "container-sensitive-host-paths-not-mounted": "pass",  # 5.6: no mounts
            "container-docker-socket-not-mounted": "pass",  # 5.32: no mounts
            "container-mount-propagation-not-shared": "pass",  # 5.20: no mounts
            "container-no-host-devices": "pass",  # 5.18: no devices
            "container-seccomp-not-unconfined": "pass",  # 5.22: the default profile
            "container-cgroup-parent-default": "pass",  # 5.25: no cgroup parent
            "container-not-on-default-bridge": "pass",  # 5.1: a user-defined network
            "container-no-sshd": "pass",  # 5.7: only sleep runs
            "container-exec-not-root": "not_applicable",  # 5.24: no exec session
            "container-exec-not-privileged": "not_applicable",  # 5.23: no exec session
        },
    ),
    ContainerCase(
        "defaults",
        (),
        {
            "container-user-not-root": "fail",  # 4.1: runs as root
            "container-rootfs-read-only": "fail",  # 5.13: writable root filesystem
            "container-memory-limited": "fail",  # 5.11: Memory=0
            "container-cpu-shares-set": "fail",  # 5.12: CpuShares=0
            "container-pids-limited": "fail",  # 5.29: no PidsLimit
            "container-health-checked": "fail",  # 5.27: no health check at all
            "container-capabilities-restricted": "fail",  # 5.4: NET_RAW is kept by default
            "container-restart-policy-on-failure": "pass",  # 5.15: "no" is acceptable
            "container-ports-bound-to-interface": "pass",  # 5.14: nothing is published
            "container-privileged-ports-not-mapped": "pass",  # 5.8: nothing is published
            "container-privileged-disabled": "pass",
            "container-no-sshd": "pass",
        },
        why="docker run with no option (on a user-defined network)",
    ),
    ContainerCase(
        "privileged-created",
        ("--privileged",),
        {"container-privileged-disabled": "fail"},  # 5.5: Privileged=true
        start=False,
        why="--privileged cannot start here (the kernel refuses all caps); created only",
    ),
    ContainerCase(
        "host-network",
        ("--network", "host"),
        {"container-host-network-not-shared": "fail"},  # 5.10: NetworkMode=host
        user_network=False,
    ),
    ContainerCase("host-pid", ("--pid", "host"), {"container-host-pid-not-shared": "fail"}),
    ContainerCase("host-ipc", ("--ipc", "host"), {"container-host-ipc-not-shared": "fail"}),
    ContainerCase("host-uts", ("--uts", "host"), {"container-host-uts-not-shared": "fail"}),
    ContainerCase(
        "host-userns", ("--userns", "host"), {"container-host-userns-not-shared": "fail"}
    ),
    ContainerCase(
        "publish-all",
        ("--expose", "80", "-P"),
        # 5.14: -P binds 0.0.0.0 (the engine's actual bindings, not the requested ones);
        # 5.8: the random host port is >= 1024
        {
            "container-ports-bound-to-interface": "fail",
            "container-privileged-ports-not-mapped": "pass",
        },
    ),
    ContainerCase(
        "port-83-all-interfaces",
        ("-p", "83:80"),
        {
            "container-ports-bound-to-interface": "fail",  # 5.14: 0.0.0.0
            "container-privileged-ports-not-mapped": "fail",  # 5.8: host port 83 < 1024
        },
    ),
    ContainerCase(
        "port-high-localhost",
        ("-p", "127.0.0.1:18080:80"),
        {
            "container-ports-bound-to-interface": "pass",
            "container-privileged-ports-not-mapped": "pass",
        },
    ),
    ContainerCase(
        "port-83-stopped",
        ("-p", "83:80"),
        # a stopped container is judged on what it asks for (HostConfig.PortBindings)
        {
            "container-ports-bound-to-interface": "fail",
            "container-privileged-ports-not-mapped": "fail",
            "container-health-checked": "not_applicable",  # 5.27 judges running containers
        },
        start=False,
    ),
    ContainerCase(
        "bind-etc",
        ("-v", "/etc:/host-etc:ro"),
        {"container-sensitive-host-paths-not-mounted": "fail"},  # 5.6: /etc, even read-only
    ),
    ContainerCase(
        "bind-docker-sock",
        ("-v", f"{SOCKET}:/var/run/docker.sock"),
        {"container-docker-socket-not-mounted": "fail"},  # 5.32
    ),
    ContainerCase(
        "bind-tmp-rshared",
        ("-v", "/tmp:/x:rshared"),
        {"container-mount-propagation-not-shared": "fail"},  # 5.20: rshared
        start=False,
    ),
    ContainerCase(
        "limits",
        ("--memory", "64m", "--cpu-shares", "512", "--pids-limit", "100"),
        {
            "container-memory-limited": "pass",
            "container-cpu-shares-set": "pass",
            "container-pids-limited": "pass",
        },
    ),
    ContainerCase(
        "read-only-user",
        ("--read-only", "--user", "1000:1000"),
        {"container-rootfs-read-only": "pass", "container-user-not-root": "pass"},
    ),
    ContainerCase(
        "restart-always",
        ("--restart", "always"),
        {"container-restart-policy-on-failure": "fail"},  # 5.15: always
    ),
    ContainerCase(
        "restart-unless-stopped",
        ("--restart", "unless-stopped"),
        {"container-restart-policy-on-failure": "fail"},
    ),
    ContainerCase(
        "restart-on-failure-5",
        ("--restart", "on-failure:5"),
        {"container-restart-policy-on-failure": "pass"},  # 5.15: at most 5
    ),
    ContainerCase(
        "cap-add-sys-admin",
        ("--cap-add", "SYS_ADMIN"),
        {"container-capabilities-restricted": "fail"},  # 5.4
    ),
    ContainerCase(
        "cap-drop-net-raw",
        ("--cap-drop", "NET_RAW"),
        {"container-capabilities-restricted": "pass"},  # 5.4: the benchmark's example dropped
    ),
    ContainerCase(
        "paused",
        ("--memory", "64m"),
        # a paused container is still running (its processes are frozen): judged as running
        {"container-memory-limited": "pass", "container-health-checked": "fail"},
        pause=True,
    ),
    ContainerCase(
        "seccomp-unconfined",
        ("--security-opt", "seccomp=unconfined"),
        {"container-seccomp-not-unconfined": "fail"},  # 5.22
    ),
    ContainerCase(
        "no-new-privileges",
        ("--security-opt", "no-new-privileges"),
        {"container-no-new-privileges": "pass"},  # 5.26
    ),
    ContainerCase(
        "device",
        ("--device", "/dev/null:/dev/xnull"),
        {"container-no-host-devices": "fail"},  # 5.18
    ),
    ContainerCase(
        "cgroup-parent",
        ("--cgroup-parent", "/assessor-capture"),
        {"container-cgroup-parent-default": "fail"},  # 5.25
        start=False,
    ),
    ContainerCase(
        "default-bridge",
        (),
        {"container-not-on-default-bridge": "fail"},  # 5.1: NetworkMode default (docker0)
        start=False,
        user_network=False,
    ),
    ContainerCase(
        "health-check",
        ("--health-cmd", "true", "--health-interval", "1h"),
        {"container-health-checked": "pass"},  # 5.27
    ),
    ContainerCase(
        "sshd",
        (),
        {"container-no-sshd": "fail"},  # 5.7: a process named sshd runs in it
        command=("/usr/sbin/sshd",),
    ),
    ContainerCase(
        "exec-root",
        (),
        {
            "container-exec-not-root": "fail",  # 5.24: docker exec -u 0
            "container-exec-not-privileged": "pass",  # 5.23: not --privileged
        },
        execs=(("-u", "0"),),
    ),
    ContainerCase(
        "exec-as-container-user",
        ("--user", "1000"),
        # 5.24: an exec without --user runs as the container's user, here 1000
        {"container-exec-not-root": "pass", "container-exec-not-privileged": "pass"},
        execs=((),),
    ),
    ContainerCase(
        "exited",
        ("-p", "127.0.0.1:18081:80"),
        {
            "container-health-checked": "not_applicable",  # not running
            "container-ports-bound-to-interface": "pass",
            "container-privileged-disabled": "pass",
        },
        command=("true",),
    ),
)


class Docker:
    """The docker CLI, on objects this capture labelled only."""

    def __init__(self, label: str) -> None:
        cli = next(
            (c for c in ("/usr/bin/docker", shutil.which("docker")) if c and os.access(c, os.X_OK)),
            None,
        )
        if cli is None or not os.path.exists(SOCKET):
            raise SystemExit("capture: needs the docker CLI and a running dockerd")
        self.cli = cli
        self.label = label

    def __call__(self, *args: str, check: bool = True, data: bytes | None = None) -> str:
        proc = subprocess.run(
            [self.cli, *args], capture_output=True, input=data, timeout=120, check=False
        )
        if check and proc.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args)}: {proc.stderr.decode().strip()}")
        return proc.stdout.decode().strip()

    def cleanup(self) -> None:
        ids = self("ps", "-aq", "--filter", f"label=assessor.test={self.label}", check=False)
        if ids.split():
            self("rm", "-f", *ids.split(), check=False)
        nets = self("network", "ls", "-q", "--filter", f"label=assessor.test={self.label}")
        if nets.split():
            self("network", "rm", *nets.split(), check=False)
        images = self("images", "-q", "--filter", f"label=assessor.test={self.label}")
        if images.split():
            self("rmi", "-f", *sorted(set(images.split())), check=False)


def busybox_rootfs() -> bytes:
    """busybox-static and a script named sshd (the kernel calls its shell "sshd")."""
    busybox = Path("/bin/busybox")
    if not busybox.exists():
        raise SystemExit("capture: needs busybox-static (/bin/busybox)")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in ("bin", "tmp", "etc", "usr", "usr/sbin"):
            info = tarfile.TarInfo(d)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, MTIME
            tar.addfile(info)
        info = tar.gettarinfo(str(busybox), "bin/busybox")
        info.mtime = MTIME
        with busybox.open("rb") as f:
            tar.addfile(info, f)
        for applet in ("sh", "sleep", "true", "ls"):
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname, link.mtime = tarfile.SYMTYPE, "busybox", MTIME
            tar.addfile(link)
        script = b"#!/bin/sh\nwhile :; do sleep 60; done\n"
        info = tarfile.TarInfo("usr/sbin/sshd")
        info.mode, info.size, info.mtime = 0o755, len(script), MTIME
        tar.addfile(info, io.BytesIO(script))
    return buf.getvalue()


def capture_containers(cases: list[ContainerCase]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Stage ``cases`` on the real dockerd; yield (case name, the collector's document)."""
    from assessor.collectors.engine import EngineCollector
    from assessor.targets import parse_target

    label = uuid.uuid4().hex
    docker = Docker(label)
    tag = label[:8]
    image = f"assessor-capture/busybox:{tag}"
    network = f"capture-{tag}"
    names: dict[str, str] = {}
    try:
        docker(
            "import", "--change", f"LABEL assessor.test={label}", "-", image,
            data=busybox_rootfs(),
        )  # fmt: skip
        docker("network", "create", "--label", f"assessor.test={label}", network)
        for case in cases:
            name = f"capture-{case.name}-{tag}"
            names[name] = case.name
            net = ("--network", network) if case.user_network else ()
            docker(
                "create", "--label", f"assessor.test={label}", "--name", name,
                *net, *case.flags, image, *case.command,
            )  # fmt: skip
            if case.start:
                docker("start", name)
            for args in case.execs:
                docker("exec", "-d", *args, name, "sleep", "600")
            if case.pause:
                docker("pause", name)
        # the exited case has run to its end; the exec sessions have started
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            states = docker("ps", "-a", "--filter", f"label=assessor.test={label}",
                            "--format", "{{.Names}} {{.State}}")  # fmt: skip
            if all(
                (state in ("running", "paused")) == _case(cases, names, n).start
                or (_case(cases, names, n).command == ("true",) and state == "exited")
                for n, state in (line.split() for line in states.splitlines())
            ):
                break
            time.sleep(0.2)
        time.sleep(0.5)
        target = parse_target(f"engine:unix://{SOCKET}")
        collector = EngineCollector()
        stream = collector.collect(target)
        wanted = len(names)
        found = 0
        try:
            engine = next(stream)
            total = int(engine.data["containers"]["total"])
            for _ in range(total):
                ev = next(stream)
                if ev.kind != "container":
                    break
                cname = str(ev.data.get("Name", "")).lstrip("/")
                if cname in names:
                    found += 1
                    yield names[cname], _normalise_container(ev.document(), label, cname)
                if found == wanted:
                    break
        finally:
            stream.close()  # never reach the export of every local image
    finally:
        docker.cleanup()


def _case(cases: list[ContainerCase], names: dict[str, str], name: str) -> ContainerCase:
    return next(c for c in cases if c.name == names.get(name, ""))


_HEX64 = re.compile(r"[0-9a-f]{64}")
_IP_KEYS = {
    "IPAddress": "172.30.0.2",
    "Gateway": "172.30.0.1",
    "MacAddress": "02:42:ac:1e:00:02",
    "GlobalIPv6Address": "",
    "IPv6Gateway": "",
    "LinkLocalIPv6Address": "",
}


def _fake_hex(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


def _normalise_container(doc: dict[str, Any], label: str, name: str) -> dict[str, Any]:
    """Ids, times, pids, addresses, random ports and the run's label made deterministic."""
    stable = name.replace(f"-{label[:8]}", "")
    text = json.dumps(doc, sort_keys=True)
    ids: dict[str, str] = {}
    for m in _HEX64.finditer(text):
        ids.setdefault(m.group(0), _fake_hex(f"{stable}:{len(ids)}"))
    for old, new in ids.items():
        text = text.replace(old, new).replace(old[:12], new[:12])
    text = text.replace(label, "capture").replace(f"-{label[:8]}", "")
    text = text.replace(f"busybox:{label[:8]}", "busybox:capture")
    doc = json.loads(text)
    data = doc["data"]
    data["Created"] = FIXED_TIME
    state = data["State"]
    for key in ("StartedAt", "FinishedAt"):
        if state.get(key) not in (None, ZERO_TIME):
            state[key] = FIXED_TIME
    if state.get("Pid"):
        state["Pid"] = 4242
    health = state.get("Health")
    if isinstance(health, dict):
        for entry in health.get("Log") or []:
            entry.update(Start=FIXED_TIME, End=FIXED_TIME)
    settings = data.get("NetworkSettings") or {}
    for scope in (settings, *(settings.get("Networks") or {}).values()):
        for key, value in _IP_KEYS.items():
            if scope.get(key):
                scope[key] = value
        if scope.get("IPPrefixLen"):  # the pool dockerd carved the network's subnet from
            scope["IPPrefixLen"] = 16
    ports: dict[str, str] = {}
    for bindings in (settings.get("Ports") or {}).values():
        for b in bindings or []:
            if b.get("HostPort", "").isdigit() and int(b["HostPort"]) >= 32768:
                b["HostPort"] = ports.setdefault(b["HostPort"], str(49153 + len(ports)))
    return doc


# ------------------------------------------------------------------------- host roots


@dataclass(frozen=True)
class HostFile:
    path: str
    mode: int
    uid: int = 0
    gid: int = 0
    text: str | None = None  # None: a directory (or a socket when socket=True)
    socket: bool = False


@dataclass(frozen=True)
class HostCase:
    name: str
    files: tuple[HostFile, ...]
    expect: Expect


PASSWD = "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n"
GROUP = "root:x:0:\ndocker:x:998:alice\nalice:x:1000:\n"
DAEMON_JSON = json.dumps(
    {
        "tls": True,
        "tlsverify": True,
        "tlscacert": "/etc/docker/tls/ca.pem",
        "tlscert": "/etc/docker/tls/server-cert.pem",
        "tlskey": "/etc/docker/tls/server-key.pem",
        "icc": False,
    },
    indent=2,
)
UNIT = (
    "[Service]\nExecStart=/usr/bin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock\n"
)
SOCKET_UNIT = "[Socket]\nListenStream=/run/docker.sock\nSocketMode=0660\n"
AUDIT_RULES = "\n".join(
    f"-w {p} -p wa -k docker"
    for p in (
        "/usr/bin/dockerd",
        "/etc/docker",
        "/etc/docker/daemon.json",
        "/lib/systemd/system/docker.service",
        "/lib/systemd/system/docker.socket",
        "/usr/bin/runc",
        "/usr/bin/containerd",
        "/var/lib/docker",
    )
)


def _host_files(
    *, dir_mode: int, file_mode: int, uid: int, sock_mode: int, cert_mode: int, key_mode: int
) -> tuple[HostFile, ...]:
    return (
        HostFile("/etc/passwd", 0o644, text=PASSWD),
        HostFile("/etc/group", 0o644, text=GROUP),
        HostFile("/etc/hostname", 0o644, text="capture-host\n"),
        HostFile("/etc/docker", dir_mode, uid, uid),
        HostFile("/etc/docker/daemon.json", file_mode, uid, uid, DAEMON_JSON),
        HostFile("/etc/docker/tls", 0o755),
        HostFile("/etc/docker/tls/ca.pem", cert_mode, uid, uid, "ca\n"),
        HostFile("/etc/docker/tls/server-cert.pem", cert_mode, uid, uid, "cert\n"),
        HostFile("/etc/docker/tls/server-key.pem", key_mode, uid, uid, "key\n"),
        HostFile("/etc/docker/certs.d", 0o755),
        HostFile("/etc/docker/certs.d/registry.example:5000", 0o755),
        HostFile("/etc/docker/certs.d/registry.example:5000/ca.crt", cert_mode, uid, uid, "c\n"),
        HostFile("/etc/default/docker", file_mode, uid, uid, 'DOCKER_OPTS=""\n'),
        HostFile("/etc/sysconfig/docker", file_mode, uid, uid, "OPTIONS=\n"),
        HostFile("/lib/systemd/system/docker.service", file_mode, uid, uid, UNIT),
        HostFile("/lib/systemd/system/docker.socket", file_mode, uid, uid, SOCKET_UNIT),
        HostFile("/var/run/docker.sock", sock_mode, uid, 998 if uid == 0 else uid, socket=True),
        HostFile("/run/containerd/containerd.sock", sock_mode, uid, uid, socket=True),
        HostFile("/usr/bin/dockerd", 0o755, text="#!/bin/sh\n"),
        HostFile("/usr/bin/containerd", 0o755, text="#!/bin/sh\n"),
        HostFile("/usr/bin/runc", 0o755, text="#!/bin/sh\n"),
        HostFile("/var/lib/docker", 0o710),
    )


_FILE_RULES = (
    "host-etc-docker-mode-755",  # 3.6: /etc/docker 755 or stricter
    "host-etc-docker-owner-root",  # 3.5
    "host-daemon-json-mode-644",  # 3.18
    "host-daemon-json-owner-root",  # 3.17
    "host-docker-service-mode-644",  # 3.2
    "host-docker-service-owner-root",  # 3.1
    "host-docker-socket-unit-mode-644",  # 3.4
    "host-docker-socket-unit-owner-root",  # 3.3
    "host-etc-default-docker-mode-644",  # 3.20
    "host-etc-default-docker-owner-root",  # 3.19
    "host-etc-sysconfig-docker-mode-644",  # 3.24
    "host-etc-sysconfig-docker-owner-root",  # 3.23
    "host-docker-sock-mode-660",  # 3.16
    "host-docker-sock-owner-root-docker",  # 3.15
    "host-containerd-sock-mode-660",  # 3.22
    "host-containerd-sock-owner-root",  # 3.21
    "host-registry-certs-mode-444",  # 3.8
    "host-registry-certs-owner-root",  # 3.7
    "host-tls-ca-cert-mode-444",  # 3.10
    "host-tls-ca-cert-owner-root",  # 3.9
    "host-tls-server-cert-mode-444",  # 3.12
    "host-tls-server-cert-owner-root",  # 3.11
    "host-tls-server-key-mode-400",  # 3.14
    "host-tls-server-key-owner-root",  # 3.13
)

# auditd's matching (auditctl(8)): -w on a directory and -F dir= watch the whole subtree,
# -F path= one path only, and an "-a never" rule suppresses instead of auditing
AUDIT_FIELD_RULES = "\n".join(
    (
        "-a always,exit -F arch=b64 -F path=/run/containerd -F perm=wa -k docker",
        "-a always,exit -F arch=b64 -F dir=/etc/docker -F perm=wa -k docker",
        "-a never,exit -F arch=b64 -F path=/usr/bin/runc -F perm=wa",
        "-w /usr/bin/dockerd -p wa -k docker",
    )
)
HOSTS: tuple[HostCase, ...] = (
    HostCase(
        "offline-hardened",
        (
            *_host_files(
                dir_mode=0o755,
                file_mode=0o644,
                uid=0,
                sock_mode=0o660,
                cert_mode=0o444,
                key_mode=0o400,
            ),
            HostFile("/etc/audit/rules.d/docker.rules", 0o640, text=AUDIT_RULES + "\n"),
            HostFile(
                "/etc/fstab",
                0o644,
                text="/dev/sda1 / ext4 defaults 0 1\n/dev/sdb1 /var/lib/docker ext4 defaults 0 2\n",
            ),
        ),
        {
            **dict.fromkeys(_FILE_RULES, "pass"),
            # 1.1.1: the data root is its own mount point
            "host-docker-data-root-separate-partition": "pass",
            # 1.1.3 ff.: the rules files of an offline root watch each of these
            "host-audit-dockerd": "pass",
            "host-audit-etc-docker": "pass",
            "host-audit-docker-service": "pass",
            "host-audit-runc": "pass",
        },
    ),
    HostCase(
        "offline-loose",
        (
            *_host_files(
                dir_mode=0o777,
                file_mode=0o666,
                uid=1000,
                sock_mode=0o666,
                cert_mode=0o644,
                key_mode=0o644,
            ),
            HostFile(
                "/etc/fstab",
                0o644,
                text="/dev/sda1 / ext4 defaults 0 1\n/dev/sdb1 /var ext4 defaults 0 2\n",
            ),
        ),
        {
            **dict.fromkeys(_FILE_RULES, "fail"),
            # 1.1.1: /var is a partition, but the data root /var/lib/docker is not its own
            "host-docker-data-root-separate-partition": "fail",
            # 1.1.3 ff.: no audit rules at all
            "host-audit-dockerd": "fail",
            "host-audit-etc-docker": "fail",
            "host-audit-docker-service": "fail",
            "host-audit-runc": "fail",
        },
    ),
    HostCase(
        "offline-audit-fields",
        (
            *_host_files(
                dir_mode=0o755,
                file_mode=0o644,
                uid=0,
                sock_mode=0o660,
                cert_mode=0o444,
                key_mode=0o400,
            ),
            HostFile("/etc/audit/rules.d/docker.rules", 0o640, text=AUDIT_FIELD_RULES + "\n"),
        ),
        {
            "host-audit-run-containerd": "pass",  # 1.1.17: -F path=/run/containerd
            "host-audit-containerd-sock": "fail",  # 1.1.18: path= does not reach below it
            "host-audit-etc-docker": "pass",  # 1.1.5: -F dir=/etc/docker
            "host-audit-daemon-json": "pass",  # 1.1.9: below the dir= rule
            "host-audit-runc": "fail",  # 1.1.14: only a "never" rule names it
            "host-audit-dockerd": "pass",  # 1.1.3: -w /usr/bin/dockerd
        },
    ),
)


def _build_root(root: Path, files: tuple[HostFile, ...]) -> list[socket.socket]:
    held: list[socket.socket] = []
    for f in files:
        path = root / f.path.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        if f.socket:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(str(path))
            held.append(s)
        elif f.text is None:
            path.mkdir(exist_ok=True)
        else:
            path.write_text(f.text)
        os.chown(path, f.uid, f.gid)
        os.chmod(path, f.mode)
    return held


def capture_hosts(cases: list[HostCase]) -> Iterator[tuple[str, dict[str, Any]]]:
    from assessor.collectors.host import HostCollector
    from assessor.targets import parse_target

    for case in cases:
        with tempfile.TemporaryDirectory(prefix="assessor-capture-") as tmp:
            root = Path(tmp) / "root"
            root.mkdir()
            held = _build_root(root, case.files)
            try:
                (ev,) = list(HostCollector().collect(parse_target(f"host:{root}")))
            finally:
                for s in held:
                    s.close()
            text = json.dumps(ev.document(), sort_keys=True)
            text = text.replace(str(root), f"/srv/capture/{case.name}")
            yield case.name, json.loads(text)


# ------------------------------------------------------------------------- images


@dataclass(frozen=True)
class ImageCase:
    name: str
    config: dict[str, Any]
    layers: tuple[tuple[tuple[str, int, bytes | None], ...], ...]
    history: tuple[str, ...]  # created_by of each layer, in order
    expect: Expect
    oci: bool = False
    extra_history: tuple[str, ...] = field(default=())  # empty-layer steps, after the layers


_BASE_LAYER: tuple[tuple[str, int, bytes | None], ...] = (
    ("bin", 0o755, None),
    ("bin/sh", 0o755, b"#!fake shell\n"),
    ("etc", 0o755, None),
    ("etc/passwd", 0o644, b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/app:/bin/sh\n"),
    ("tmp", 0o1777, None),
)
_BASE_STEP = "/bin/sh -c #(nop) ADD file:5d8e0cdd5e4b2a1f in / "
_APP_LAYER: tuple[tuple[str, int, bytes | None], ...] = (
    ("app", 0o755, None),
    ("app/run", 0o755, b"#!/bin/sh\necho ok\n"),
)

CHAR_DEVICE = b"\0char-device"  # an entry of this content is written as a device node
_UPDATE_STEP = "/bin/sh -c apt-get update"

IMAGES: tuple[ImageCase, ...] = (
    ImageCase(
        "user-and-healthcheck",
        {
            "User": "1000",
            "Healthcheck": {"Test": ["CMD", "/app/run"], "Interval": 30_000_000_000},
            "Cmd": ["/app/run"],
        },
        (_BASE_LAYER, _APP_LAYER),
        (_BASE_STEP, "/bin/sh -c #(nop) COPY dir:0a1b2c3d in /app "),
        {
            "image-user-not-root": "pass",  # 4.1: USER 1000
            "image-healthcheck": "pass",  # 4.6: HEALTHCHECK set
            "image-setuid-removed": "pass",  # 4.8: no setuid or setgid file
            "image-copy-not-add": "pass",  # 4.9: COPY (the base rootfs ADD is the exception)
            "image-no-secrets": "pass",  # 4.10: nothing secret in ENV or files
            "image-no-update-alone": "pass",  # 4.7: no update step
            "image-no-ssh-server": "pass",  # no sshd or telnetd in the image
            "image-no-remote-shell-port": "pass",  # nothing exposed
            "image-no-device-files": "pass",
            "image-no-world-writable": "pass",  # /tmp is 1777: sticky
        },
    ),
    ImageCase(
        "remote-add",
        {"User": "1000", "Cmd": ["/app/run"]},
        (_BASE_LAYER, _APP_LAYER),
        (_BASE_STEP, "/bin/sh -c #(nop) ADD https://example.com/app.tar.gz /app "),
        {"image-copy-not-add": "fail"},  # 4.9: ADD of a remote URL, the worst case
    ),
    ImageCase(
        "update-alone",
        {"User": "1000", "Cmd": ["/app/run"]},
        (_BASE_LAYER, _APP_LAYER, (("var", 0o755, None),)),
        (
            _BASE_STEP,
            "/bin/sh -c #(nop) COPY dir:0a1b2c3d in /app ",
            _UPDATE_STEP,
        ),
        {"image-no-update-alone": "fail"},  # 4.7: apt-get update in a step of its own
    ),
    ImageCase(
        "device-and-writable",
        {"User": "1000", "Cmd": ["/app/run"]},
        (
            _BASE_LAYER,
            (
                ("app", 0o755, None),
                ("app/data", 0o666, b"shared\n"),
                ("app/spool", 0o777, None),
                ("dev", 0o755, None),
                ("dev/xnull", 0o666, CHAR_DEVICE),
            ),
        ),
        (_BASE_STEP, "/bin/sh -c #(nop) COPY dir:1c2d3e4f in / "),
        {"image-no-device-files": "fail", "image-no-world-writable": "fail"},
    ),
    ImageCase(
        "ssh-server",
        {"User": "1000", "Cmd": ["/usr/sbin/sshd", "-D"], "ExposedPorts": {"22/tcp": {}}},
        (
            _BASE_LAYER,
            (
                ("usr", 0o755, None),
                ("usr/sbin", 0o755, None),
                ("usr/sbin/sshd", 0o755, b"#!fake sshd\n"),
            ),
        ),
        (_BASE_STEP, "/bin/sh -c #(nop) COPY file:5e6f7a8b in /usr/sbin/sshd "),
        # 4.4 (unnecessary packages) and 5.7's reason: an SSH server, and its port exposed
        {"image-no-ssh-server": "fail", "image-no-remote-shell-port": "fail"},
    ),
    ImageCase(
        "root-no-healthcheck",
        {"Cmd": ["/app/run"]},
        (_BASE_LAYER, _APP_LAYER),
        (_BASE_STEP, "/bin/sh -c #(nop) COPY dir:0a1b2c3d in /app "),
        {
            "image-user-not-root": "fail",  # 4.1: no USER, runs as root
            "image-healthcheck": "fail",  # 4.6: no HEALTHCHECK
        },
        oci=True,
    ),
    ImageCase(
        "setuid-file",
        {"User": "1000", "Cmd": ["/app/run"]},
        (_BASE_LAYER, (("app", 0o755, None), ("app/helper", 0o4755, b"#!helper\n"))),
        (_BASE_STEP, "/bin/sh -c #(nop) COPY file:9f8e7d6c in /app/helper "),
        # 4.8 is a Manual recommendation: the setuid files are listed for the reviewer
        {"image-setuid-removed": "manual"},
    ),
    ImageCase(
        "add-local-archive",
        {"User": "1000", "Cmd": ["/app/run"]},
        (_BASE_LAYER, _APP_LAYER),
        (_BASE_STEP, "/bin/sh -c #(nop) ADD file:77aa55cc44dd in /app "),
        {"image-copy-not-add": "fail"},  # 4.9: ADD in the image's own build steps
    ),
    ImageCase(
        "leaky-env",
        {
            "User": "1000",
            "Cmd": ["/app/run"],
            "Env": ["PATH=/bin", "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"],
        },
        (_BASE_LAYER, _APP_LAYER),
        (_BASE_STEP, "/bin/sh -c #(nop) COPY dir:0a1b2c3d in /app "),
        {"image-no-secrets": "fail"},  # 4.10: a secret in the image's environment
    ),
)


def _tar_layer(entries: tuple[tuple[str, int, bytes | None], ...]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, mode, data in entries:
            info = tarfile.TarInfo(path)
            info.mtime, info.mode = MTIME, mode
            if data is CHAR_DEVICE:  # the 1:3 of /dev/null
                info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
                tar.addfile(info)
            elif data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _image_config(case: ImageCase, layers: list[bytes]) -> bytes:
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "2026-01-01T00:00:00Z",
        "config": {"Env": ["PATH=/bin"], **case.config},
        "rootfs": {"type": "layers", "diff_ids": [_sha(layer) for layer in layers]},
        "history": [
            *({"created": "2026-01-01T00:00:00Z", "created_by": step} for step in case.history),
            *(
                {"created": "2026-01-01T00:00:00Z", "created_by": step, "empty_layer": True}
                for step in case.extra_history
            ),
        ],
    }
    return json.dumps(config, sort_keys=True).encode()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), MTIME, 0o644
    tar.addfile(info, io.BytesIO(data))


def write_image(case: ImageCase, out: Path) -> str:
    """Write ``case`` as a docker-archive tarball or an OCI layout; return its target."""
    layers = [_tar_layer(entries) for entries in case.layers]
    config = _image_config(case, layers)
    if not case.oci:
        path = out / f"{case.name}.tar"
        with tarfile.open(path, "w") as tar:
            names = []
            for layer in layers:
                name = f"{hashlib.sha256(layer).hexdigest()}/layer.tar"
                _add(tar, name, layer)
                names.append(name)
            config_name = f"{hashlib.sha256(config).hexdigest()}.json"
            _add(tar, config_name, config)
            manifest = [
                {
                    "Config": config_name,
                    "RepoTags": [f"capture/{case.name}:1"],
                    "Layers": names,
                }
            ]
            _add(tar, "manifest.json", json.dumps(manifest).encode())
        return f"image:docker-archive:{path}"
    layout = out / case.name
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def blob(data: bytes) -> dict[str, Any]:
        (blobs / hashlib.sha256(data).hexdigest()).write_bytes(data)
        return {"digest": _sha(data), "size": len(data)}

    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **blob(config)},
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                **blob(gzip.compress(layer, mtime=0)),
            }
            for layer in layers
        ],
    }
    data = json.dumps(manifest, sort_keys=True).encode()
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                **blob(data),
                "annotations": {"org.opencontainers.image.ref.name": "1"},
            }
        ],
    }
    (layout / "index.json").write_text(json.dumps(index))
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    return f"image:oci:{layout}:1"


def capture_images(cases: list[ImageCase]) -> Iterator[tuple[str, dict[str, Any]]]:
    from assessor.collectors.image import ImageCollector
    from assessor.targets import parse_target

    with tempfile.TemporaryDirectory(prefix="assessor-capture-") as tmp:
        for case in cases:
            target = write_image(case, Path(tmp))
            (ev,) = list(ImageCollector().collect(parse_target(target)))
            text = json.dumps(ev.document(), sort_keys=True).replace(tmp, "/srv/capture")
            yield case.name, json.loads(text)


# ------------------------------------------------------------------------- engines


@dataclass(frozen=True)
class EngineCase:
    """A dockerd of the capture's own (tests/dockerd_variant.py: its own data root, sockets
    and network namespace) started with ``daemon_json``, read by the engine collector."""

    name: str
    daemon_json: dict[str, Any]
    expect: Expect
    args: tuple[str, ...] = ()  # dockerd flags ("{port}" becomes a free TCP port)
    remote: bool = False  # read over its TCP listener, as a remote engine is


ENGINES: tuple[EngineCase, ...] = (
    EngineCase(
        "daemon-defaults",
        {},
        {
            "engine-icc-disabled": "fail",  # 2.2: icc is on by default
            "engine-log-level-info": "pass",  # 2.3: info is the default
            "engine-iptables-enabled": "pass",  # 2.4: on by default
            "engine-insecure-registries-absent": "pass",  # 2.5: none
            "engine-storage-driver-not-aufs": "pass",  # 2.6: overlay2
            "engine-storage-driver-not-devicemapper": "pass",
            "engine-tls-authentication": "not_applicable",  # 2.7: a unix socket only
            "engine-userns-remap-enabled": "fail",  # 2.10: no user namespace remapping
            "engine-cgroup-parent-default": "pass",  # 2.11: the default cgroup parent
            "engine-authorization-plugin-enabled": "fail",  # 2.12: no authorization plugin
            "engine-remote-logging": "fail",  # 2.13: json-file is local logging
            "engine-live-restore-enabled": "fail",  # 2.14: off by default
            "engine-userland-proxy-disabled": "fail",  # 2.15: on by default
            "engine-seccomp-profile-not-unconfined": "pass",  # 2.16: the default profile
            "engine-experimental-disabled": "pass",  # 2.17
            "engine-no-new-privileges-enabled": "fail",  # 2.18: off by default
            "engine-swarm-mode-disabled": "pass",  # 7.1: swarm inactive
        },
    ),
    EngineCase(
        "daemon-hardened",
        {
            "icc": False,
            "live-restore": True,
            "userland-proxy": False,
            "no-new-privileges": True,
            "log-level": "info",
        },
        {
            "engine-icc-disabled": "pass",
            "engine-log-level-info": "pass",
            "engine-live-restore-enabled": "pass",
            "engine-userland-proxy-disabled": "pass",
            "engine-no-new-privileges-enabled": "pass",
        },
    ),
    EngineCase(
        "daemon-loose",
        {
            "log-level": "debug",
            "insecure-registries": ["10.10.0.0/16", "registry.example:5000"],
            "experimental": True,
            "iptables": False,
        },
        {
            "engine-log-level-info": "fail",  # 2.3: debug
            "engine-insecure-registries-absent": "fail",  # 2.5
            "engine-experimental-disabled": "fail",  # 2.17
            "engine-iptables-enabled": "fail",  # 2.4: iptables false
        },
    ),
    EngineCase(
        "daemon-flags",
        {},
        {
            "engine-icc-disabled": "pass",  # 2.2: --icc=false
            "engine-userland-proxy-disabled": "pass",  # 2.15: --userland-proxy=false
            "engine-no-new-privileges-enabled": "pass",  # 2.18: --no-new-privileges
            "engine-log-level-info": "fail",  # 2.3: --log-level=warn
        },
        args=("--icc=false", "--userland-proxy=false", "--no-new-privileges", "--log-level=warn"),
    ),
    EngineCase(
        "engine-over-tcp",
        {},
        # read over TCP, the engine is remote: what only dockerd's command line and
        # daemon.json say cannot be observed (error, never a pass); what the API shows is judged
        {
            "engine-tls-authentication": "fail",  # 2.7: it answered plain TCP without TLS
            "engine-icc-disabled": "fail",  # 2.2: the bridge network's enable_icc option
            "engine-live-restore-enabled": "fail",  # 2.14: info.LiveRestoreEnabled
            "engine-insecure-registries-absent": "pass",  # 2.5: info.RegistryConfig
            "engine-log-level-info": "error",  # 2.3: not in the API
            "engine-userland-proxy-disabled": "error",  # 2.15: not in the API
            "engine-no-new-privileges-enabled": "error",  # 2.18: not in the API
        },
        args=("-H", "tcp://127.0.0.1:{port}"),
        remote=True,
    ),
    EngineCase(
        "daemon-tcp-without-tls",
        {},
        # 2.7: the daemon also listens on TCP, without --tlsverify
        {"engine-tls-authentication": "fail"},
        args=("-H", "tcp://127.0.0.1:{port}"),
    ),
)
# Verdicts the benchmark's text gives that a rule does not give yet: not written as fixtures
# (test_golden would fail on them) until the rule is fixed; every run prints them with what
# the rule says. Move each into its case's ``expect`` once the rule agrees.
DISPUTED: dict[tuple[str, str, str], tuple[str, str]] = {}
TCP_PORT = 23750  # a TCP listener's port in the captures (the real one is free at the time)

_ENGINE_INFO = {
    "ID": "CAPT:URED:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000",
    "Name": "capture-host",
    "SystemTime": FIXED_TIME,
    "NGoroutines": 40,
    "NFd": 30,
    "NEventsListener": 0,
}


def capture_engines(cases: list[EngineCase]) -> Iterator[tuple[str, dict[str, Any]]]:
    from tests.dockerd_variant import dockerd_variant, engine_evidence

    for case in cases:
        with socket.socket() as s:  # a port free now, for a case that listens on TCP
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        args = tuple(a.replace("{port}", str(port)) for a in case.args)
        with dockerd_variant(case.daemon_json, args=args) as daemon:
            if case.remote:
                doc = _remote_engine_evidence(daemon.netns, port)
            else:
                doc = engine_evidence(daemon.socket)
        text = json.dumps(doc).replace(f"127.0.0.1:{port}", f"127.0.0.1:{TCP_PORT}")
        yield (
            case.name,
            _normalise_engine(json.loads(text), str(daemon.folder), daemon.pid, case.name),
        )


_REMOTE_EVIDENCE = (
    "import json, sys; from assessor.collectors import collector_for; "
    "from assessor.targets import parse_target; t = parse_target(sys.argv[1]); "
    "print(json.dumps(next(iter(collector_for(t).collect(t))).document()))"
)


def _remote_engine_evidence(netns: str, port: int) -> dict[str, Any]:
    """The engine collector's document for ``engine:tcp://127.0.0.1:PORT``, run inside the
    variant's network namespace (where its TCP listener is)."""
    prefix = ["nsenter", f"--net=/run/netns/{netns}", "--"] if netns else []
    target = f"engine:tcp://127.0.0.1:{port}"
    proc = subprocess.run(
        [*prefix, sys.executable, "-c", _REMOTE_EVIDENCE, target],
        capture_output=True, text=True, timeout=120, cwd=ROOT, check=True,
    )  # fmt: skip
    doc: dict[str, Any] = json.loads(proc.stdout)
    return doc


def _normalise_engine(doc: dict[str, Any], folder: str, pid: int, case: str) -> dict[str, Any]:
    """The variant's temporary folder, process id, engine id and counters made fixed."""
    text = json.dumps(doc, sort_keys=True)
    text = text.replace(folder, f"/srv/capture/{case}").replace(f"/proc/{pid}/", "/proc/4242/")
    ids: dict[str, str] = {}
    for m in _HEX64.finditer(text):
        ids.setdefault(m.group(0), _fake_hex(f"{case}:{len(ids)}"))
    for old, new in ids.items():
        text = text.replace(old, new)
    doc = json.loads(text)
    data = doc["data"]
    data["info"].update({k: v for k, v in _ENGINE_INFO.items() if k in data["info"]})
    daemon = data["daemon"]
    for holder in (daemon, daemon.get("process") or {}):
        if holder.get("pid"):
            holder["pid"] = 4242
    # dockerd lists its networks in no fixed order
    data["networks"] = sorted(data.get("networks") or [], key=lambda n: str(n.get("Name")))
    for network in data["networks"]:
        network["Id"] = _fake_hex(f"{case}:network:{network.get('Name')}")[:12]
    doc["resource"] = "capture-host"
    return doc


# ------------------------------------------------------------------------- registries


@dataclass(frozen=True)
class RegistryCase:
    """A distribution registry (tests/registry.py: Debian's docker-registry on 127.0.0.1)
    holding one image, read by the registry collector as a user would point it."""

    name: str
    tls: bool
    auth: str  # "none" or "basic"
    expect: Expect
    cert: str = "valid"


REGISTRIES: tuple[RegistryCase, ...] = (
    RegistryCase(
        "open-http",
        tls=False,
        auth="none",
        expect={
            "registry-tls-required": "fail",  # plain HTTP (SP 800-190 4.2.1)
            "registry-auth-required": "fail",  # /v2/ answers anyone (NIST IR 8176 7)
            "registry-catalog-not-anonymous": "fail",
            "registry-pull-not-anonymous": "fail",
            "registry-push-not-anonymous": "fail",  # an anonymous blob upload is accepted
        },
    ),
    RegistryCase(
        "tls-basic-auth",
        tls=True,
        auth="basic",
        expect={
            "registry-tls-required": "pass",
            "registry-auth-required": "pass",
            "registry-catalog-not-anonymous": "pass",
            "registry-pull-not-anonymous": "pass",
            "registry-push-not-anonymous": "pass",
            "registry-certificate-valid": "pass",
            "registry-certificate-trusted": "pass",  # issued by the CA the client trusts
            "registry-certificate-hostname": "pass",  # IP SAN 127.0.0.1
            "registry-tls-strong": "pass",  # TLS 1.2 and 1.3 only, AEAD suites
        },
    ),
    RegistryCase(
        "tls-expired-certificate",
        tls=True,
        auth="basic",
        cert="expired",
        expect={"registry-certificate-valid": "fail"},  # notAfter 30 days ago
    ),
)
REGISTRY_PORT = 5999  # the registry's port in the captures (the real one is free at the time)
_CERT_FIXED = {
    "serial": "0" * 40,
    "sha256": "0" * 64,
}


def capture_registries(cases: list[RegistryCase]) -> Iterator[tuple[str, dict[str, Any]]]:
    from assessor.collectors.options import CollectOptions
    from assessor.collectors.registry import RegistryCollector
    from assessor.targets import parse_target
    from tests.registry import skopeo_copy, start_registry, write_oci_layout

    for case in cases:
        with tempfile.TemporaryDirectory(prefix="assessor-capture-") as tmp:
            work = Path(tmp)
            reg = start_registry(work / "registry", tls=case.tls, auth=case.auth, cert=case.cert)
            try:
                write_oci_layout(
                    work / "image", {"app/run": b"#!/bin/sh\n"}, created="2026-01-01T00:00:00Z"
                )
                if case.cert == "valid":
                    skopeo_copy(f"oci:{work / 'image'}:latest", f"docker://{reg.host}/app:1", reg)
                options = CollectOptions(
                    cert_dir=str(reg.cert_dir) if reg.cert_dir else None,
                    creds=f"{reg.username}:{reg.password}" if reg.username else None,
                    timeout=10.0,
                )
                target = parse_target(f"registry:{reg.url}")
                (ev,) = list(RegistryCollector(options).collect(target))
                doc = ev.document()
            finally:
                reg.stop()
            yield case.name, _normalise_registry(doc, reg.host, tmp, case.name)


def _normalise_registry(doc: dict[str, Any], host: str, tmp: str, case: str) -> dict[str, Any]:
    """The registry's port, temporary paths and its certificate's serial, fingerprint and
    dates (a new key pair each run) made fixed; days left kept only as expired or not."""
    port = host.rsplit(":", 1)[1]
    text = json.dumps(doc, sort_keys=True).replace(tmp, f"/srv/capture/{case}")
    text = text.replace(f"127.0.0.1:{port}", f"127.0.0.1:{REGISTRY_PORT}")
    cert = ((doc["data"].get("transport") or {}).get("tls") or {}).get("certificate")
    if isinstance(cert, dict):
        # the certificate's dates, relative to the run's day, are quoted in messages too
        expired = bool(cert.get("expired"))
        fixed = {
            "not_before": "2025-01-01T00:00:00+00:00" if expired else FIXED_TIME,
            "not_after": "2025-12-02T00:00:00+00:00" if expired else "2026-04-01T00:00:00Z",
        }
        for key, value in fixed.items():
            real = str(cert.get(key) or "")
            if real:
                text = text.replace(real, value).replace(real[:10], value[:10])
    doc = json.loads(text)
    cert = ((doc["data"].get("transport") or {}).get("tls") or {}).get("certificate")
    if isinstance(cert, dict):
        cert.update(_CERT_FIXED)
        cert["days_left"] = -30 if cert.get("expired") else 90
    for probe in ((doc["data"].get("anonymous") or {}).get(k) for k in ("pull", "push")):
        if isinstance(probe, dict) and probe.get("probe_repository"):
            probe["repository"] = "assessor-probe"  # a random name made up for the probe
    return doc


# ------------------------------------------------------------------------- writing


@dataclass
class Outcome:
    written: list[Path] = field(default_factory=list)
    differ: list[str] = field(default_factory=list)
    disputed: list[str] = field(default_factory=list)


def _comparable(doc: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    for kind, path in VOLATILE:
        if out.get("kind") == kind:
            _drop(out["data"], path.split("."))
    return out


def _drop(node: Any, parts: list[str]) -> None:
    """Remove the value at ``parts`` ("*" stands for every item or key) from ``node``."""
    head, rest = parts[0], parts[1:]
    children = (
        (node.values() if isinstance(node, dict) else node)
        if head == "*"
        else ([node[head]] if isinstance(node, dict) and head in node else [])
    )
    if not rest:
        if isinstance(node, dict):
            node.pop(head, None)
        return
    for child in children:
        if isinstance(child, dict | list):
            _drop(child, rest)


def _differences(old: Any, new: Any, where: str = "") -> list[str]:
    """The paths where two documents differ (stored vs fresh)."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [
            d
            for key in sorted(set(old) | set(new), key=str)
            for d in _differences(old.get(key, _MISSING), new.get(key, _MISSING), f"{where}.{key}")
        ]
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [d for i, (o, n) in enumerate(zip(old, new, strict=True))
                for d in _differences(o, n, f"{where}[{i}]")]  # fmt: skip
    return [] if old == new else [where.lstrip(".") or "(document)"]


_MISSING = object()


def _store(case: str, expect: Expect, doc: dict[str, Any], check: bool, outcome: Outcome) -> None:
    from assessor.evidence_model import validate_document

    validate_document(doc, complete=True)  # a capture is what a collector wrote, whole
    for rule, status in sorted(expect.items()):
        path = HERE / rule / f"{status}-captured-{case}.json"
        if check:
            if not path.exists():
                outcome.differ.append(f"{path.relative_to(ROOT)}: missing")
                continue
            stored = json.loads(path.read_text())
            changed = _differences(_comparable(stored), _comparable(doc))
            if changed:
                outcome.differ.append(
                    f"{path.relative_to(ROOT)}: differs from a fresh capture at "
                    + ", ".join(changed[:5])
                )
            continue
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
        outcome.written.append(path)


def _dispute(kind: str, case: str, doc: dict[str, Any], outcome: Outcome) -> None:
    """What the rules say on the disputed verdicts of this case (see :data:`DISPUTED`)."""
    from assessor.catalog import load_catalog
    from assessor.evaluate import evaluate_rule
    from assessor.evidence import Evidence

    for (k, c, rule), (status, why) in DISPUTED.items():
        if (k, c) != (kind, case):
            continue
        result = evaluate_rule(load_catalog().rules[rule], Evidence.from_document(doc))
        outcome.disputed.append(
            f"{kind}:{case} {rule}: the benchmark gives {status}, the rule "
            f"{result.status.value} ({result.message}); {why}"
        )


def _ours(path: Path) -> bool:
    """Whether a captured fixture was written by this script (its staged states name
    /srv/capture or carry the label value "capture"), not by another capture script."""
    text = path.read_text()
    marks = ("/srv/capture", '"assessor.test": "capture"', f"127.0.0.1:{REGISTRY_PORT}")
    return any(m in text for m in marks)


def _stale(names: dict[str, set[str]], keep: set[Path]) -> list[Path]:
    """Captures of this script's cases (by kind and case name) that no case declares any more
    (a rule or status changed). Captures written by other scripts are left alone."""
    stale = []
    for path in HERE.glob("*/*-captured-*.json"):
        case = path.stem.split("-captured-", 1)[1]
        if path in keep or not any(case in cases for cases in names.values()):
            continue
        kind = json.loads(path.read_text()).get("kind")
        if case in names.get(kind, set()) and _ours(path):
            stale.append(path)
    return stale


Capture = Callable[[list[Any]], Iterator[tuple[str, dict[str, Any]]]]
GROUPS: dict[str, tuple[tuple[Any, ...], Capture]] = {
    "container": (CONTAINERS, capture_containers),
    "host": (HOSTS, capture_hosts),
    "image": (IMAGES, capture_images),
    "engine": (ENGINES, capture_engines),
    "registry": (REGISTRIES, capture_registries),
}


def run(check: bool, only: list[str]) -> Outcome:
    outcome = Outcome()
    for kind, (cases, capture) in GROUPS.items():
        chosen = [c for c in cases if not only or f"{kind}:{c.name}" in only or kind in only]
        if not chosen:
            continue
        by_name = {c.name: c for c in chosen}
        seen = set()
        for name, doc in capture(chosen):
            seen.add(name)
            _store(name, by_name[name].expect, doc, check, outcome)
            _dispute(kind, name, doc, outcome)
        for name in sorted(set(by_name) - seen):
            outcome.differ.append(f"{kind}:{name}: the collector gave no evidence")
    if not only:
        expected = {
            HERE / rule / f"{status}-captured-{case.name}.json"
            for cases, _ in GROUPS.values()
            for case in cases
            for rule, status in case.expect.items()
        }
        names = {kind: {c.name for c in cases} for kind, (cases, _) in GROUPS.items()}
        for path in _stale(names, expected):
            if check:
                outcome.differ.append(f"{path.relative_to(ROOT)}: no case declares it")
            else:
                path.unlink()
    return outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.rules.capture", description=__doc__)
    parser.add_argument("--check", action="store_true", help="compare, write nothing")
    parser.add_argument(
        "--only", action="append", default=[], help="KIND or KIND:CASE (repeatable)"
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    outcome = run(args.check, args.only)
    took = time.monotonic() - started
    for line in outcome.disputed:
        print(f"disputed: {line}", file=sys.stderr)
    if args.check:
        for line in outcome.differ:
            print(line)
        print(f"capture --check: {len(outcome.differ)} difference(s) in {took:.1f} s")
        return 1 if outcome.differ else 0
    for line in outcome.differ:
        print(line, file=sys.stderr)
    print(f"capture: wrote {len(outcome.written)} fixtures in {took:.1f} s")
    return 1 if outcome.differ else 0


if __name__ == "__main__":
    sys.exit(main())
