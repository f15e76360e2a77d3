"""Wall time of `assessor scan host:/ engine:...` beside docker-bench-security, same daemon, same run.

Creates a few labelled containers (removed afterwards) so both tools have something to
judge, runs each tool REPEAT times, and prints the median wall times and their ratio.
The peer is ../shared/peers/docker-bench-security (or $PEER_DIR).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.peer.peer import PEER_DIR as PEER  # noqa: E402 - the same lookup as the peer test

REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
SOCKET = "/var/run/docker.sock"
DOCKER = (
    "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else shutil.which("docker") or "docker"
)


def docker(*args: str, input: bytes | None = None) -> str:
    return (
        subprocess.run([DOCKER, *args], check=True, capture_output=True, input=input, timeout=120)
        .stdout.decode()
        .strip()
    )


def timed(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    t = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, timeout=600, env=env, check=False)
    elapsed = time.perf_counter() - t
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{argv[0]} failed ({proc.returncode}): {proc.stderr.decode()[-500:]}")
    return elapsed


def main() -> None:
    if not (PEER / "docker-bench-security.sh").exists():
        raise SystemExit(f"peer not found at {PEER}")
    sys.path.insert(0, str(ROOT))
    from tests.conftest import busybox_rootfs_tar

    label = uuid.uuid4().hex
    image = f"assessor-bench/busybox:{label[:12]}"
    docker(
        "import", "--change", f"LABEL assessor.test={label}", "-", image, input=busybox_rootfs_tar()
    )
    try:
        for i, flags in enumerate(
            [
                [],
                ["--pid=host"],
                ["--net=host"],
                ["--read-only", "--memory", "64m"],
                ["--cap-add", "NET_ADMIN"],
                ["-p", "18090:80"],
                [],
                [],
                [],
                [],
            ]
        ):
            docker(
                "run",
                "-d",
                "--label",
                f"assessor.test={label}",
                "--name",
                f"bench{i}-{label[:8]}",
                *flags,
                image,
                "sleep",
                "600",
            )
        containers = len(docker("ps", "-aq").split())
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "ASSESSOR_DB": f"sqlite:///{tmp}/bench.db"}
            ours = [
                timed(
                    [sys.executable, "-m", "assessor", "scan", "host:/", f"engine:unix://{SOCKET}"],
                    ROOT,
                    env,
                )
                for _ in range(REPEAT)
            ]
            peer_env = {**os.environ, "PATH": f"{Path(DOCKER).parent}:{os.environ.get('PATH', '')}"}
            theirs = [
                timed(
                    ["bash", "./docker-bench-security.sh", "-b", "-l", f"{tmp}/peer{i}.log"],
                    PEER,
                    peer_env,
                )
                for i in range(REPEAT)
            ]
    finally:
        ids = docker("ps", "-aq", "--filter", f"label=assessor.test={label}").split()
        if ids:
            docker("rm", "-f", *ids)
        docker("rmi", "-f", image)
    a, b = statistics.median(ours), statistics.median(theirs)
    print(f"containers on the daemon: {containers}; runs per tool: {REPEAT}")
    print(
        f"assessor scan host:/ engine:unix://{SOCKET}: median {a:.2f} s ({', '.join(f'{x:.2f}' for x in ours)})"
    )
    print(
        f"docker-bench-security (same daemon): median {b:.2f} s ({', '.join(f'{x:.2f}' for x in theirs)})"
    )
    print(f"ratio: assessor is {b / a:.1f}x faster than docker-bench-security")


if __name__ == "__main__":
    main()
