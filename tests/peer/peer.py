"""Compare assessor's verdicts with docker-bench-security's on the same host and Docker engine.

What it does, in order:

1. **Stage** a deliberately mixed state on the real dockerd and host (``stage``): four images
   (``docker import`` of a busybox-static rootfs with ``--change`` lines, and one
   ``docker build`` FROM one of them) with and without USER, HEALTHCHECK, setuid files and a
   password in ENV; good and bad containers, running and stopped; and audit rules loaded with
   ``auditctl`` under the key ``assessor-test-<uuid>`` (auditd is started if stopped). Every
   Docker object carries the label ``assessor.test=<uuid>``; everything is removed
   afterwards (our audit rules one by one, never ``auditctl -D``).
2. Run **docker-bench-security** (the peer, CIS Docker v1.6.0) on a writable copy of its
   folder, restricted with ``-t assessor.test=<uuid>`` to our containers and images, and
   parse ``log.json`` (its JSON is hand-printed and may be invalid: a lenient parser repairs
   it) plus the console log (which says NOTE or PASS where the JSON says INFO).
3. Run **assessor** ``scan host:/ engine:unix:///var/run/docker.sock --format json`` with a
   database in a temporary folder, and roll its results up per CIS v1.8.0 requirement
   (fail > error > manual > pass > not_applicable, as DESIGN.md section 3 says), judging only
   our images and containers, and only the running containers for the side-by-side verdict
   (docker-bench judges running containers only; stopped ones are reported apart).
4. Map docker-bench's v1.6.0 ids to v1.8.0 (``v1_6_0_id`` in
   ``../shared/reference/cis-docker-1.8.0.csv``: 2.n with n >= 7 becomes 2.(n+1)), and
   compare per requirement the two verdicts and the two **offender sets** (which of our
   containers and images each tool flags, by scenario role).
5. Every difference (verdict or offender set) needs an entry in ``explanations.yaml`` that
   matches it exactly; ``explanation_problems`` lists the unexplained and the stale ones.

The stable part of the comparison (verdicts and offenders by role, no ids) is the *record*
kept in ``tests/peer/verdicts.json``; ``diff_records`` says what changed.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import docker_cli

ROOT = Path(__file__).resolve().parents[2]


def shared_dir() -> Path:
    """The team's shared folder: beside the checkout, above it, or at /work/shared."""
    for candidate in (*(p / "shared" for p in ROOT.parents), Path("/work/shared")):
        if (candidate / "peers").is_dir():
            return candidate
    return ROOT.parent / "shared"


PEER_DIR = Path(os.environ.get("PEER_DIR", shared_dir() / "peers" / "docker-bench-security"))
REFERENCE_CSV = Path(
    os.environ.get("CIS_REFERENCE_CSV", shared_dir() / "reference" / "cis-docker-1.8.0.csv")
)
FRAMEWORK_FILE = ROOT / "controls" / "frameworks" / "cis-docker-1.8.0.yaml"
VERDICTS_FILE = Path(__file__).resolve().parent / "verdicts.json"
FRAMEWORK = "cis-docker-1.8.0"
SOCKET = "/var/run/docker.sock"
LABEL_KEY = "assessor.test"  # the key tests/conftest.py labels its objects with
TARGETS = ("host:/", f"engine:unix://{SOCKET}")

# docker-bench v1.6.0 checks that list the resources they judge in `items`: running
# containers (as "name", "name:/etc", "name:80", "name:0.0.0.0" or, for 5.30, "id:name") or
# images (as "[repo:tag]"). Their verdict is scoped to the scenario's resources.
PEER_SCOPED = frozenset(
    [
        "4.1",
        "4.6",
        "4.7",
        "4.9",
        *(f"5.{n}" for n in range(2, 23)),
        "5.25",
        "5.26",
        "5.27",
        "5.29",
        "5.30",
        "5.31",
        "5.32",
    ]
)
# Fields of the record whose change the peer test fails on, per requirement.
REQUIREMENT_FIELDS = {
    "docker_bench": "docker-bench",
    "docker_bench_raw": "docker-bench",
    "docker_bench_console": "docker-bench",
    "docker_bench_offenders": "docker-bench",
    "assessor": "assessor",
    "assessor_all": "assessor",
    "assessor_offenders": "assessor",
    "assessor_stopped_offenders": "assessor",
}
# Requirements whose verdicts count every object on the daemon, not only the scenario's
# (other test sessions' images and containers): a change there is reported, not failed on.
AMBIENT = {
    "6.1": "counts every image on the daemon",
    "6.2": "counts every container on the daemon",
    # docker-bench's own verdict (not the one scoped to the scenario) lists every container on
    # docker0 whatever -t says: another test's container there turns its PASS into INFO
    "5.30": "docker-bench lists every container on docker0, others' too",
}
# 1.1.3-1.1.18 read every loaded audit rule: ambient when someone else's rules are loaded.
AUDIT_RULE_IDS = tuple(f"1.1.{n}" for n in range(3, 19))


class PeerUnavailable(Exception):
    """A component the comparison needs is missing (skip locally, fail under CI)."""


class HarnessError(Exception):
    """The comparison could not be made (a tool failed or its output could not be read)."""


# --------------------------------------------------------------------------------------------
# CIS ids


@dataclass(frozen=True)
class Requirement:
    id: str
    title: str
    v1_6_0_id: str | None


def _id_key(cis_id: str) -> tuple[int, ...]:
    return tuple(int(p) for p in cis_id.split(".") if p.isdigit())


def load_requirements() -> list[Requirement]:
    """Every CIS v1.8.0 requirement with its v1.6.0 id (reference CSV, else the framework file)."""
    reqs: list[Requirement] = []
    if REFERENCE_CSV.exists():
        with REFERENCE_CSV.open(newline="") as fh:
            reqs.extend(
                Requirement(row["id"], row["title"], row.get("v1_6_0_id") or None)
                for row in csv.DictReader(fh)
            )
    else:
        import yaml

        doc = yaml.safe_load(FRAMEWORK_FILE.read_text())
        for r in doc["requirements"]:
            prev = (r.get("previous_ids") or {}).get("1.6.0")
            reqs.append(Requirement(str(r["id"]), r["title"], str(prev) if prev else None))
    for r in reqs:  # the documented rule; a disagreement means the reference changed
        if r.v1_6_0_id and v1_6_0_to_v1_8_0(r.v1_6_0_id) != r.id:
            raise HarnessError(f"reference maps v1.6.0 {r.v1_6_0_id} to {r.id}, expected otherwise")
    return sorted(reqs, key=lambda r: _id_key(r.id))


def v1_6_0_to_v1_8_0(cis_id: str) -> str:
    """v1.6.0 2.n with n >= 7 is v1.8.0 2.(n+1); every other id is unchanged."""
    parts = cis_id.split(".")
    if len(parts) == 2 and parts[0] == "2" and int(parts[1]) >= 7:
        return f"2.{int(parts[1]) + 1}"
    return cis_id


