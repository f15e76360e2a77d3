"""The e2e tests' shared fixtures: a Debian root with Python made with debootstrap (no Docker
Hub), imported once per session as the base of assessor's own image (deploy/container)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, Docker, missing

DEBOOTSTRAP = "/usr/sbin/debootstrap"


def _mirror() -> str:
    """The Debian mirror apt uses here (deb822 sources or sources.list)."""
    for f in sorted(Path("/etc/apt").glob("sources.list.d/*.sources")):
        if m := re.search(r"^URIs:\s*(\S+)", f.read_text(), re.M):
            return m.group(1)
    lists = [Path("/etc/apt/sources.list"), *Path("/etc/apt").glob("sources.list.d/*.list")]
    for f in lists:
        if f.is_file() and (m := re.search(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)", f.read_text(), re.M)):
            return m.group(1)
    return "http://deb.debian.org/debian"


@pytest.fixture(scope="session")
def debian_python(docker: Docker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A labelled image of a minimal Debian bookworm with python3 and python3-venv."""
    if not Path(DEBOOTSTRAP).exists():
        missing("debootstrap (apt-get install debootstrap; scripts/test-setup.sh does)")
    root = tmp_path_factory.mktemp("debian") / "root"
    include = "--include=python3,python3-venv"
    subprocess.run(
        [DEBOOTSTRAP, "--variant=minbase", include, "bookworm", str(root), _mirror()],
        check=True,
        capture_output=True,
        timeout=900,
    )
    base = f"assessor-test/debian-python:{docker.label[:12]}"
    tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
    assert tar.stdout is not None
    label = f"LABEL assessor.test={docker.label}"
    docker("import", "--change", label, "-", base, input=tar.stdout.read())
    assert tar.wait() == 0
    shutil.rmtree(root)
    try:
        yield base
    finally:
        docker("rmi", "-f", base, check=False)


def build_assessor_image(docker: Docker, base: str, work: Path, extras: str = "") -> str:
    """assessor's image (deploy/container/Dockerfile) from this checkout's wheel on ``base``,
    with the install ``extras`` (e.g. "[report]"); the caller removes it."""
    wheels = work / "context" / "wheels"
    pip = [sys.executable, "-m", "pip"]
    build = [*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels)]
    subprocess.run([*build, str(ROOT)], check=True, timeout=300)
    [wheel] = wheels.glob("assessor-*.whl")
    download = [*pip, "download", "-q", "-d", str(wheels), f"{wheel}{extras}"]
    subprocess.run(download, check=True, timeout=600, capture_output=True)
    tag = f"assessor-test/assessor:{docker.label[:12]}{'-x' if extras else ''}"
    argv = ["build", "--label", f"assessor.test={docker.label}", "--build-arg", f"BASE={base}"]
    if extras:
        argv += ["--build-arg", f"EXTRAS={extras}"]
    dockerfile = str(ROOT / "deploy" / "container" / "Dockerfile")
    proc = subprocess.run(
        [docker.cli, *argv, "-f", dockerfile, "-t", tag, str(work / "context")],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return tag
