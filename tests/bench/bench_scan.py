"""Wall time of a full scan beside docker-bench-security, on a daemon state staged here.

The state (issue 20): 10 running containers and 1 stopped one, 6 images, all built locally
(nothing is pulled) and labelled ``assessor.test=<uuid>``, removed afterwards:

- ``busybox``: the busybox-static rootfs of tests/conftest.py (``docker import``), no USER;
- ``busybox-hardened``: the same rootfs with USER 1000 and a HEALTHCHECK;
- ``busybox-risky``: the same rootfs with a password in ENV and EXPOSE 8080;
- ``busybox-built``: ``docker build`` FROM busybox-hardened, ADD of a small tar, one RUN;
- ``debian-minbase``: a Debian bookworm root like ``debootstrap --variant=minbase``: the files
  of this host's Priority: required packages and everything they depend on (``dpkg -L``), with
  ``/var/lib/dpkg/status`` holding exactly those packages;
- ``debian-python``: ``docker build`` FROM debian-minbase adding one layer with python3 and its
  dependencies (files and dpkg status, as apt-get would leave them).

``assessor scan host:/ engine:unix:///var/run/docker.sock`` (the engine target reads every
container and every image of the daemon: it is the full host + engine + containers + images
scan) and docker-bench-security (../shared/peers/docker-bench-security or $PEER_DIR, on a
copy of its folder, as tests/peer/peer.py runs it, unrestricted: it judges the same daemon)
run alternately BENCH_REPEAT times (default 5) after one unmeasured run of each; prints the
medians and the ratios. assessor runs twice each round, with its own cache folder:

- as a user runs it (the default): the images it read in an earlier scan (the warm-up run)
  are not exported again (docs/images.md, "Engine images read before");
- with ``--image-cache-days 0``: every image exported and read again, as on a first scan.

Needs root (it reads this host's files), dockerd, dpkg.
"""

from __future__ import annotations

import io
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.conftest import busybox_rootfs_tar  # noqa: E402
from tests.peer.peer import PEER_DIR as PEER  # noqa: E402 - the same lookup as the peer test

REPEAT = int(os.environ.get("BENCH_REPEAT", "5"))
PEER_NAME = "docker-bench-security (same daemon)"
SOCKET = "/var/run/docker.sock"
DOCKER = (
    "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else shutil.which("docker") or "docker"
)
DPKG_STATUS = Path("/var/lib/dpkg/status")
SECRET = "DB_PASSWORD=bench-not-a-real-secret"


def docker(*args: str, input: bytes | None = None, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        [DOCKER, *args],
        capture_output=True,
        input=input,
        timeout=600,
        check=False,
        env={**os.environ, **(env or {})},
    )
    if proc.returncode != 0:
        raise SystemExit(f"docker {' '.join(args[:3])}: {proc.stderr.decode().strip()[-500:]}")
    return proc.stdout.decode().strip()


def _dockerd_cpu() -> float:
    """CPU seconds (user + system) the oldest dockerd has used so far; 0 when not found."""
    pids = subprocess.run(["pgrep", "-xo", "dockerd"], capture_output=True, text=True).stdout
    try:
        fields = Path(f"/proc/{pids.strip()}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    wall: float  # seconds
    cpu: float  # the tool's processes (user + system)
    engine_cpu: float  # dockerd's meanwhile (its share of the work; other tests' too)


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> Run:
    before, engine = resource.getrusage(resource.RUSAGE_CHILDREN), _dockerd_cpu()
    t = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, timeout=900, env=env, check=False)
    elapsed = time.perf_counter() - t
    after, engine = resource.getrusage(resource.RUSAGE_CHILDREN), _dockerd_cpu() - engine
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{argv[0]} failed ({proc.returncode}): {proc.stderr.decode()[-500:]}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return Run(elapsed, cpu, engine)


# --------------------------------------------------------------------------------------------
# Debian-like roots from this host's dpkg database


