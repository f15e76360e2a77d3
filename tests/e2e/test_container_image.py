"""assessor's own container image (deploy/container/Dockerfile), built from this checkout's
wheel on a Debian root made with debootstrap (no Docker Hub), then run as its README says:
--version, and a scan of the machine it runs on (its root read-only, the engine's socket)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from assessor import __version__
from tests.conftest import ROOT, SOCKET, Docker, missing

pytestmark = [pytest.mark.docker, pytest.mark.slow]

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


@pytest.fixture(scope="module")
def image(docker: Docker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not Path(DEBOOTSTRAP).exists():
        missing("debootstrap (apt-get install debootstrap; scripts/test-setup.sh does)")
    work = tmp_path_factory.mktemp("image")
    root = work / "root"
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

    context = work / "context"
    wheels = context / "wheels"
    pip = [sys.executable, "-m", "pip"]
    build = [*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels)]
    subprocess.run([*build, str(ROOT)], check=True, timeout=300)
    [wheel] = wheels.glob("assessor-*.whl")
    subprocess.run([*pip, "download", "-q", "-d", str(wheels), str(wheel)], check=True, timeout=600)

    tag = f"assessor-test/assessor:{docker.label[:12]}"
    docker(
        "build",
        "--label",
        f"assessor.test={docker.label}",
        "--build-arg",
        f"BASE={base}",
        "-f",
        str(ROOT / "deploy" / "container" / "Dockerfile"),
        "-t",
        tag,
        str(context),
    )
    try:
        yield tag
    finally:
        docker("rmi", "-f", tag, check=False)
        docker("rmi", "-f", base, check=False)


def test_the_image_answers_its_version(docker: Docker, image: str) -> None:
    assert docker("run", "--rm", image, "--version") == f"assessor {__version__}"
    labels = json.loads(docker("image", "inspect", "--format", "{{json .Config.Labels}}", image))
    assert labels["org.opencontainers.image.title"] == "assessor"


def test_the_image_scans_the_machine_it_runs_on(docker: Docker, image: str) -> None:
    volume = f"assessor-test-{docker.label[:12]}"
    docker("volume", "create", "--label", f"assessor.test={docker.label}", volume)
    try:
        run = [
            "run",
            "--rm",
            "--label",
            f"assessor.test={docker.label}",
            "-v",
            "/:/host:ro",
            "-v",
            f"{SOCKET}:/var/run/docker.sock",
            "-v",
            f"{volume}:/var/lib/assessor",
            image,
        ]
        scan = ("scan", "host:/host", "engine:unix:///var/run/docker.sock", "--format", "json")
        out = docker(*run, *scan, check=False)
        doc = json.loads(out)
        assert doc["assessment"]["status"] == "complete", doc["assessment"]
        kinds = {r["resource_kind"] for r in doc["results"]}
        assert {"host", "engine", "container", "image"} <= kinds, kinds
        assert doc["assessment"]["scope"] == ["host:/host", "engine:unix:///var/run/docker.sock"]
        # the assessment stayed in the volume: a second container reads it back
        listed = docker(*run, "results", "--format", "json", check=False)
        assert json.loads(listed)["assessment"]["id"] == doc["assessment"]["id"]
    finally:
        docker("volume", "rm", "-f", volume, check=False)