def framework_rule_map() -> dict[str, list[str]]:
    """rule id -> CIS v1.8.0 ids, from the framework file's ``rules:`` lists (fallback only)."""
    import yaml

    out: dict[str, list[str]] = {}
    doc = yaml.safe_load(FRAMEWORK_FILE.read_text())
    for r in doc.get("requirements", []):
        for rule in r.get("rules") or []:
            out.setdefault(rule, []).append(str(r["id"]))
    return out


# --------------------------------------------------------------------------------------------
# docker CLI and the scenario


class Docker:
    def __init__(self, cli: str) -> None:
        self.cli = cli

    def run(
        self,
        *args: str,
        check: bool = True,
        input: bytes | None = None,
        timeout: float = 120,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[bytes]:
        proc = subprocess.run(
            [self.cli, *args],
            capture_output=True,
            input=input,
            timeout=timeout,
            check=False,
            env={**os.environ, **env} if env else None,
        )
        if check and proc.returncode != 0:
            raise HarnessError(f"docker {' '.join(args)}: {proc.stderr.decode().strip()}")
        return proc

    def __call__(self, *args: str, check: bool = True, input: bytes | None = None) -> str:
        return self.run(*args, check=check, input=input).stdout.decode().strip()


SSHD_SCRIPT = b"""#!/bin/sh
# Stands in for an SSH daemon: the kernel names this process "sshd" (comm) and ps shows
# "/bin/sh /usr/sbin/sshd". It never execs, so the name stays.
while :; do sleep 5; done
"""
HELPER_SCRIPT = b"#!/bin/sh\nexec id\n"
BUSYBOX_APPLETS = ("sh", "sleep", "true", "ls", "ps", "cat", "id", "grep")


def rootfs_tar(*, sshd: bool = False, setuid: bool = False) -> bytes:
    """A busybox-static rootfs with the applets docker-bench execs (``ps``, ``cat``, ``grep``);
    ``sshd``: plus a fake ``/usr/sbin/sshd`` script; ``setuid``: plus a setuid-root and a
    setgid-root file under /usr/local/bin."""
    busybox = Path("/bin/busybox")
    if not busybox.exists():
        raise PeerUnavailable("busybox-static (/bin/busybox)")
    buf = io.BytesIO()

    def add_file(tar: tarfile.TarFile, name: str, data: bytes, mode: int) -> None:
        info = tarfile.TarInfo(name)
        info.mode = mode
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))

    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in ("bin", "tmp", "etc", "usr", "usr/sbin", "usr/local", "usr/local/bin"):
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            info.mode = 0o1777 if d == "tmp" else 0o755
            tar.addfile(info)
        tar.add(str(busybox), "bin/busybox")
        for applet in BUSYBOX_APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type = tarfile.SYMTYPE
            link.linkname = "busybox"
            tar.addfile(link)
        if sshd:
            add_file(tar, "usr/sbin/sshd", SSHD_SCRIPT, 0o755)
        if setuid:
            add_file(tar, "usr/local/bin/suid-helper", HELPER_SCRIPT, 0o4755)
            add_file(tar, "usr/local/bin/sgid-helper", HELPER_SCRIPT, 0o2755)
    return buf.getvalue()


@dataclass(frozen=True)
class ImageSpec:
    role: str
    why: str
    changes: tuple[str, ...] = ()  # `docker import --change` lines
    sshd: bool = False
    setuid: bool = False
    dockerfile: str | None = None  # built FROM another scenario image ({hardened}, ...)


# Named like a credential, so 4.10's audit (read the image's ENV) finds it; not a real one.
FAKE_SECRET = "DB_PASSWORD=peer-test-not-a-real-password"

IMAGE_SPECS = (
    ImageSpec(
        "plain",
        "busybox imported as is: no USER, no HEALTHCHECK, a stand-in /usr/sbin/sshd",
        sshd=True,
    ),
    ImageSpec(
        "hardened",
        "USER 1000:1000 and a HEALTHCHECK, no setuid file, no secret",
        changes=("USER 1000:1000", "HEALTHCHECK --interval=30s CMD true"),
    ),
    ImageSpec(
        "risky",
        "a HEALTHCHECK but no USER, a setuid-root and a setgid-root file, a password in ENV, "
        "EXPOSE 8080",
        changes=("HEALTHCHECK --interval=30s CMD true", f"ENV {FAKE_SECRET}", "EXPOSE 8080"),
        setuid=True,
    ),
    ImageSpec(
        "built",
        "`docker build` FROM hardened: ADD of a local tar archive into /opt, then a lone "
        "`apt-get update` step",
        dockerfile=(
            "FROM {hardened}\n"
            "ADD payload.tar /opt/\n"
            "USER 0\n"
            "RUN apt-get update || true\n"
            "USER 1000:1000\n"
        ),
    ),
)


@dataclass(frozen=True)
class Spec:
    role: str
    flags: tuple[str, ...]
    why: str
    command: tuple[str, ...] = ("sleep", "900")
    running: bool = True
    image: str = "plain"


@dataclass
class Staged:
    role: str
    name: str
    id: str
    running: bool
    flags: tuple[str, ...]
    why: str
    image: str = "plain"


@dataclass
class StagedImage:
    role: str
    ref: str  # repository:tag
    id: str  # sha256:...
    why: str


@dataclass(frozen=True)
class AuditRule:
    """An audit rule of our own: ``add`` loads it with auditctl, ``delete`` removes it."""

    add: tuple[str, ...]
    delete: tuple[str, ...]
    why: str

    def text(self) -> str:
        return "auditctl " + " ".join(self.add)


@dataclass
class Scenario:
    label: str
    images: dict[str, StagedImage] = field(default_factory=dict)
    containers: dict[str, Staged] = field(default_factory=dict)
    audit_rules: list[AuditRule] = field(default_factory=list)
    foreign_audit_rules: list[str] = field(default_factory=list)  # loaded by someone else
    notes: list[str] = field(default_factory=list)

    @property
    def audit_key(self) -> str:
        return f"assessor-test-{self.label}"

    def running(self) -> list[Staged]:
        return [c for c in self.containers.values() if c.running]

    def stopped(self) -> list[Staged]:
        return [c for c in self.containers.values() if not c.running]


WELL_CONFIGURED = (
    "--read-only",
    "--memory",
    "64m",
    "--cpu-shares",
    "512",
    "--pids-limit",
    "64",
    "--security-opt",
    "no-new-privileges",
    "--cap-drop",
    "ALL",
    "--user",
    "1000:1000",
    "--health-cmd",
    "true",
    "--health-interval",
    "30s",
    "--restart",
    "on-failure:5",
    "-p",
    "127.0.0.1::8080",
)


