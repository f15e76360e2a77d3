"""assessor's own container image (deploy/container/Dockerfile), built from this checkout's
wheel on a Debian root made with debootstrap (no Docker Hub), then run as its README says:
--version, and a scan of the machine it runs on (its root read-only, the engine's socket)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from assessor import __version__
from tests.conftest import SOCKET, Docker
from tests.e2e.conftest import build_assessor_image

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(scope="module")
def image(
    docker: Docker, debian_python: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    tag = build_assessor_image(docker, debian_python, tmp_path_factory.mktemp("image"))
    try:
        yield tag
    finally:
        docker("rmi", "-f", tag, check=False)


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