def _stanzas() -> dict[str, str]:
    """Each installed package's stanza of /var/lib/dpkg/status, by name."""
    out: dict[str, str] = {}
    for stanza in DPKG_STATUS.read_text().split("\n\n"):
        m = re.search(r"^Package: (\S+)$", stanza, re.M)
        if m and re.search(r"^Status: install ok installed$", stanza, re.M):
            out[m.group(1)] = stanza.strip("\n")
    return out


def _depends(stanza: str) -> set[str]:
    """The installed packages a stanza's Pre-Depends and Depends name (first alternative)."""
    names: set[str] = set()
    for field in ("Pre-Depends", "Depends"):
        m = re.search(rf"^{field}: (.*)$", stanza, re.M)
        for clause in m.group(1).split(",") if m else []:
            first = clause.split("|")[0].strip().split(" ")[0]
            names.add(first.split(":")[0])
    return names


def closure(roots: Iterable[str], stanzas: dict[str, str]) -> set[str]:
    todo, seen = [r for r in roots if r in stanzas], set[str]()
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(d for d in _depends(stanzas[name]) if d in stanzas and d not in seen)
    return seen


def _files(packages: set[str]) -> list[str]:
    out = subprocess.run(
        ["dpkg", "-L", *sorted(packages)], capture_output=True, text=True, check=False
    ).stdout
    return sorted({p for p in out.splitlines() if p.startswith("/") and p != "/."})


def debian_rootfs_tar(
    packages: set[str], installed: set[str], stanzas: dict[str, str], base: bool
) -> bytes:
    """The packages' files as this host has them, and a dpkg status listing ``installed`` (the
    image's every package, as dpkg leaves it); ``base`` adds the account files a root needs."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        # as dpkg lists them (/bin/bash) but stored where they are (merged /usr: bin is a
        # link to usr/bin): the links themselves come from base-files' listing of /bin etc.
        names: dict[str, str] = {}
        for path in _files(packages):
            if os.path.lexists(path):
                real = os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))
                names.setdefault(real.lstrip("/"), real)
        for arcname, real in sorted(names.items()):
            tar.add(real, arcname=arcname, recursive=False)
        extra = [("var/lib/dpkg/status", "\n\n".join(stanzas[p] for p in sorted(installed)))]
        if base:
            extra += [
                ("etc/passwd", "root:x:0:0:root:/root:/bin/bash"),
                ("etc/group", "root:x:0:"),
                ("etc/shadow", "root:*:19000:0:99999:7:::"),
            ]
        for name, text in extra:
            data = f"{text}\n".encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o640 if name == "etc/shadow" else 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _build(ref: str, label: str, dockerfile: str, files: dict[str, bytes]) -> None:
    """``docker build`` (classic builder, no network) from a context of ``files``."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in {"Dockerfile": dockerfile.encode(), **files}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    docker(
        "build", "-q", "--label", f"assessor.test={label}", "-t", ref, "-",
        input=buf.getvalue(), env={"DOCKER_BUILDKIT": "0"},
    )  # fmt: skip