def scenario_specs(
    network: str, shared_src: str | None, cgroup_parent: str, http_port: int
) -> list[Spec]:
    net = ("--network", network)
    propagation = ["-v", f"{shared_src}:/mnt/shared:rshared"] if shared_src else []
    return [
        Spec("good", (*net, *WELL_CONFIGURED), "everything CIS section 5 asks for"),
        Spec(
            "etc-ro",
            (*net, *WELL_CONFIGURED, "-v", "/etc:/host-etc:ro"),
            "well configured, but mounts the host's /etc read-only",
        ),
        Spec(
            "hostns",
            ("--net=host", "--pid=host", "--ipc=host", "--uts=host", "--restart", "always"),
            "shares every host namespace, restart always, no limits",
        ),
        Spec(
            "mounts",
            (
                *net,
                "-v",
                "/etc:/host-etc",
                "-v",
                f"{SOCKET}:{SOCKET}",
                *propagation,
                "--memory",
                "64m",
                "--restart",
                "on-failure:10",
            ),
            "host /etc read-write, the Docker socket, an rshared bind mount, on-failure:10",
        ),
        Spec(
            "caps",
            (
                *net,
                "--cap-add",
                "SYS_ADMIN",
                "--cap-add",
                "NET_ADMIN",
                "--security-opt",
                "seccomp=unconfined",
                "-p",
                f"{http_port}:80",
                "--device",
                "/dev/null",
                "--cgroup-parent",
                cgroup_parent,
                "--userns=host",
                "--ulimit",
                "nofile=1024:1024",
            ),
            "added capabilities, seccomp unconfined, a privileged port on all interfaces, "
            "a device, a cgroup parent, userns=host, a ulimit",
        ),
        Spec(
            "sshd",
            net,
            "runs a process named sshd, as root, with defaults",
            command=("/usr/sbin/sshd",),
        ),
        Spec(
            "image-user",
            net,
            "image `hardened`, no flags: its user (1000:1000) and health check come from the image",
            image="hardened",
        ),
        Spec(
            "risky",
            (*net, "-P"),
            "image `risky` (setuid files, a password in ENV), `-P`: its exposed port published "
            "on every interface; root, no limits",
            image="risky",
        ),
        Spec(
            "good-stopped",
            (*net, *WELL_CONFIGURED),
            "the `good` configuration, created but never started",
            running=False,
            image="hardened",
        ),
        Spec(
            "privileged-stopped",
            (*net, "--privileged"),
            "privileged, created but never started (--privileged cannot run here)",
            running=False,
        ),
    ]


def audit_specs(key: str) -> list[AuditRule]:
    """Audit rules that make some of 1.1.3-1.1.18 pass, and two that only look like they do."""

    def watch(path: str, why: str) -> AuditRule:
        return AuditRule(
            ("-w", path, "-p", "wa", "-k", key), ("-W", path, "-p", "wa", "-k", key), why
        )

    never = ("never,exit", "-F", "path=/etc/default/docker", "-F", "perm=wa", "-k", key)
    data_root = ("always,exit", "-F", "path=/var/lib/docker", "-F", "perm=wa", "-k", key)
    return [
        watch("/usr/sbin/dockerd", "the daemon binary where Debian installs it (1.1.3)"),
        watch("/etc/docker", "the daemon's configuration folder (1.1.6)"),
        watch("/run/containerd", "containerd's run folder (1.1.4)"),
        AuditRule(
            ("-a", *data_root),
            ("-d", *data_root),
            "a syscall rule on the data root folder itself, the form the benchmark gives for "
            "1.1.4 (1.1.5)",
        ),
        watch(
            "/usr/sbin/runc",
            "runc where Debian installs it; /usr/bin/runc is a symlink to it (1.1.18)",
        ),
        watch(
            "/usr/bin/containerd-shim-runc-v2",
            "the runc v2 shim (1.1.17); its path starts with those of 1.1.14 and 1.1.15",
        ),
        AuditRule(
            ("-a", *never),
            ("-d", *never),
            "a `never` rule on /etc/default/docker (1.1.10): it suppresses auditing, it audits nothing",
        ),
    ]


PRIVILEGED_PORTS = (80, 81, 82, 83, 88, 280, 591, 593, 777, 1000)


def _cgroup_parent(d: Docker, label: str) -> str:
    if d("info", "--format", "{{.CgroupDriver}}", check=False) == "systemd":
        return f"assessor-peer-{label[:8]}.slice"
    return f"/assessor-peer-{label[:8]}"


def image_ref(role: str, label: str) -> str:
    return f"assessor-peer/{role}:{label[:12]}"


def _stage_images(d: Docker, sc: Scenario, workdir: Path) -> None:
    for spec in IMAGE_SPECS:
        ref = image_ref(spec.role, sc.label)
        if spec.dockerfile is None:
            changes = [f"LABEL {LABEL_KEY}={sc.label}", *spec.changes]
            argv = [x for c in changes for x in ("--change", c)]
            d("import", *argv, "-", ref, input=rootfs_tar(sshd=spec.sshd, setuid=spec.setuid))
        else:
            ctx = workdir / f"build-{spec.role}"
            ctx.mkdir()
            payload = io.BytesIO()
            with tarfile.open(fileobj=payload, mode="w") as tar:
                data = b"payload of a local archive\n"
                info = tarfile.TarInfo("payload.txt")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            (ctx / "payload.tar").write_bytes(payload.getvalue())
            bases = {r: img.ref for r, img in sc.images.items()}
            (ctx / "Dockerfile").write_text(spec.dockerfile.format(**bases))
            # the classic builder (no BuildKit here); --network none: the default bridge may
            # be gone (see stage), and the RUN step needs none
            d.run(
                "build",
                "--network",
                "none",
                "--rm",
                "--force-rm",
                "--label",
                f"{LABEL_KEY}={sc.label}",
                "-t",
                ref,
                str(ctx),
                env={"DOCKER_BUILDKIT": "0"},
                timeout=300,
            )
        image_id = d("image", "inspect", "--format", "{{.Id}}", ref)
        sc.images[spec.role] = StagedImage(spec.role, ref, image_id, spec.why)


def stage(d: Docker, label: str, workdir: Path) -> Scenario:
    """Build the images, create the containers, load the audit rules. On error, what was
    made is removed."""
    sc = Scenario(label)
    try:
        _stage_images(d, sc, workdir)
        # A network of our own, not the default bridge: an engine started with `--bridge none`
        # on the same host (as tests of other engines do) deletes docker0, and then nothing
        # can start on the default bridge until dockerd restarts.
        network = f"assessor-peer-{label[:12]}"
        d("network", "create", "--label", f"{LABEL_KEY}={label}", network)
        d("volume", "create", "--label", f"{LABEL_KEY}={label}", f"assessor-peer-{label[:12]}")
        # rshared needs a source on a shared mount; Docker's data root is one.
        shared_src = d(
            "volume", "inspect", "--format", "{{.Mountpoint}}", f"assessor-peer-{label[:12]}"
        )
        cgroup_parent = _cgroup_parent(d, label)
        for spec in scenario_specs(network, shared_src, cgroup_parent, PRIVILEGED_PORTS[0]):
            _create(d, sc, spec)
        load_audit_rules(sc)
    except BaseException:
        cleanup(d, sc)
        raise
    return sc


