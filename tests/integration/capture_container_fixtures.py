"""Stage containers on the real dockerd and write the engine collector's evidence of each as a
golden fixture (tests/rules/<rule>/<status>-<case>.json). One command regenerates them:

    .venv/bin/python -m tests.integration.capture_container_fixtures [--podman] [--variant]

``--podman`` also captures the Podman cases (a ``podman system service`` of its own);
``--variant`` the cases of a second dockerd (tests/dockerd_variant.py) whose daemon.json sets
``no-new-privileges`` and ``ip`` (127.0.0.1) and which also serves a socket not named docker.sock. Derived cases (one field of a
captured document changed, for states this machine cannot stage, e.g. an SELinux host) are
written from the captured documents by :func:`derive`. Every object staged is labelled
``assessor.test=<uuid>`` and removed afterwards.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from assessor.collectors.engine import EngineCollector
from assessor.targets import parse_target
from tests.conftest import busybox_rootfs_tar

RULES = Path(__file__).resolve().parent.parent / "rules"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        return int(s.getsockname()[1])


def cases(tmp: Path) -> dict[str, dict[str, Any]]:
    """name -> docker create flags, whether to start it, an exec to run, and the fixtures."""
    port = free_port()
    return {
        "etc-ro": {
            "flags": ["-v", "/etc:/host-etc:ro"],
            "fixtures": {"container-sensitive-host-paths-not-mounted": "fail-etc-read-only"},
        },
        "lib64": {
            "flags": ["-v", "/lib64:/l64:ro"],
            "fixtures": {"container-sensitive-host-paths-not-mounted": "fail-lib64"},
        },
        "usr-sub-rw": {
            "flags": ["-v", "/usr/share:/s", "-v", "/lib:/l:ro"],
            "fixtures": {"container-sensitive-host-paths-not-mounted": "fail-below-usr-rw-and-lib"},
        },
        "etc-link": {
            "flags": ["-v", f"{tmp / 'etclink'}:/e"],
            "fixtures": {"container-sensitive-host-paths-not-mounted": "fail-symlink-to-etc"},
        },
        "bind-and-volume": {
            "flags": ["-v", f"{tmp / 'data'}:/data", "-v", "VOLUME:/v"],
            "fixtures": {
                "container-sensitive-host-paths-not-mounted": "pass-bind-and-volume",
                "container-docker-socket-not-mounted": "pass-bind-and-volume",
            },
        },
        "no-mounts": {
            "flags": [],
            "fixtures": {
                "container-sensitive-host-paths-not-mounted": "pass-no-mounts",
                "container-docker-socket-not-mounted": "pass-no-mounts",
                "container-no-new-privileges": "fail-default",
                "container-capabilities-restricted": "fail-default-keeps-net-raw",
                "container-selinux-options": "not_applicable-no-selinux",
                "container-ports-bound-to-interface": "pass-no-ports",
                "container-privileged-ports-not-mapped": "pass-no-ports",
            },
        },
        "sock": {
            "flags": ["-v", "/var/run/docker.sock:/var/run/docker.sock"],
            "fixtures": {"container-docker-socket-not-mounted": "fail-docker-sock"},
        },
        "var-run": {
            "flags": ["-v", "/var/run:/host/run:ro"],
            "fixtures": {"container-docker-socket-not-mounted": "fail-var-run-folder"},
        },
        "sock-named": {
            "flags": ["-v", f"{tmp / 'sockdir' / 'docker.sock'}:/x.sock"],
            "fixtures": {"container-docker-socket-not-mounted": "fail-docker-sock-named-elsewhere"},
        },
        "run-link": {
            "flags": ["-v", f"{tmp / 'runlink'}:/r"],
            "fixtures": {"container-docker-socket-not-mounted": "fail-symlink-to-run"},
        },
        "publish-all": {
            "flags": ["--expose", "80", "-P"],
            "start": True,
            "fixtures": {
                "container-ports-bound-to-interface": "fail-publish-all-running",
                "container-privileged-ports-not-mapped": "pass-random-port",
            },
        },
        "publish-all-stopped": {
            "flags": ["--expose", "80", "-P"],
            "fixtures": {"container-ports-bound-to-interface": "fail-publish-all-stopped"},
        },
        "wide": {
            "flags": ["-p", f"{port}:80"],
            "start": True,
            "fixtures": {"container-ports-bound-to-interface": "fail-all-interfaces"},
        },
        "local": {
            "flags": ["-p", "127.0.0.1::80"],
            "start": True,
            "fixtures": {
                "container-ports-bound-to-interface": "pass-localhost",
                "container-privileged-ports-not-mapped": "pass-high-port",
            },
        },
        "local-stopped": {
            "flags": ["-p", "127.0.0.1:8080:80"],
            "fixtures": {"container-ports-bound-to-interface": "pass-localhost-stopped"},
        },
        "port-80": {
            "flags": ["-p", "127.0.0.1:80:8080"],
            "fixtures": {"container-privileged-ports-not-mapped": "fail-port-80"},
        },
        "port-443": {
            "flags": ["-p", "443:8443"],
            "fixtures": {"container-privileged-ports-not-mapped": "fail-port-443-all-interfaces"},
        },
        "nnp": {
            "flags": ["--security-opt", "no-new-privileges"],
            "fixtures": {"container-no-new-privileges": "pass-no-new-privileges"},
        },
        "nnp-true": {
            "flags": ["--security-opt", "no-new-privileges:true"],
            "fixtures": {"container-no-new-privileges": "pass-no-new-privileges-true"},
        },
        "nnp-false": {
            "flags": ["--security-opt", "no-new-privileges=false"],
            "fixtures": {"container-no-new-privileges": "fail-no-new-privileges-false"},
        },
        "other-opts": {
            "flags": ["--security-opt", "seccomp=unconfined"],
            "fixtures": {"container-no-new-privileges": "fail-other-options-only"},
        },
        "drop-net-raw": {
            "flags": ["--cap-drop", "NET_RAW"],
            "fixtures": {"container-capabilities-restricted": "pass-drop-net-raw"},
        },
        "drop-all-chown": {
            "flags": ["--cap-drop", "ALL", "--cap-add", "CHOWN"],
            "fixtures": {"container-capabilities-restricted": "pass-drop-all-add-chown"},
        },
        "net-raw-back": {
            "flags": ["--cap-drop", "ALL", "--cap-add", "NET_RAW"],
            "fixtures": {"container-capabilities-restricted": "fail-net-raw-added-back"},
        },
        "root-exec": {
            "flags": [],
            "start": True,
            "exec": [],
            "fixtures": {"container-exec-not-root": "fail-no-user-in-root-container"},
        },
        "user-exec": {
            "flags": ["--user", "1000"],
            "start": True,
            "exec": [],
            "fixtures": {"container-exec-not-root": "pass-no-user-in-user-1000-container"},
        },
        "exec-root": {
            "flags": ["--user", "1000"],
            "start": True,
            "exec": ["--user", "root"],
            "fixtures": {"container-exec-not-root": "fail-user-root"},
        },
        "exec-0-0": {
            "flags": ["--user", "1000"],
            "start": True,
            "exec": ["--user", "0:0"],
            "fixtures": {"container-exec-not-root": "fail-user-0-group"},
        },
        "exec-1000": {
            "flags": [],
            "start": True,
            "exec": ["--user", "1000"],
            "fixtures": {"container-exec-not-root": "pass-user-1000"},
        },
        "no-exec": {
            "flags": [],
            "start": True,
            "fixtures": {"container-exec-not-root": "not_applicable-no-exec"},
        },
        # dockerd's HEALTHCHECK probe is an exec session while it runs (here: always)
        "probe": {
            "flags": HEALTH_PROBE,
            "start": True,
            "fixtures": {"container-exec-not-root": "not_applicable-health-probe-as-root"},
        },
        "probe-and-root-exec": {
            "flags": HEALTH_PROBE,
            "start": True,
            "exec": [],
            "fixtures": {"container-exec-not-root": "fail-root-exec-beside-probe"},
        },
    }


DANGEROUS = (
    "ALL", "DAC_READ_SEARCH", "LINUX_IMMUTABLE", "MAC_ADMIN", "MAC_OVERRIDE", "NET_ADMIN",
    "SYS_ADMIN", "SYS_BOOT", "SYS_MODULE", "SYS_RAWIO", "SYS_TIME", "SYSLOG",
)  # fmt: skip
# capabilities Docker 23+ accepts but this machine's dockerd 20.10 refuses ("unknown
# capability"): derived from the captured SYS_ADMIN document with CapAdd naming them
NEWER_CAPABILITIES = ("BPF", "PERFMON")


HEALTH_PROBE = [
    "--health-cmd", "sleep 30", "--health-interval", "1s", "--health-timeout", "60s",
]  # fmt: skip


def other_cases(tmp: Path) -> dict[str, dict[str, Any]]:
    """The settings the other section 5 rules judge, one container each."""
    out: dict[str, dict[str, Any]] = {
        f"cap-{cap.lower().replace('_', '-')}": {
            "flags": ["--cap-add", cap],
            "fixtures": {
                "container-capabilities-restricted": f"fail-cap-add-{cap.lower().replace('_', '-')}"
            },
        }
        for cap in DANGEROUS
    }
    one = {
        # name: (flags, {rule: fixture}, start, own network)
        "legacy-spelling": (["--cap-add", "sys_ptrace"],
                            {"container-capabilities-restricted": "fail-legacy-spelling"}),
        "net-sys-admin": (["--cap-add", "NET_ADMIN", "--cap-add", "SYS_ADMIN"],
                          {"container-capabilities-restricted": "fail-net-admin-sys-admin"}),
        "ipc-host": (["--ipc", "host"], {"container-host-ipc-not-shared": "fail-ipc-host"}),
        "pid-host": (["--pid", "host"], {"container-host-pid-not-shared": "fail-pid-host"}),
        "userns-host": (["--userns", "host"],
                        {"container-host-userns-not-shared": "fail-userns-host"}),
        "uts-host": (["--uts", "host"], {"container-host-uts-not-shared": "fail-uts-host"}),
        "net-host": (["--network", "host"],
                     {"container-host-network-not-shared": "fail-net-host"}),
        "default-bridge": ([], {"container-host-network-not-shared": "pass-default-bridge"}),
        "defaults": ([], {
            "container-host-ipc-not-shared": "pass-default",
            "container-host-pid-not-shared": "pass-default",
            "container-host-userns-not-shared": "pass-default",
            "container-host-uts-not-shared": "pass-default",
            "container-memory-limited": "fail-default",
            "container-pids-limited": "fail-default-null",
            "container-privileged-disabled": "pass-default",
            "container-rootfs-read-only": "fail-default",
            "container-seccomp-not-unconfined": "pass-default",
            "container-mount-propagation-not-shared": "pass-no-mounts",
        }),
        "memory": (["--memory", "64m"], {"container-memory-limited": "pass-64m"}),
        "rshared": (["-v", f"{tmp / 'data'}:/mnt/prop:rshared"],
                    {"container-mount-propagation-not-shared": "fail-rshared-bind"}),
        "shared-flag": (
            ["--mount", f"type=bind,src={tmp / 'data'},dst=/mnt/p2,bind-propagation=shared"],
            {"container-mount-propagation-not-shared": "fail-shared-mount-flag"},
        ),
        "rprivate": (["-v", f"{tmp / 'data'}:/mnt/d:rprivate", "-v", "VOLUME:/v"],
                     {"container-mount-propagation-not-shared": "pass-rprivate-and-volume"}),
        "rslave": (["-v", f"{tmp / 'data'}:/mnt/d:rslave"],
                   {"container-mount-propagation-not-shared": "pass-rslave"}),
        "pids-minus-one": (["--pids-limit", "-1"],
                           {"container-pids-limited": "fail-unlimited-minus-one"}),
        "pids-zero": (["--pids-limit", "0"], {"container-pids-limited": "fail-unlimited-zero"}),
        "pids-1": (["--pids-limit", "1"], {"container-pids-limited": "pass-1"}),
        "pids-100": (["--pids-limit", "100"], {"container-pids-limited": "pass-100"}),
        "privileged": (["--privileged"], {"container-privileged-disabled": "fail-privileged"}),
        "read-only": (["--read-only"], {"container-rootfs-read-only": "pass-read-only"}),
        "seccomp-colon": (["--security-opt", "seccomp:unconfined"],
                          {"container-seccomp-not-unconfined": "fail-unconfined-colon"}),
        "seccomp": (["--security-opt", "seccomp=unconfined"],
                    {"container-seccomp-not-unconfined": "fail-unconfined"}),
        "seccomp-other": (["--security-opt", "no-new-privileges"],
                          {"container-seccomp-not-unconfined": "pass-other-options"}),
    }  # fmt: skip
    for name, (flags, fixtures) in one.items():
        out[name] = {"flags": flags, "fixtures": fixtures}
    # the daemon's own default bridge, and a host network: no network of ours
    for name in ("default-bridge", "net-host"):
        out[name]["network"] = False
    out["running"] = {
        "flags": [],
        "start": True,
        "fixtures": {"container-privileged-disabled": "pass-running"},
    }
    return out


def rootfs() -> bytes:
    """The tests' busybox rootfs plus an /etc/passwd (``--user root`` needs one)."""
    import io
    import tarfile

    buf = io.BytesIO(busybox_rootfs_tar())
    with tarfile.open(fileobj=buf, mode="a") as tar:
        passwd = b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/tmp:/bin/sh\n"
        info = tarfile.TarInfo("etc/passwd")
        info.mode = 0o644
        info.size = len(passwd)
        tar.addfile(info, io.BytesIO(passwd))
    return buf.getvalue()


