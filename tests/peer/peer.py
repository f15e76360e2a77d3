"""Compare assessor's verdicts with docker-bench-security's on the same host and Docker engine.

What it does, in order:

1. **Stage** a scenario on the real dockerd: an image imported from busybox-static (the same
   way the integration fixtures build theirs, plus ``ps`` and a fake ``/usr/sbin/sshd``
   script), one well-configured running container, several misconfigured running ones and
   one stopped privileged container. Every object carries the label ``assessor.test=<uuid>``
   (the label key the other tests use, with a value of our own) and is removed afterwards.
2. Run **docker-bench-security** (the peer, CIS Docker v1.6.0) on a writable copy of its
   folder, restricted with ``-t assessor.test=<uuid>`` to our containers and image, and parse
   ``log.json`` (its JSON is hand-printed and may be invalid: a lenient parser repairs it)
   plus the console log (which says NOTE or PASS where the JSON says INFO).
3. Run **assessor** ``scan host:/ engine:unix:///var/run/docker.sock --format json`` with a
   database in a temporary folder, and roll its results up per CIS v1.8.0 requirement
   (fail > error > manual > pass > not_applicable, as DESIGN.md section 3 says), judging only
   our containers, and only the running ones for the side-by-side verdict (docker-bench
   judges running containers only; the verdict over running and stopped is kept too).
4. Map docker-bench's v1.6.0 ids to v1.8.0 (``v1_6_0_id`` in
   ``../shared/reference/cis-docker-1.8.0.csv``: 2.n with n >= 7 becomes 2.(n+1)) and compare.

The stable part of the comparison (verdicts only, no container ids, counts or times) is the
*record* kept in ``tests/peer/verdicts.json``; ``diff_records`` says what changed.
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

# docker-bench v1.6.0 checks that judge each running container and list offenders in
# `items` (as "name", "name:/etc", "name:80", "name:0.0.0.0" or, for 5.30, "id:name").
PEER_PER_CONTAINER = frozenset(
    [
        "4.1",
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
# Stable verdict fields of the record, per requirement and per container.
REQUIREMENT_FIELDS = {
    "docker_bench": "docker-bench",
    "docker_bench_console": "docker-bench",
    "assessor": "assessor",
    "assessor_all": "assessor",
}
CONTAINER_FIELDS = {"docker_bench": "docker-bench", "assessor": "assessor"}
# Requirements whose verdicts count every object on the daemon, not only the scenario's
# (other test sessions' images and containers): a change there is reported, not failed on.
AMBIENT = {
    # image rules judge every local image, and other tests leave theirs on the daemon
    **dict.fromkeys(
        ("4.3", "4.4", "4.6", "4.7", "4.8", "4.9", "4.10"), "judges every image on the daemon"
    ),
    "6.1": "counts every image on the daemon",
    "6.2": "counts every container on the daemon",
}


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
        self, *args: str, check: bool = True, input: bytes | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[bytes]:
        proc = subprocess.run(
            [self.cli, *args], capture_output=True, input=input, timeout=timeout, check=False
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


def rootfs_tar() -> bytes:
    """The fixtures' busybox rootfs (tests/conftest.py), plus, where it lacks them, the
    applets docker-bench execs (``ps``) and a fake ``/usr/sbin/sshd`` script."""
    busybox = Path("/bin/busybox")
    if not busybox.exists():
        raise PeerUnavailable("busybox-static (/bin/busybox)")
    from tests.conftest import busybox_rootfs_tar

    buf = io.BytesIO(busybox_rootfs_tar())
    with tarfile.open(fileobj=io.BytesIO(buf.getvalue())) as tar:
        have = {m.name.strip("/").removeprefix("./") for m in tar.getmembers()}
    with tarfile.open(fileobj=buf, mode="a") as tar:
        for d in ("usr", "usr/sbin"):
            if d not in have:
                info = tarfile.TarInfo(d)
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
        for applet in ("ps", "cat", "id", "grep"):
            if f"bin/{applet}" not in have:
                link = tarfile.TarInfo(f"bin/{applet}")
                link.type = tarfile.SYMTYPE
                link.linkname = "busybox"
                tar.addfile(link)
        if "usr/sbin/sshd" not in have:
            info = tarfile.TarInfo("usr/sbin/sshd")
            info.mode = 0o755
            info.size = len(SSHD_SCRIPT)
            tar.addfile(info, io.BytesIO(SSHD_SCRIPT))
    return buf.getvalue()


@dataclass(frozen=True)
class Spec:
    role: str
    flags: tuple[str, ...]
    why: str
    command: tuple[str, ...] = ("sleep", "900")
    running: bool = True


@dataclass
class Staged:
    role: str
    name: str
    id: str
    running: bool
    flags: tuple[str, ...]
    why: str


@dataclass
class Scenario:
    label: str
    image: str
    containers: dict[str, Staged] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def running(self) -> list[Staged]:
        return [c for c in self.containers.values() if c.running]


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
            "privileged-stopped",
            (*net, "--privileged"),
            "privileged, created but never started (--privileged cannot run here)",
            running=False,
        ),
    ]


PRIVILEGED_PORTS = (80, 81, 82, 83, 88, 280, 591, 593, 777, 1000)


def _cgroup_parent(d: Docker, label: str) -> str:
    if d("info", "--format", "{{.CgroupDriver}}", check=False) == "systemd":
        return f"assessor-peer-{label[:8]}.slice"
    return f"/assessor-peer-{label[:8]}"


def stage(d: Docker, label: str) -> Scenario:
    """Import the image and create the containers. On error, what was made is removed."""
    image = f"assessor-peer/busybox:{label[:12]}"
    sc = Scenario(label, image)
    try:
        d(
            "import",
            "--change",
            f"LABEL {LABEL_KEY}={label}",
            "-",
            image,
            input=rootfs_tar(),
        )
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
    except BaseException:
        cleanup(d, label)
        raise
    return sc


def _create(d: Docker, sc: Scenario, spec: Spec) -> None:
    name = f"peer-{spec.role}-{sc.label[:8]}"
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
            sc.image,
            *spec.command,
        )
        if not spec.running:
            sc.containers[spec.role] = Staged(spec.role, name, cid, False, flags, spec.why)
            return
        proc = d.run("start", cid, check=False)
        if proc.returncode == 0:
            sc.containers[spec.role] = Staged(spec.role, name, cid, True, flags, spec.why)
            if port is not None and port != PRIVILEGED_PORTS[0]:
                sc.notes.append(f"host port {PRIVILEGED_PORTS[0]} busy: {name} publishes {port}")
            return
        last = proc.stderr.decode().strip()
        d("rm", "-f", cid, check=False)
        if "already allocated" not in last and "address already in use" not in last:
            break
    raise HarnessError(f"could not start {name}: {last}")


def cleanup(d: Docker, label: str) -> None:
    """Remove only what carries our label: containers, network, volume, image, cgroup."""
    ids = d("ps", "-aq", "--filter", f"label={LABEL_KEY}={label}", check=False).split()
    if ids:
        d("rm", "-f", *ids, check=False)
    nets = d("network", "ls", "-q", "--filter", f"label={LABEL_KEY}={label}", check=False).split()
    if nets:
        d("network", "rm", *nets, check=False)
    vols = d("volume", "ls", "-q", "--filter", f"label={LABEL_KEY}={label}", check=False).split()
    if vols:
        d("volume", "rm", "-f", *vols, check=False)
    d("rmi", "-f", f"assessor-peer/busybox:{label[:12]}", check=False)
    # cgroupfs leaves the (empty) parent cgroup of --cgroup-parent behind, per hierarchy
    name = f"assessor-peer-{label[:8]}"
    for path in [Path("/sys/fs/cgroup") / name, *Path("/sys/fs/cgroup").glob(f"*/{name}")]:
        if path.is_dir():
            with contextlib.suppress(OSError):
                path.rmdir()


@contextlib.contextmanager
def staged(d: Docker) -> Iterator[Scenario]:
    label = uuid.uuid4().hex
    sc = stage(d, label)
    try:
        yield sc
    finally:
        cleanup(d, label)


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
    return pid, cmdline


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
    pid_before = dockerd_pid()
    argv = ["bash", "./docker-bench-security.sh", "-b", "-l", str(out / "log")]
    argv += ["-t", f"{LABEL_KEY}={label}"]
    t0 = time.perf_counter()
    proc = subprocess.run(argv, cwd=copy, capture_output=True, timeout=900, env=env, check=False)
    wall = time.perf_counter() - t0
    if dockerd_pid() != pid_before:
        raise HarnessError("the dockerd process changed while docker-bench ran; run it again")
    log_path, json_path = out / "log", out / "log.json"
    if proc.returncode != 0 or not json_path.exists():
        raise HarnessError(
            f"docker-bench-security exited {proc.returncode}: "
            f"{(proc.stdout + proc.stderr).decode()[-800:]}"
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


@dataclass
class AssessorVerdicts:
    running: dict[str, str]  # CIS id -> verdict over host, engine and our running containers
    all: dict[str, str]  # the same, with our stopped containers too
    per_container: dict[str, dict[str, str]]  # role -> CIS id -> verdict
    rules: dict[str, dict[str, list[str]]]  # CIS id -> rule -> statuses (running scope)


def assessor_verdicts(
    doc: dict[str, Any], sc: Scenario, all_container_ids: set[str]
) -> AssessorVerdicts:
    ours = {c.id[:12]: c for c in sc.containers.values()}
    fallback: dict[str, list[str]] | None = None
    running: dict[str, list[str]] = {}
    every: dict[str, list[str]] = {}
    per: dict[str, dict[str, list[str]]] = {}
    rules: dict[str, dict[str, list[str]]] = {}
    for r in doc.get("results", []):
        refs = (r.get("references") or {}).get(FRAMEWORK)
        if refs is None:
            if fallback is None:
                fallback = framework_rule_map()
            refs = fallback.get(r["rule"], [])
        m = _RESOURCE_ID.search(str(r.get("resource", "")))
        container = None
        if m and (m.group(1) in ours or m.group(1) in all_container_ids):
            container = ours.get(m.group(1))
            if container is None:
                continue  # another session's container: not part of the scenario
        for cis in refs:
            cis = str(cis)
            every.setdefault(cis, []).append(r["status"])
            if container is not None:
                per.setdefault(container.role, {}).setdefault(cis, []).append(r["status"])
            if container is None or container.running:
                running.setdefault(cis, []).append(r["status"])
                rules.setdefault(cis, {}).setdefault(r["rule"], []).append(r["status"])
    return AssessorVerdicts(
        running={k: rollup(v) for k, v in running.items()},
        all={k: rollup(v) for k, v in every.items()},
        per_container={role: {k: rollup(v) for k, v in by.items()} for role, by in per.items()},
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


def peer_per_container(check: BenchCheck, sc: Scenario) -> dict[str, str]:
    """docker-bench's verdict for each running container, from the items it lists."""
    running = sc.running()
    if check.id not in PEER_PER_CONTAINER or check.result == "PASS":
        return {c.role: check.result for c in running}
    named: set[str] = set()
    for item in check.items or []:
        named.update(item.split(":"))
    out = {}
    for c in running:
        hit = c.name in named or c.id in named or c.id[:12] in named
        out[c.role] = check.result if hit else "PASS"
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
        """docker-bench's verdict, scoped to the scenario's containers: 5.30 lists every
        container on docker0 whatever ``-t`` says, so others' containers would decide it."""
        chk = self.bench.checks.get(cis)
        if chk is None:
            return "absent"
        if chk.id not in PEER_PER_CONTAINER or chk.result == "PASS":
            return chk.result
        per = peer_per_container(chk, self.scenario)
        return chk.result if any(v != "PASS" for v in per.values()) else "PASS"

    def record(self) -> dict[str, Any]:
        """The stable, machine-readable verdicts (what tests/peer/verdicts.json holds)."""
        reqs: dict[str, Any] = {}
        for r in self.requirements:
            chk = self.bench.checks.get(r.id)
            ours = self.verdicts.running.get(r.id, "none")
            peer = self.peer_verdict(r.id)
            console = "absent"
            if chk is not None:
                console = chk.console or "absent"
                if peer != chk.result:  # scoped to the scenario: say so on both
                    console = peer
            reqs[r.id] = {
                "title": r.title,
                "docker_bench_id": chk.id if chk else r.v1_6_0_id,
                "docker_bench": peer,
                "docker_bench_console": console,
                "assessor": ours,
                "assessor_all": self.verdicts.all.get(r.id, "none"),
                "agreement": agreement(peer if chk else None, ours),
            }
        containers: dict[str, Any] = {}
        for c in self.scenario.containers.values():
            peer = {
                cis: peer_per_container(chk, self.scenario).get(c.role, "not judged")
                for cis, chk in self.bench.checks.items()
                if cis.startswith("5.") or cis == "4.1"
            }
            ours_by = self.verdicts.per_container.get(c.role, {})
            ids = sorted(
                {k for k in peer if k != "5.1"}
                | {k for k in ours_by if k.startswith(("4.", "5."))},
                key=_id_key,
            )
            verdicts = {}
            for cis in ids:
                p = peer.get(cis, "not judged" if not c.running else "absent")
                a = ours_by.get(cis, "none")
                verdicts[cis] = {
                    "docker_bench": p,
                    "assessor": a,
                    "agreement": agreement(p if c.running else None, a),
                }
            containers[c.role] = {
                "running": c.running,
                "setup": c.why,
                "verdicts": verdicts,
            }
        return {
            "about": (
                "Verdicts of docker-bench-security (CIS Docker v1.6.0 ids mapped to v1.8.0) and "
                "of assessor on the scenario of tests/peer/peer.py. Regenerate with "
                "`.venv/bin/python -m tests.peer.compare --write`; tests/peer/test_peer.py fails "
                "when a verdict here changes."
            ),
            "peer": {
                "tool": "docker-bench-security",
                "version": self.bench.header.get("dockerbenchsecurity"),
                "options": f"-b -l LOG -t {LABEL_KEY}=<scenario label>",
            },
            "assessor": {"command": f"assessor scan {' '.join(TARGETS)} --format json"},
            "requirements": reqs,
            "containers": containers,
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
    dockerd_pid()
    if not (PEER_DIR / "docker-bench-security.sh").exists():
        raise PeerUnavailable(f"docker-bench-security at {PEER_DIR} (or set PEER_DIR)")
    requirements = load_requirements()
    with tempfile.TemporaryDirectory(prefix="assessor-peer-") as tmp, staged(d) as sc:
        work = Path(tmp)
        bench = run_docker_bench(cli, sc.label, work)
        # every container on the daemon while assessor scans (others' are left out)
        all_ids = set(d("ps", "-aq", "--no-trunc").split())
        ours = run_assessor(work)
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
# the recorded verdicts


def load_record(path: Path = VERDICTS_FILE) -> dict[str, Any] | None:
    if not path.exists():
        return None
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def dump_record(record: dict[str, Any]) -> str:
    """JSON with one line per requirement and per container verdict, for readable diffs."""

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
        elif key == "containers":
            lines.append(f"  {one(key)}: {{")
            roles = list(value.items())
            for j, (role, c) in enumerate(roles):
                head = {k: v for k, v in c.items() if k != "verdicts"}
                lines.append(f'    {one(role)}: {one(head)[:-1]}, "verdicts": {{')
                verdicts = list(c["verdicts"].items())
                lines.extend(
                    f"      {one(k)}: {one(v)}{',' if n < len(verdicts) - 1 else ''}"
                    for n, (k, v) in enumerate(verdicts)
                )
                lines.append(f"    }}}}{',' if j < len(roles) - 1 else ''}")
            lines.append(f"  }}{end}")
        else:
            lines.append(f"  {one(key)}: {one(value)}{end}")
    lines.append("}")
    text = "\n".join(lines) + "\n"
    assert json.loads(text) == record
    return text


def write_record(record: dict[str, Any], path: Path = VERDICTS_FILE) -> None:
    path.write_text(dump_record(record))


def diff_records(old: dict[str, Any], new: dict[str, Any]) -> dict[str, list[str]]:
    """Changed verdicts, by tool ("docker-bench" / "assessor"): one line per change.
    Changes of AMBIENT requirements are listed under "ambient" instead."""
    out: dict[str, list[str]] = {"docker-bench": [], "assessor": [], "ambient": []}
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
                if cis in AMBIENT:
                    out["ambient"].append(f"{line} ({AMBIENT[cis]})")
                else:
                    out[tool].append(line)
    o_cont, n_cont = old.get("containers", {}), new.get("containers", {})
    for role in sorted(set(o_cont) | set(n_cont)):
        ov = (o_cont.get(role) or {}).get("verdicts", {})
        nv = (n_cont.get(role) or {}).get("verdicts", {})
        for cis in sorted(set(ov) | set(nv), key=_id_key):
            for fld, tool in CONTAINER_FIELDS.items():
                a = (ov.get(cis) or {}).get(fld, "none")
                b = (nv.get(cis) or {}).get(fld, "none")
                if a != b:
                    out[tool].append(f"container {role} {cis}: {a} -> {b}")
    return out