def _create(d: Docker, sc: Scenario, spec: Spec) -> None:
    name = f"peer-{spec.role}-{sc.label[:8]}"
    image = sc.images[spec.image].ref
    ports = PRIVILEGED_PORTS if f"{PRIVILEGED_PORTS[0]}:80" in spec.flags else (None,)
    last = ""
    for port in ports:
        flags = spec.flags
        if port is not None:
            flags = tuple(f"{port}:80" if f == f"{PRIVILEGED_PORTS[0]}:80" else f for f in flags)
        cid = d(
            "create",
            "--label",
            f"{LABEL_KEY}={sc.label}",
            "--name",
            name,
            *flags,
            image,
            *spec.command,
        )
        staged = Staged(spec.role, name, cid, spec.running, flags, spec.why, spec.image)
        if not spec.running:
            sc.containers[spec.role] = staged
            return
        proc = d.run("start", cid, check=False)
        if proc.returncode == 0:
            sc.containers[spec.role] = staged
            if port is not None and port != PRIVILEGED_PORTS[0]:
                sc.notes.append(f"host port {PRIVILEGED_PORTS[0]} busy: {name} publishes {port}")
            return
        last = proc.stderr.decode().strip()
        d("rm", "-f", cid, check=False)
        if "already allocated" not in last and "address already in use" not in last:
            break
    raise HarnessError(f"could not start {name}: {last}")


def _auditctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["auditctl", *args], capture_output=True, text=True, timeout=30, check=False
    )


def loaded_audit_rules() -> list[str]:
    proc = _auditctl("-l")
    if proc.returncode != 0:
        raise HarnessError(f"auditctl -l: {proc.stderr.strip()}")
    return [line for line in proc.stdout.splitlines() if line.strip() and line != "No rules"]


def load_audit_rules(sc: Scenario) -> None:
    """Start auditd if it is stopped, then load our rules (key ``assessor-test-<label>``)."""
    if shutil.which("auditctl") is None:
        raise PeerUnavailable("auditctl (apt-get install auditd; scripts/test-setup.sh)")
    if subprocess.run(["pgrep", "-x", "auditd"], capture_output=True, check=False).returncode:
        proc = subprocess.run(
            ["service", "auditd", "start"], capture_output=True, text=True, timeout=60, check=False
        )
        if proc.returncode != 0:
            raise PeerUnavailable(f"a running auditd (service auditd start: {proc.stderr.strip()})")
        sc.notes.append("auditd was stopped: started it")
    for rule in audit_specs(sc.audit_key):
        proc = _auditctl(*rule.add)
        if proc.returncode != 0:
            raise HarnessError(f"{rule.text()}: {proc.stderr.strip()}")
        sc.audit_rules.append(rule)
    sc.foreign_audit_rules = [r for r in loaded_audit_rules() if sc.audit_key not in r]


def check_audit_rules(sc: Scenario) -> None:
    """Our rules are all still loaded (an auditd restart or ``auditctl -D`` elsewhere on the
    host drops them, and then the tools judged another state)."""
    ours = [r for r in loaded_audit_rules() if sc.audit_key in r]
    if len(ours) != len(sc.audit_rules):
        raise HarnessError(
            f"{len(sc.audit_rules) - len(ours)} of our audit rules were removed while the "
            "tools ran (auditd restarted or rules deleted elsewhere on the host); run again"
        )


def unload_audit_rules(sc: Scenario) -> list[str]:
    """Remove our rules one by one (never ``auditctl -D``); returns the errors."""
    errors = []
    for rule in reversed(sc.audit_rules):
        proc = _auditctl(*rule.delete)
        if proc.returncode != 0 and "No such file" not in proc.stderr:  # gone already
            errors.append(f"auditctl {' '.join(rule.delete)}: {proc.stderr.strip()}")
    sc.audit_rules.clear()
    return errors


def cleanup(d: Docker, sc: Scenario) -> None:
    """Remove only what carries our label: audit rules, containers, network, volume, images,
    cgroup."""
    label = sc.label
    errors = unload_audit_rules(sc)
    ids = d("ps", "-aq", "--filter", f"label={LABEL_KEY}={label}", check=False).split()
    if ids:
        d("rm", "-f", *ids, check=False)
    nets = d("network", "ls", "-q", "--filter", f"label={LABEL_KEY}={label}", check=False).split()
    if nets:
        d("network", "rm", *nets, check=False)
    vols = d("volume", "ls", "-q", "--filter", f"label={LABEL_KEY}={label}", check=False).split()
    if vols:
        d("volume", "rm", "-f", *vols, check=False)
    for spec in reversed(IMAGE_SPECS):  # the built image before the one it is built on
        d("rmi", "-f", image_ref(spec.role, label), check=False)
    # cgroupfs leaves the (empty) parent cgroup of --cgroup-parent behind, per hierarchy
    name = f"assessor-peer-{label[:8]}"
    for path in [Path("/sys/fs/cgroup") / name, *Path("/sys/fs/cgroup").glob(f"*/{name}")]:
        if path.is_dir():
            with contextlib.suppress(OSError):
                path.rmdir()
    if errors:
        raise HarnessError("could not remove our audit rules: " + "; ".join(errors))


@contextlib.contextmanager
def staged(d: Docker, workdir: Path) -> Iterator[Scenario]:
    label = uuid.uuid4().hex
    sc = stage(d, label, workdir)
    try:
        yield sc
    finally:
        cleanup(d, sc)


# --------------------------------------------------------------------------------------------
# docker-bench-security


@dataclass
class BenchCheck:
    id: str  # v1.6.0, as docker-bench prints it
    cis_id: str  # v1.8.0
    desc: str
    result: str  # PASS | WARN | INFO | NOTE, as in log.json
    console: str | None  # the marker on the console line of the check, when found
    details: str | None
    items: list[str] | None


@dataclass
class BenchRun:
    wall: float
    checks: dict[str, BenchCheck]  # by v1.8.0 id
    header: dict[str, Any]
    log: str
    log_json: str
    repaired_json: bool
    dockerd: str


_KEY_LINE = re.compile(r'^(\s*)"([A-Za-z_-]+)": "(.*)"(,?)\s*$')


def parse_bench_json(text: str) -> tuple[dict[str, Any], bool]:
    """Parse log.json; docker-bench prints it with printf and never escapes values, so a
    quote or backslash in a detail breaks it. Repair: re-encode every one-line string value."""
    try:
        return json.loads(text), False
    except json.JSONDecodeError:
        pass
    fixed = []
    for line in text.splitlines():
        m = _KEY_LINE.match(line)
        if m:
            indent, key, value, comma = m.groups()
            line = f"{indent}{json.dumps(key)}: {json.dumps(value)}{comma}"
        fixed.append(line)
    try:
        return json.loads("\n".join(fixed)), True
    except json.JSONDecodeError as e:
        raise HarnessError(f"docker-bench log.json is not JSON even after repair: {e}") from e


_CONSOLE = re.compile(r"^\[(PASS|WARN|INFO|NOTE)\] (.*)$")