def stage_images(label: str) -> tuple[dict[str, str], str]:
    """The six images, by role: their references, and what the Debian-like ones hold."""
    tag = label[:12]
    refs = {
        role: f"assessor-bench/{role}:{tag}"
        for role in (
            "busybox",
            "busybox-hardened",
            "busybox-risky",
            "busybox-built",
            "debian-minbase",
            "debian-python",
        )
    }
    busybox = busybox_rootfs_tar()
    for role, changes in (
        ("busybox", ()),
        ("busybox-hardened", ("USER 1000:1000", "HEALTHCHECK --interval=30s CMD true")),
        ("busybox-risky", (f"ENV {SECRET}", "EXPOSE 8080")),
    ):
        flags = [f"--change=LABEL assessor.test={label}"]
        flags += [f"--change={c}" for c in changes]
        docker("import", *flags, "-", refs[role], input=busybox)
    payload = io.BytesIO()
    with tarfile.open(fileobj=payload, mode="w") as tar:
        for i in range(20):
            data = f"file {i}\n".encode()
            info = tarfile.TarInfo(f"app/data{i}.txt")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    _build(
        refs["busybox-built"],
        label,
        f"FROM {refs['busybox-hardened']}\nADD payload.tar /opt/\nUSER 0\n"
        "RUN ls /opt/app >/dev/null\nUSER 1000:1000\n",
        {"payload.tar": payload.getvalue()},
    )
    stanzas = _stanzas()
    required = [p for p, s in stanzas.items() if re.search(r"^Priority: required$", s, re.M)]
    minbase = closure(required, stanzas)
    docker(
        "import",
        f"--change=LABEL assessor.test={label}",
        '--change=CMD ["bash"]',
        "-",
        refs["debian-minbase"],
        input=debian_rootfs_tar(minbase, minbase, stanzas, base=True),
    )
    python = closure(["python3"], stanzas) | minbase
    layer = debian_rootfs_tar(python - minbase, python, stanzas, base=False)
    _build(
        refs["debian-python"],
        label,
        f'FROM {refs["debian-minbase"]}\nADD layer.tar /\nCMD ["python3"]\n',
        {"layer.tar": layer},
    )
    notes = (
        f"debian-minbase: {len(minbase)} packages, {_size(refs['debian-minbase'])}; "
        f"debian-python: +{len(python - minbase)} packages, {_size(refs['debian-python'])}"
    )
    return refs, notes


def _size(ref: str) -> str:
    size = int(docker("image", "inspect", "--format", "{{.Size}}", ref))
    return f"{size / 1e6:.0f} MB"


def stage_containers(label: str, refs: dict[str, str], network: str) -> None:
    """10 running containers (various settings, on busybox and Debian images), 1 stopped."""
    specs: list[tuple[str, list[str], bool]] = [
        ("busybox", [], True),
        ("busybox", ["--pid=host"], True),
        ("busybox", ["--net=host"], True),
        ("busybox-hardened", ["--read-only", "--memory", "64m", "--cpu-shares", "512"], True),
        ("busybox", ["--cap-add", "NET_ADMIN"], True),
        ("busybox-risky", ["-p", "127.0.0.1::80"], True),
        ("busybox-built", ["--security-opt", "no-new-privileges"], True),
        ("busybox", ["-v", "/etc:/host-etc:ro"], True),
        ("debian-minbase", [], True),
        ("debian-python", ["--user", "1000"], True),
        ("busybox", [], False),
    ]
    for i, (role, flags, running) in enumerate(specs):
        net = [] if "--net=host" in flags else ["--network", network]
        argv = ["--label", f"assessor.test={label}", "--name", f"bench{i}-{label[:8]}"]
        argv += [*net, *flags, refs[role], "sleep", "900"]
        if running:
            docker("run", "-d", *argv)
        else:
            docker("create", *argv)


def cleanup(label: str) -> None:
    """Remove what carries our label: containers, the network, the images. An image another
    is built on goes only after it (images made in the same second list in any order), so
    removal passes repeat until none is left or a pass removes nothing."""
    ids = docker("ps", "-aq", "--filter", f"label=assessor.test={label}").split()
    if ids:
        docker("rm", "-f", *ids)
    nets = docker("network", "ls", "-q", "--filter", f"label=assessor.test={label}").split()
    if nets:
        docker("network", "rm", *nets)
    left = docker("images", "-q", "--filter", f"label=assessor.test={label}").split()
    while left:
        for image in left:
            subprocess.run([DOCKER, "rmi", "-f", image], capture_output=True, check=False)
        now = docker("images", "-q", "--filter", f"label=assessor.test={label}").split()
        if set(now) == set(left):
            print(f"bench: could not remove images {' '.join(now)}", file=sys.stderr)
            break
        left = now