def _run(cli: str, *args: str, input: bytes | None = None) -> str:
    proc = subprocess.run([cli, *args], capture_output=True, input=input, timeout=120, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{cli} {' '.join(args)}: {proc.stderr.decode()}")
    return proc.stdout.decode().strip()


def collect(sock: str, label: str) -> dict[str, dict[str, Any]]:
    """The engine collector's documents of the labelled containers, by staged name."""
    docs: dict[str, dict[str, Any]] = {}
    for ev in EngineCollector().collect(parse_target(f"engine:unix://{sock}")):
        if ev.kind == "image":
            break
        labels = (ev.data.get("Config") or {}).get("Labels") or {}
        if ev.kind == "container" and labels.get("assessor.test") == label:
            name = str(ev.data.get("Name", "")).lstrip("/").removeprefix("fx-")
            docs[name.rsplit("-", 1)[0]] = ev.document()
    return docs


def write(rule: str, case: str, doc: dict[str, Any]) -> None:
    folder = RULES / rule
    folder.mkdir(exist_ok=True)
    path = folder / f"{case}.json"
    path.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    print(path.relative_to(RULES.parent.parent))


def stage(
    cli: str, sock: str, table: dict[str, dict[str, Any]], extra: tuple[str, ...] = ()
) -> dict[str, dict[str, Any]]:
    label = uuid.uuid4().hex
    image = f"assessor-fixture/busybox:{label[:12]}"
    _run(cli, "import", "--change", f"LABEL assessor.test={label}", "-", image,
         input=rootfs())  # fmt: skip
    network = f"fx-{label[:12]}"
    names = []
    volume = f"fx-{label[:12]}"
    try:
        if cli == "docker":
            _run(cli, "network", "create", "--label", f"assessor.test={label}", network)
            _run(cli, "volume", "create", "--label", f"assessor.test={label}", volume)
        for name, case in table.items():
            full = f"fx-{name}-{label[:8]}"
            flags = [f.replace("VOLUME", volume) for f in case["flags"]]
            own = cli == "docker" and case.get("network", True)
            net = ["--network", network] if own else []
            _run(cli, "create", "--label", f"assessor.test={label}", "--name", full, *net,
                 *extra, *flags, image, "sleep", "600")  # fmt: skip
            names.append(full)
            if case.get("start"):
                _run(cli, "start", full)
            if "exec" in case:
                _run(cli, "exec", "-d", *case["exec"], full, "sleep", "120")
        # a health probe starts one interval after the container
        time.sleep(2.5 if any(HEALTH_PROBE[0] in c["flags"] for c in table.values()) else 1)
        return collect(sock, label)
    finally:
        if names:
            subprocess.run([cli, "rm", "-f", *names], capture_output=True, check=False)
        if cli == "docker":
            subprocess.run([cli, "network", "rm", network], capture_output=True, check=False)
            subprocess.run([cli, "volume", "rm", volume], capture_output=True, check=False)
        subprocess.run([cli, "rmi", "-f", image], capture_output=True, check=False)


def derive(docs: dict[str, dict[str, Any]]) -> None:
    """Cases this machine cannot stage: a captured document with the named fields changed to
    values the collector produces on such a host (tests/unit/test_container_fixture_states.py
    checks every container fixture against the collector's own shapes)."""
    base = docs["no-mounts"]

    def changed(doc: dict[str, Any], **assessor: Any) -> dict[str, Any]:
        out = copy.deepcopy(doc)
        out["data"]["Assessor"].update(assessor)
        return out

    selinux_engine = sorted({*base["data"]["Assessor"]["EngineSecurity"], "selinux"})
    # an SELinux host (/sys/fs/selinux/enforce present) whose dockerd runs without selinux-enabled
    write("container-selinux-options", "fail-host-selinux-daemon-without",
          changed(base, HostSELinux=True))  # fmt: skip
    # a remote engine without SELinux: its host is not observed
    write("container-selinux-options", "not_applicable-remote-engine-no-selinux",
          changed(base, HostSELinux=None))  # fmt: skip
    on = changed(base, HostSELinux=True, EngineSecurity=selinux_engine)
    write("container-selinux-options", "fail-no-label", on)
    labelled = copy.deepcopy(on)
    labelled["data"]["ProcessLabel"] = "system_u:system_r:container_t:s0:c1,c2"
    labelled["data"]["MountLabel"] = "system_u:object_r:container_file_t:s0:c1,c2"
    write("container-selinux-options", "pass-process-label", labelled)
    option = copy.deepcopy(on)
    option["data"]["HostConfig"]["SecurityOpt"] = ["label=level:s0:c100,c200"]
    write("container-selinux-options", "pass-label-option", option)
    disabled = copy.deepcopy(on)
    disabled["data"]["HostConfig"]["SecurityOpt"] = ["label=disable"]
    write("container-selinux-options", "fail-label-disabled", disabled)
    for cap in NEWER_CAPABILITIES:
        newer = copy.deepcopy(docs["cap-sys-admin"])
        newer["data"]["HostConfig"]["CapAdd"] = [cap]
        write("container-capabilities-restricted", f"fail-cap-add-{cap.lower()}", newer)
    # no document with HostConfig.PortBindings or Mounts removed: the engine collector always
    # writes both (tests/rules/test_fixture_model.py rejects such a state), and
    # tests/rules/test_missing_evidence.py removes each key a rule reads in turn


def podman_cases() -> dict[str, dict[str, Any]]:
    return {
        "user-exec": {
            "flags": ["--user", "1000"],
            "start": True,
            "exec": [],
            "fixtures": {"container-exec-not-root": "pass-podman-no-user-in-user-1000-container"},
        },
    }


def run_podman() -> None:
    if shutil.which("podman") is None:
        raise SystemExit("podman is not installed")
    folder = Path(tempfile.mkdtemp(prefix="assessor-fx-podman-"))
    sock = folder / "podman.sock"
    service = subprocess.Popen(
        ["podman", "system", "service", "--time=0", f"unix://{sock}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        for _ in range(100):
            if sock.exists():
                break
            time.sleep(0.1)
        table = podman_cases()
        limits = ("--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024")
        docs = stage("podman", str(sock), table, limits)
        emit(table, docs)
    finally:
        os.killpg(service.pid, signal.SIGTERM)
        service.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


def run_variant() -> None:
    from tests.dockerd_variant import dockerd_variant

    with tempfile.TemporaryDirectory(prefix="asv-", dir="/tmp") as d:
        extra = Path(d)
        os.chmod(extra, 0o755)
        engine_sock = extra / "engine.sock"
        table: dict[str, dict[str, Any]] = {
            "daemon-default": {
                "flags": [],
                "fixtures": {"container-no-new-privileges": "pass-daemon-default"},
            },
            "opted-out": {
                "flags": ["--security-opt", "no-new-privileges=false"],
                "fixtures": {"container-no-new-privileges": "fail-opted-out-of-daemon-default"},
            },
            "bridge-stopped": {
                "flags": ["-p", "18081:80"],
                "fixtures": {
                    "container-ports-bound-to-interface": "pass-stopped-daemon-bind-address"
                },
            },
            "socket-folder": {
                "flags": ["-v", f"{extra}:/d:ro"],
                "fixtures": {
                    "container-docker-socket-not-mounted": "fail-folder-of-daemon-socket-elsewhere"
                },
            },
        }
        with dockerd_variant(
            {"no-new-privileges": True, "ip": "127.0.0.1"}, args=("-H", f"unix://{engine_sock}")
        ) as daemon:
            for name, case in table.items():
                daemon.create(f"fx-{name}", *case["flags"])
            emit(table, collect(daemon.socket, daemon.label))


def emit(table: dict[str, dict[str, Any]], docs: dict[str, dict[str, Any]]) -> None:
    for name, case in table.items():
        if name not in docs:
            raise SystemExit(f"{name}: not collected")
        for rule, fixture in case["fixtures"].items():
            write(rule, fixture, docs[name])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--podman", action="store_true")
    parser.add_argument("--variant", action="store_true")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="assessor-fx-") as d:
        tmp = Path(d)
        os.chmod(tmp, 0o755)
        (tmp / "etclink").symlink_to("/etc")
        (tmp / "runlink").symlink_to("/run")
        (tmp / "data").mkdir()
        (tmp / "sockdir").mkdir()
        (tmp / "sockdir" / "docker.sock").write_text("")
        table = {**cases(tmp), **other_cases(tmp)}
        docs = stage("docker", "/var/run/docker.sock", table)
        emit(table, docs)
        derive(docs)
    if opts.podman:
        run_podman()
    if opts.variant:
        run_variant()


if __name__ == "__main__":
    main()