def parse_console(log: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Console markers by check id (``[WARN] 5.10 - ...``), and every (marker, text) line."""
    by_id: dict[str, str] = {}
    lines: list[tuple[str, str]] = []
    for raw in log.splitlines():
        m = _CONSOLE.match(raw.strip())
        if not m:
            continue
        marker, text = m.groups()
        lines.append((marker, text))
        idm = re.match(r"(\d+(?:\.\d+)+) - ", text)
        if idm and idm.group(1) not in by_id:
            by_id[idm.group(1)] = marker
    return by_id, lines


def bench_checks(doc: dict[str, Any], log: str) -> dict[str, BenchCheck]:
    by_id, lines = parse_console(log)
    out: dict[str, BenchCheck] = {}
    for section in doc.get("tests", []):
        for t in section.get("results", []):
            tid = str(t["id"])
            console = by_id.get(tid)
            if console is None:  # 2.18 prints its description without the id
                desc = str(t.get("desc", ""))
                console = next((m for m, text in lines if desc and text.startswith(desc)), None)
            cis = v1_6_0_to_v1_8_0(tid)
            out[cis] = BenchCheck(
                id=tid,
                cis_id=cis,
                desc=str(t.get("desc", "")),
                result=str(t["result"]),
                console=console,
                details=t.get("details"),
                items=[str(i) for i in t["items"]] if "items" in t else None,
            )
    return out


def dockerd_pid() -> tuple[int, str]:
    """The process docker-bench reads daemon options from (``pgrep -f -n dockerd``)."""
    proc = subprocess.run(
        ["pgrep", "-f", "-n", "dockerd"], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0 or not proc.stdout.strip():
        raise PeerUnavailable("a local dockerd process (docker-bench reads its command line)")
    pid = int(proc.stdout.split()[0])
    try:
        exe = os.path.basename(os.readlink(f"/proc/{pid}/exe"))
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError as e:
        raise HarnessError(f"cannot read process {pid}: {e}") from e
    if exe != "dockerd":
        raise HarnessError(
            f"the newest process whose command line contains 'dockerd' is {pid} ({cmdline!r}), "
            "not dockerd: docker-bench would read its options from it"
        )
    # the daemon behind /var/run/docker.sock writes its pid here (unless started with -p)
    with contextlib.suppress(OSError, ValueError):
        served = int(Path("/var/run/docker.pid").read_text().strip())
        if served != pid and Path(f"/proc/{served}").exists():
            raise HarnessError(
                f"another dockerd ({pid}: {cmdline!r}) started after the one behind {SOCKET} "
                f"({served}): docker-bench would read that one's options; run again when it "
                "has stopped"
            )
    return pid, cmdline


BENCH_ATTEMPTS = 3
WAIT_FOR_DOCKERD_S = 300


def _newest_dockerd() -> int | None:
    proc = subprocess.run(
        ["pgrep", "-f", "-n", "dockerd"], capture_output=True, text=True, check=False
    )
    return int(proc.stdout.split()[0]) if proc.returncode == 0 and proc.stdout.strip() else None


def _descends_from(pid: int, ancestor: int) -> bool:
    """Whether ``pid`` is ``ancestor`` or below it; a process gone while we look counts as
    below it (docker-bench's own short-lived ``grep dockerd`` and ``pgrep`` children are)."""
    while pid > 1:
        if pid == ancestor:
            return True
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return True
        pid = int(stat.rpartition(")")[2].split()[1])  # the field after the state: ppid
    return False


def _other_dockerd(before: int, bench: int) -> bool:
    """Whether a process other than ``before`` now looks like the newest dockerd to
    docker-bench's ``pgrep -f -n dockerd``, leaving out docker-bench's own children (its
    checks run ``grep dockerd`` and the like, whose command lines name dockerd)."""
    newest = _newest_dockerd()
    return newest is not None and newest != before and not _descends_from(newest, bench)


_PRINTED_ID = re.compile(rb"^\[(?:PASS|WARN|INFO|NOTE)\] (\d+(?:\.\d+)*) - ", re.M)
# The last id printed when docker-bench is about to run, or runs, a check that reads the
# daemon's command line (``get_docker_*_command_line_args``): section 2's and 3's checks
# (and the header lines before them), and v1.6.0's 5.25 (no-new-privileges, after 5.24).
_DAEMON_OPTION_READERS = re.compile(r"^(?:1\.2\.2|2(?:\.\d+)?|3(?:\.\d+)?|5\.2[45])$")


def _reads_daemon_options(console: Path) -> bool:
    """Whether docker-bench, writing ``console``, may be reading the daemon's options now.
    Before any id is printed it is not (it lists containers and images first)."""
    try:
        ids = _PRINTED_ID.findall(console.read_bytes())
    except OSError:
        return True
    return bool(ids) and _DAEMON_OPTION_READERS.match(ids[-1].decode()) is not None


def wait_for_our_dockerd() -> tuple[int, str]:
    """``dockerd_pid()``, waiting while another dockerd (a test's) is the newest one."""
    deadline = time.monotonic() + WAIT_FOR_DOCKERD_S
    while True:
        try:
            return dockerd_pid()
        except HarnessError:
            if time.monotonic() > deadline:
                raise
            time.sleep(2)


def run_docker_bench(cli: str, label: str, workdir: Path) -> BenchRun:
    if not (PEER_DIR / "docker-bench-security.sh").exists():
        raise PeerUnavailable(f"docker-bench-security at {PEER_DIR} (or set PEER_DIR)")
    if shutil.which("bash") is None:
        raise PeerUnavailable("bash")
    # It creates ./log in its own folder (and the shared copy is read-only): run a copy.
    copy = workdir / "docker-bench-security"
    shutil.copytree(PEER_DIR, copy, symlinks=True)
    for p in [copy, *copy.rglob("*")]:
        if not p.is_symlink():
            p.chmod(p.stat().st_mode | 0o200)
    out = workdir / "bench"
    out.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_CONTENT_TRUST")}
    env["PATH"] = f"{Path(cli).parent}:{env.get('PATH', '/usr/sbin:/usr/bin:/sbin:/bin')}"
    argv = ["bash", "./docker-bench-security.sh", "-b", "-l", str(out / "log")]
    argv += ["-t", f"{LABEL_KEY}={label}"]
    # docker-bench reads the daemon's options from the newest process named like dockerd, in
    # sections 2 and 3 and in 5.25: on a host where tests start other dockerds, wait until
    # ours is the newest, watch it while those checks run, and run again if another appeared.
    for attempt in range(1, BENCH_ATTEMPTS + 1):
        pid_before = wait_for_our_dockerd()
        for f in out.iterdir():
            f.unlink()
        t0 = time.perf_counter()
        console = workdir / "bench-console.txt"  # a file, not a pipe nobody reads meanwhile
        with (
            console.open("wb") as sink,
            subprocess.Popen(
                argv, cwd=copy, stdout=sink, stderr=subprocess.STDOUT, env=env
            ) as proc,
        ):
            changed = False
            while proc.poll() is None:
                if time.perf_counter() - t0 > 900:
                    proc.kill()
                    raise HarnessError("docker-bench-security ran for more than 900 s")
                if _reads_daemon_options(console) and _other_dockerd(pid_before[0], proc.pid):
                    changed = True
                time.sleep(0.25)
        output = console.read_bytes()
        wall = time.perf_counter() - t0
        if not changed:
            break
        if attempt == BENCH_ATTEMPTS:
            raise HarnessError(
                f"another dockerd started while docker-bench ran, {attempt} times; run again"
            )
    log_path, json_path = out / "log", out / "log.json"
    if proc.returncode != 0 or not json_path.exists():
        raise HarnessError(
            f"docker-bench-security exited {proc.returncode}: {output.decode()[-800:]}"
        )
    log, raw = log_path.read_text(), json_path.read_text()
    doc, repaired = parse_bench_json(raw)
    header = {k: v for k, v in doc.items() if k != "tests"}
    return BenchRun(wall, bench_checks(doc, log), header, log, raw, repaired, pid_before[1])


# --------------------------------------------------------------------------------------------
# assessor


@dataclass
class AssessorRun:
    wall: float
    doc: dict[str, Any]
    code: int


def run_assessor(workdir: Path) -> AssessorRun:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSESSOR_")}
    argv = [sys.executable, "-m", "assessor", "scan", *TARGETS, "--format", "json"]
    argv += ["--db", f"sqlite:///{workdir / 'assessor.db'}"]
    cwd = workdir / "assessor-cwd"  # no stray assessor.toml
    cwd.mkdir()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    t0 = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=env, timeout=600)
    wall = time.perf_counter() - t0
    if proc.returncode not in (0, 1):
        raise HarnessError(f"assessor scan exited {proc.returncode}: {proc.stderr[-800:]}")
    try:
        doc = json.loads(proc.stdout)
    except json.JSONDecodeError as e:
        raise HarnessError(f"assessor scan --format json printed no JSON: {e}") from e
    return AssessorRun(wall, doc, proc.returncode)


def rollup(statuses: Iterable[str]) -> str:
    """DESIGN.md section 3: fail if any fail; error if any error; manual if (only) manual;
    pass if all pass; not_applicable if nothing applied. ``none``: no result at all."""
    s = set(statuses)
    if not s:
        return "none"
    if "fail" in s:
        return "fail"
    if "error" in s:
        return "error"
    applied = s - {"not_applicable"}
    if not applied:
        return "not_applicable"
    if "manual" in applied:
        return "manual"
    return "pass" if applied == {"pass"} else "/".join(sorted(applied))


_RESOURCE_ID = re.compile(r"\(([0-9a-f]{12})\)\s*$")
IMAGE_RESOURCE_PREFIX = "docker-daemon:"  # how assessor names a local image it judged
# What assessor flags on one of our resources: a failure, or a judgement it hands to a person
# for that resource (4.8 lists an image's setuid files for review), marked as such.
FLAGGED = {"fail": "", "manual": " (review)"}


@dataclass
class AssessorVerdicts:
    running: dict[
        str, str
    ]  # CIS id -> verdict over host, engine, our images and running containers
    all: dict[str, str]  # the same, with our stopped containers too
    offenders: dict[str, set[str]]  # CIS id -> our images and running containers that fail
    stopped_offenders: dict[str, set[str]]  # CIS id -> our stopped containers that fail
    rules: dict[str, dict[str, list[str]]]  # CIS id -> rule -> statuses (running scope)


def assessor_verdicts(
    doc: dict[str, Any], sc: Scenario, all_container_ids: set[str]
) -> AssessorVerdicts:
    """Roll assessor's results up per CIS id, over the host, the engine and the scenario's
    own images and containers (other sessions' images and containers are left out)."""
    ours = {c.id[:12]: c for c in sc.containers.values()}
    our_images = {img.ref: img for img in sc.images.values()}
    fallback: dict[str, list[str]] | None = None
    running: dict[str, list[str]] = {}
    every: dict[str, list[str]] = {}
    offenders: dict[str, set[str]] = {}
    stopped: dict[str, set[str]] = {}
    rules: dict[str, dict[str, list[str]]] = {}
    for r in doc.get("results", []):
        refs = (r.get("references") or {}).get(FRAMEWORK)
        if refs is None:
            if fallback is None:
                fallback = framework_rule_map()
            refs = fallback.get(r["rule"], [])
        resource = str(r.get("resource", ""))
        m = _RESOURCE_ID.search(resource)
        container, subject = None, None
        if m and (m.group(1) in ours or m.group(1) in all_container_ids):
            container = ours.get(m.group(1))
            if container is None:
                continue  # another session's container: not part of the scenario
            subject = container.role
        elif resource.startswith(IMAGE_RESOURCE_PREFIX):
            image = our_images.get(resource.removeprefix(IMAGE_RESOURCE_PREFIX))
            if image is None:
                continue  # another session's image
            subject = f"image:{image.role}"
        for cis in refs:
            cis = str(cis)
            every.setdefault(cis, []).append(r["status"])
            flagged = None
            if subject is not None and r["status"] in FLAGGED:
                flagged = subject + FLAGGED[r["status"]]
            if container is not None and not container.running:
                if flagged:
                    stopped.setdefault(cis, set()).add(flagged)
                continue
            running.setdefault(cis, []).append(r["status"])
            rules.setdefault(cis, {}).setdefault(r["rule"], []).append(r["status"])
            if flagged:
                offenders.setdefault(cis, set()).add(flagged)
    return AssessorVerdicts(
        running={k: rollup(v) for k, v in running.items()},
        all={k: rollup(v) for k, v in every.items()},
        offenders=offenders,
        stopped_offenders=stopped,
        rules=rules,
    )


# --------------------------------------------------------------------------------------------
# comparison


def peer_class(verdict: str | None) -> str:
    return {"PASS": "pass", "WARN": "fail"}.get(verdict or "", "none")


def assessor_class(verdict: str | None) -> str:
    if verdict in ("pass", "fail", "error"):
        return verdict
    return "none"  # manual, not_applicable, no rule


def agreement(peer: str | None, ours: str | None) -> str:
    p, a = peer_class(peer), assessor_class(ours)
    if a == "error":
        return "assessor error"
    if p == a:
        return "agree" if p != "none" else "no verdict"
    if p == "none":
        return "assessor only"
    if a == "none":
        return "peer only"
    return "disagree"


def peer_item_subjects(item: str, sc: Scenario) -> set[str]:
    """The scenario's resources one docker-bench ``items`` entry names: a container as
    "name", "name:/etc", "name:80", "name:0.0.0.0" or "id:name" (5.30); an image as
    "[repo:tag ...]" (its RepoTags) or its id. Others' resources give nothing."""
    out: set[str] = set()
    by_ref = {img.ref: f"image:{img.role}" for img in sc.images.values()}
    by_id = {img.id.removeprefix("sha256:"): f"image:{img.role}" for img in sc.images.values()}
    if item.startswith("["):
        for ref in item.strip("[]").split():
            if ref in by_ref:
                out.add(by_ref[ref])
        return out
    bare = item.removeprefix("sha256:")
    for image_id, subject in by_id.items():
        if len(bare) >= 12 and image_id.startswith(bare):
            out.add(subject)
    parts = set(item.split(":"))
    for c in sc.containers.values():
        if c.name in parts or c.id in parts or c.id[:12] in parts:
            out.add(c.role)
    return out


def peer_offenders(check: BenchCheck, sc: Scenario) -> set[str]:
    out: set[str] = set()
    for item in check.items or []:
        out |= peer_item_subjects(item, sc)
    return out


@dataclass
class Comparison:
    scenario: Scenario
    bench: BenchRun
    assessor: AssessorRun
    verdicts: AssessorVerdicts
    requirements: list[Requirement]
    containers_on_daemon: int = 0  # others' too: docker-bench's time grows with them

    def peer_verdict(self, cis: str) -> str:
        """docker-bench's verdict, scoped to the scenario: a check that lists resources is
        scoped to ours (5.30 lists every container on docker0 whatever ``-t`` says)."""
        chk = self.bench.checks.get(cis)
        if chk is None:
            return "absent"
        if chk.items is None or chk.result == "PASS" or chk.id not in PEER_SCOPED:
            return chk.result
        return chk.result if peer_offenders(chk, self.scenario) else "PASS"

    def record(self) -> dict[str, Any]:
        """The machine-readable comparison (what tests/peer/verdicts.json holds): verdicts
        and offender sets by scenario role, no ids, so it is stable from run to run; the
        ``run`` section (times, counts) is not."""
        reqs: dict[str, Any] = {}
        for r in self.requirements:
            chk = self.bench.checks.get(r.id)
            ours = self.verdicts.running.get(r.id, "none")
            peer = self.peer_verdict(r.id)
            peer_off = sorted(peer_offenders(chk, self.scenario)) if chk else []
            ours_off = sorted(self.verdicts.offenders.get(r.id, set()))
            entry: dict[str, Any] = {
                "title": r.title,
                "docker_bench_id": chk.id if chk else r.v1_6_0_id,
                "docker_bench": peer,
                "docker_bench_raw": chk.result if chk else "absent",
                "docker_bench_console": (chk.console or "absent") if chk else "absent",
                "assessor": ours,
                "assessor_all": self.verdicts.all.get(r.id, "none"),
                "agreement": agreement(peer if chk else None, ours),
                "docker_bench_offenders": peer_off,
                "assessor_offenders": ours_off,
                "assessor_stopped_offenders": sorted(
                    self.verdicts.stopped_offenders.get(r.id, set())
                ),
                "assessor_rules": {
                    rule: dict(sorted(Counter(statuses).items()))
                    for rule, statuses in sorted(self.verdicts.rules.get(r.id, {}).items())
                },
            }
            if chk is not None and chk.details and chk.items is None and r.id not in AMBIENT:
                entry["docker_bench_details"] = chk.details
            if entry["agreement"] == "agree" and peer_off != ours_off:
                entry["agreement"] = "offenders differ"
            reqs[r.id] = entry
        sc = self.scenario
        return {
            "about": (
                "Verdicts and offender sets of docker-bench-security (CIS Docker v1.6.0 ids "
                "mapped to v1.8.0) and of assessor on the scenario of tests/peer/peer.py. "
                "Regenerate with `make compare`; tests/peer/test_peer.py fails when a verdict "
                "here changes or a difference has no entry in tests/peer/explanations.yaml."
            ),
            "peer": {
                "tool": "docker-bench-security",
                "version": self.bench.header.get("dockerbenchsecurity"),
                "options": f"-b -l LOG -t {LABEL_KEY}=<scenario label>",
            },
            "assessor": {"command": f"assessor scan {' '.join(TARGETS)} --format json"},
            "scenario": {
                "images": {i.role: i.why for i in sc.images.values()},
                "containers": {
                    c.role: {"image": c.image, "running": c.running, "setup": c.why}
                    for c in sc.containers.values()
                },
                "audit_rules": [
                    {
                        "rule": rule.text().replace(sc.audit_key, "assessor-test-<label>"),
                        "why": rule.why,
                    }
                    for rule in audit_specs(sc.audit_key)
                ],
            },
            "run": {
                "docker_bench_wall_s": round(self.bench.wall, 1),
                "assessor_wall_s": round(self.assessor.wall, 1),
                "containers_on_daemon": self.containers_on_daemon,
                "dockerd": self.bench.dockerd,
                "repaired_json": self.bench.repaired_json,
                "foreign_audit_rules": sc.foreign_audit_rules,
                "notes": sc.notes,
            },
            "requirements": reqs,
        }


def compare(cli: str | None = None, keep: Path | None = None) -> Comparison:
    """Stage the scenario, run both tools, and compare. ``keep``: copy raw outputs there."""
    if os.geteuid() != 0:
        raise PeerUnavailable("root (docker-bench-security reads root-only files)")
    cli = cli or docker_cli()
    if cli is None:
        raise PeerUnavailable("docker CLI")
    if not os.path.exists(SOCKET):
        raise PeerUnavailable(f"dockerd socket {SOCKET} (run scripts/test-setup.sh as root)")
    d = Docker(cli)
    if d.run("info", check=False, timeout=30).returncode != 0:
        raise PeerUnavailable("a running dockerd (run scripts/test-setup.sh as root)")
    wait_for_our_dockerd()
    if not (PEER_DIR / "docker-bench-security.sh").exists():
        raise PeerUnavailable(f"docker-bench-security at {PEER_DIR} (or set PEER_DIR)")
    if shutil.which("auditctl") is None:
        raise PeerUnavailable("auditctl (apt-get install auditd; scripts/test-setup.sh)")
    requirements = load_requirements()
    with tempfile.TemporaryDirectory(prefix="assessor-peer-") as tmp:
        work = Path(tmp)
        with staged(d, work) as sc:
            check_audit_rules(sc)
            bench = run_docker_bench(cli, sc.label, work)
            # every container on the daemon while assessor scans (others' are left out)
            all_ids = set(d("ps", "-aq", "--no-trunc").split())
            ours = run_assessor(work)
            check_audit_rules(sc)
            all_ids |= set(d("ps", "-aq", "--no-trunc").split())
            all_ids = {i[:12] for i in all_ids}
            verdicts = assessor_verdicts(ours.doc, sc, all_ids)
            if keep is not None:
                keep.mkdir(parents=True, exist_ok=True)
                (keep / "docker-bench.log").write_text(bench.log)
                (keep / "docker-bench.log.json").write_text(bench.log_json)
                (keep / "assessor-scan.json").write_text(json.dumps(ours.doc, indent=2))
    return Comparison(sc, bench, ours, verdicts, requirements, len(all_ids))


# --------------------------------------------------------------------------------------------
# the explanations of every difference


EXPLANATIONS_FILE = Path(__file__).resolve().parent / "explanations.yaml"
RIGHT = {
    "assessor": "assessor (docker-bench wrong or silent)",
    "docker-bench": "docker-bench (a defect of assessor)",
    "both": "both defensible (they judge different things)",
}
_EXPLANATION_KEYS = {
    "docker_bench",
    "assessor",
    "only_docker_bench",
    "only_assessor",
    "right",
    "why",
}


def needs_explanation(entry: dict[str, Any]) -> bool:
    """A verdict difference (anything but agree / no verdict) or an offender-set difference."""
    return (
        entry["agreement"] not in ("agree", "no verdict")
        or entry["docker_bench_offenders"] != entry["assessor_offenders"]
    )


def difference(entry: dict[str, Any]) -> dict[str, Any]:
    """What an explanation must match: both verdicts and what only one tool flags."""
    peer, ours = set(entry["docker_bench_offenders"]), set(entry["assessor_offenders"])
    return {
        "docker_bench": entry["docker_bench"],
        "assessor": entry["assessor"],
        "only_docker_bench": sorted(peer - ours),
        "only_assessor": sorted(ours - peer),
    }


@dataclass(frozen=True)
class Explanation:
    cis: str
    docker_bench: tuple[str, ...]  # the accepted verdicts (more than one: ambient)
    assessor: tuple[str, ...]
    only_docker_bench: tuple[str, ...]
    only_assessor: tuple[str, ...]
    right: str
    why: str

    def matches(self, diff: dict[str, Any]) -> bool:
        return (
            diff["docker_bench"] in self.docker_bench
            and diff["assessor"] in self.assessor
            and list(self.only_docker_bench) == diff["only_docker_bench"]
            and list(self.only_assessor) == diff["only_assessor"]
        )

    def describe(self) -> str:
        return describe(
            {
                "docker_bench": "|".join(self.docker_bench),
                "assessor": "|".join(self.assessor),
                "only_docker_bench": list(self.only_docker_bench),
                "only_assessor": list(self.only_assessor),
            }
        )


def describe(diff: dict[str, Any]) -> str:
    text = f"docker-bench {diff['docker_bench']}, assessor {diff['assessor']}"
    if diff["only_docker_bench"]:
        text += f"; only docker-bench flags {', '.join(diff['only_docker_bench'])}"
    if diff["only_assessor"]:
        text += f"; only assessor flags {', '.join(diff['only_assessor'])}"
    return text


def load_explanations(path: Path = EXPLANATIONS_FILE) -> dict[str, Explanation]:
    import yaml

    doc = (yaml.safe_load(path.read_text()) if path.exists() else None) or {}
    if not isinstance(doc, dict):
        raise HarnessError(f"{path}: expected a mapping of CIS id to explanation")
    out: dict[str, Explanation] = {}

    def strings(cis: str, key: str, value: Any, *, one: bool) -> tuple[str, ...]:
        items = [value] if isinstance(value, str) and one else value
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise HarnessError(f"{path}: {cis}.{key}: expected a string or a list of strings")
        return tuple(items)

    for cis, e in doc.items():
        if not isinstance(cis, str) or not isinstance(e, dict):
            raise HarnessError(f"{path}: {cis!r}: ids are quoted strings, entries mappings")
        unknown = set(e) - _EXPLANATION_KEYS
        lacking = {"docker_bench", "assessor", "right", "why"} - set(e)
        if unknown or lacking:
            raise HarnessError(f"{path}: {cis}: unknown keys {unknown or '{}'}, missing {lacking}")
        if e["right"] not in RIGHT:
            raise HarnessError(f"{path}: {cis}.right: one of {sorted(RIGHT)}")
        if not isinstance(e["why"], str) or len(e["why"].split()) < 12:
            raise HarnessError(f"{path}: {cis}.why: say why, citing the benchmark's audit")
        out[cis] = Explanation(
            cis,
            strings(cis, "docker_bench", e["docker_bench"], one=True),
            strings(cis, "assessor", e["assessor"], one=True),
            tuple(
                sorted(strings(cis, "only_docker_bench", e.get("only_docker_bench", []), one=False))
            ),
            tuple(sorted(strings(cis, "only_assessor", e.get("only_assessor", []), one=False))),
            e["right"],
            " ".join(e["why"].split()),
        )
    return out


def explanation_problems(record: dict[str, Any], explanations: dict[str, Explanation]) -> list[str]:
    """Every difference without a matching explanation, and every explanation that no
    longer matches a difference (stale). Empty: every difference is explained."""
    problems = []
    reqs = record["requirements"]
    for cis, entry in reqs.items():
        exp, diff = explanations.get(cis), difference(entry)
        if needs_explanation(entry):
            if exp is None:
                problems.append(f"{cis}: unexplained: {describe(diff)}")
            elif not exp.matches(diff):
                problems.append(
                    f"{cis}: the explanation is for ({exp.describe()}), "
                    f"the run gives ({describe(diff)})"
                )
        elif exp is not None:
            problems.append(f"{cis}: stale explanation: the tools now agree ({describe(diff)})")
    problems += [
        f"{cis}: explanation for an id that is not a CIS v1.8.0 requirement"
        for cis in explanations
        if cis not in reqs
    ]
    return problems


# --------------------------------------------------------------------------------------------
# the recorded verdicts


def load_record(path: Path = VERDICTS_FILE) -> dict[str, Any] | None:
    if not path.exists():
        return None
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def dump_record(record: dict[str, Any]) -> str:
    """JSON with one line per requirement, for readable diffs."""

    def one(v: Any) -> str:
        return json.dumps(v, ensure_ascii=False)

    lines = ["{"]
    for i, (key, value) in enumerate(record.items()):
        end = "," if i < len(record) - 1 else ""
        if key == "requirements":
            lines.append(f"  {one(key)}: {{")
            items = list(value.items())
            lines.extend(
                f"    {one(k)}: {one(v)}{',' if j < len(items) - 1 else ''}"
                for j, (k, v) in enumerate(items)
            )
            lines.append(f"  }}{end}")
        else:
            lines.append(f"  {one(key)}: {one(value)}{end}")
    lines.append("}")
    text = "\n".join(lines) + "\n"
    assert json.loads(text) == record
    return text


def write_record(record: dict[str, Any], path: Path = VERDICTS_FILE) -> None:
    path.write_text(dump_record(record))


def ambient(old: dict[str, Any], new: dict[str, Any]) -> dict[str, str]:
    """Requirements whose verdicts depend on more than the scenario in these two runs."""
    out = dict(AMBIENT)
    foreign = [r for rec in (old, new) for r in rec.get("run", {}).get("foreign_audit_rules", [])]
    if foreign:
        out |= dict.fromkeys(AUDIT_RULE_IDS, "reads every loaded audit rule, others' too")
    return out


def diff_records(old: dict[str, Any], new: dict[str, Any]) -> dict[str, list[str]]:
    """Changed verdicts and offender sets, by tool ("docker-bench" / "assessor"): one line per
    change. Changes of ambient requirements are listed under "ambient" instead."""
    out: dict[str, list[str]] = {"docker-bench": [], "assessor": [], "ambient": []}
    amb = ambient(old, new)
    o_reqs, n_reqs = old.get("requirements", {}), new.get("requirements", {})
    for cis in sorted(set(o_reqs) | set(n_reqs), key=_id_key):
        o, n = o_reqs.get(cis), n_reqs.get(cis)
        if o is None or n is None:
            for tool in ("docker-bench", "assessor"):
                out[tool].append(f"{cis}: {'added' if o is None else 'removed'}")
            continue
        for fld, tool in REQUIREMENT_FIELDS.items():
            if o.get(fld) != n.get(fld):
                line = f"{cis} {fld}: {o.get(fld)} -> {n.get(fld)}"
                if cis in amb:
                    out["ambient"].append(f"{line} ({amb[cis]})")
                else:
                    out[tool].append(line)
    return out