def peer_copy(work: Path) -> Path:
    """docker-bench writes ./log in its own folder: run a writable copy (as peer.py does)."""
    copy = work / "docker-bench-security"
    shutil.copytree(PEER, copy, symlinks=True)
    for p in [copy, *copy.rglob("*")]:
        if not p.is_symlink():
            p.chmod(p.stat().st_mode | 0o200)
    return copy


def main() -> None:
    if not (PEER / "docker-bench-security.sh").exists():
        raise SystemExit(f"peer not found at {PEER}")
    if not DPKG_STATUS.exists():
        raise SystemExit(f"{DPKG_STATUS} not found: the Debian-like images are built from it")
    label = uuid.uuid4().hex
    network = f"assessor-bench-{label[:12]}"
    try:
        t = time.perf_counter()
        docker("network", "create", "--label", f"assessor.test={label}", network)
        refs, notes = stage_images(label)
        stage_containers(label, refs, network)
        staged_in = time.perf_counter() - t
        running = len(docker("ps", "-q").split())
        stopped = len(docker("ps", "-aq").split()) - running
        images = len(docker("images", "-q").split())
        with tempfile.TemporaryDirectory(prefix="assessor-bench-") as tmp:
            work = Path(tmp)
            # bytecode cached, as an installed package has it (pip compiles on install)
            env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
            env["ASSESSOR_DB"] = f"sqlite:///{work}/bench.db"
            env["ASSESSOR_CACHE_DIR"] = str(work / "cache")  # its own: warmed by run 0
            ours_argv = [sys.executable, "-m", "assessor", "scan", "host:/"]
            ours_argv.append(f"engine:unix://{SOCKET}")
            cold_argv = [*ours_argv, "--image-cache-days", "0"]
            peer = peer_copy(work)
            peer_env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_CONTENT")}
            peer_env["PATH"] = f"{Path(DOCKER).parent}:{os.environ.get('PATH', '')}"
            ours: list[Run] = []
            cold: list[Run] = []
            theirs: list[Run] = []
            for i in range(REPEAT + 1):  # run 0 warms caches for both and is not counted
                # the peer first: it never runs just after an image export, whose aftermath
                # in dockerd (buffers, the page cache) would slow its first calls
                peers = timed(["bash", "./docker-bench-security.sh", "-b"], peer, peer_env)
                first = timed(cold_argv, ROOT, env)
                mine = timed(ours_argv, ROOT, env)
                if i:
                    ours.append(mine)
                    cold.append(first)
                    theirs.append(peers)
    finally:
        cleanup(label)
    peer_median = statistics.median(r.wall for r in theirs)
    ratio = peer_median / statistics.median(r.wall for r in ours)
    cold_ratio = peer_median / statistics.median(r.wall for r in cold)
    print(
        f"daemon state: {running} running and {stopped} stopped containers, {images} images "
        f"(staged in {staged_in:.0f} s; {notes}); runs per tool: {REPEAT}, alternating; load "
        f"average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    # the peer runs the docker command line hundreds of times: its time depends on which one
    client = docker("version", "--format", "{{.Client.Version}}")
    print(f"the peer's docker command: {DOCKER} {client} (the first on its PATH)")
    scan = f"assessor scan host:/ engine:unix://{SOCKET}"
    for name, runs in (
        (f"{scan} (images read before: from its cache)", ours),
        (f"{scan} --image-cache-days 0 (every image exported and read)", cold),
        (PEER_NAME, theirs),
    ):
        print(
            f"{name}: median {statistics.median(r.wall for r in runs):.2f} s "
            f"({', '.join(f'{r.wall:.2f}' for r in runs)}); CPU: its processes "
            f"{statistics.median(r.cpu for r in runs):.2f} s, dockerd "
            f"{statistics.median(r.engine_cpu for r in runs):.2f} s"
        )
    print(
        f"ratio: assessor is {ratio:.1f}x faster than docker-bench-security "
        f"({cold_ratio:.1f}x reading every image again)"
    )


if __name__ == "__main__":
    main()
