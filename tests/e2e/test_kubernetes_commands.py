"""deploy/kubernetes, run without a cluster: the collector DaemonSet's and the ingest CronJob's
containers run in assessor's image (deploy/container, with the report extra) under docker,
with what their manifests declare translated flag by flag: the same command, arguments and
environment, the same mounts (the host's root read-only, the engine's socket, the key and
certificate read-only, the bundle volume, emptyDirs as tmpfs), the same user, read-only root
filesystem, no capability, no privilege escalation, no network. The collector writes a signed
bundle named after its node (the node's name from the downward API, as --hostname); ingest stores it once as nobody, and
the next run stores nothing."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT, SOCKET, Docker, run_cli, sql
from tests.e2e.conftest import build_assessor_image

pytestmark = [pytest.mark.docker, pytest.mark.slow]

K8S = ROOT / "deploy" / "kubernetes"
NODE = "node-under-test"


@pytest.fixture(scope="module")
def image(
    docker: Docker, debian_python: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    work = tmp_path_factory.mktemp("k8s-image")
    tag = build_assessor_image(docker, debian_python, work, "[report]")
    try:
        yield tag
    finally:
        docker("rmi", "-f", tag, check=False)


def _pod(kind: str) -> dict[str, Any]:
    for path in K8S.glob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == kind:
                if kind == "CronJob":
                    return dict(doc["spec"]["jobTemplate"]["spec"]["template"]["spec"])
                return dict(doc["spec"]["template"]["spec"])
    raise AssertionError(f"no {kind} in {K8S}")


def _docker_args(
    pod: dict[str, Any], image: str, sources: dict[str, str], env: dict[str, str]
) -> list[str]:
    """`docker run` arguments for the pod's only container, in ``image`` (the manifests name
    the image "assessor"); ``sources``: volume name -> host path for the volumes that are not
    emptyDirs (hostPath ones map to themselves); ``env``: values for the variables that take
    theirs from the cluster."""
    [c] = pod["containers"]
    psc, csc = pod.get("securityContext", {}), c["securityContext"]
    assert not csc["privileged"] and not csc["allowPrivilegeEscalation"]
    assert csc["capabilities"] == {"drop": ["ALL"]} and csc["readOnlyRootFilesystem"]
    args = ["--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges"]
    args += ["--user", f"{psc['runAsUser']}:{psc['runAsGroup']}"]
    if pod.get("hostNetwork"):
        args += ["--network", "host", "--uts", "host"]  # a host-network pod has the node's name
    else:
        args += ["--network", "none"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    for m in c["volumeMounts"]:
        v = volumes[m["name"]]
        if "emptyDir" in v:
            size = v["emptyDir"]["sizeLimit"].removesuffix("i")  # 2Gi: tmpfs says 2G
            args += ["--tmpfs", f"{m['mountPath']}:size={size}"]
            continue
        source = v["hostPath"]["path"] if "hostPath" in v else sources[m["name"]]
        read_only = m.get("readOnly") or v.get("persistentVolumeClaim", {}).get("readOnly")
        args += ["-v", f"{source}:{m['mountPath']}{':ro' if read_only else ''}"]
    for e in c["env"]:
        value = env.get(e["name"], e.get("value"))
        assert value is not None, f"the test gives no value for {e['name']}"
        args += ["-e", f"{e['name']}={value}"]
    assert c["image"] == "assessor"
    return [*args, "--entrypoint", c["command"][0], image, *c["command"][1:], *c["args"]]


def _run(docker: Docker, argv: list[str], *, detach: bool = False) -> str:
    run = ["run", "--label", f"assessor.test={docker.label}", *(["-d"] if detach else ["--rm"])]
    proc = subprocess.run(
        [docker.cli, *run, *argv], capture_output=True, text=True, timeout=300, check=False
    )
    if detach:
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def test_the_collector_and_the_ingest_job_run_as_their_manifests_say(
    docker: Docker, image: str, tmp_path: Path
) -> None:
    keys, trust, bundles, db = (tmp_path / d for d in ("keys", "trust", "bundles", "db"))
    for d in (trust, bundles, db):
        d.mkdir()
    made = run_cli("keys", "init", "--dir", str(keys), "--name", "k8s collector")
    assert made.code == 0, made.err
    (trust / "signing-cert.pem").write_bytes((keys / "signing-cert.pem").read_bytes())
    # the ingest job runs as nobody: it reads the volume the collectors (root) wrote to, and
    # the database folder is its own
    os.chmod(tmp_path, 0o755)
    os.chmod(bundles, 0o755)
    os.chmod(trust, 0o755)
    os.chown(db, 65534, 65534)

    collector = _pod("DaemonSet")
    argv = _docker_args(
        collector,
        image,
        {"keys": str(keys), "bundles": str(bundles)},
        {"NODE_NAME": NODE},
    )
    assert f"{SOCKET}:/var/run/docker.sock" in argv and "/:/host:ro" in argv
    cid = _run(docker, argv, detach=True)
    try:
        deadline = time.monotonic() + 300
        while not list(bundles.glob("*.bundle")) and time.monotonic() < deadline:
            time.sleep(1)
        log = docker("logs", cid, check=False)
        [bundle] = list(bundles.glob("*.bundle")) or [None]
        assert bundle is not None, log
        # still running: it sleeps until the next collection
        assert docker("inspect", "--format", "{{.State.Running}}", cid) == "true", log
    finally:
        docker("rm", "-f", cid, check=False)
    assert bundle.name.startswith(f"{NODE}-"), bundle.name
    assert "wrote /bundles/" in log and "signed by k8s collector" in log, log

    url = "sqlite:////db/central.db"
    ingest = _docker_args(
        _pod("CronJob"),
        image,
        {"bundles": str(bundles), "trust": str(trust)},
        {"ASSESSOR_DB": url},
    )
    ingest = ["-v", f"{db}:/db", *ingest]  # the database the Secret's URL names
    first = _run(docker, ingest)
    assert f"stored as assessment 1 (complete): {NODE}," in first, first  # the node's name
    again = _run(docker, ingest)
    assert "already stored as assessment 1" in again, again
    rows = sql(f"sqlite:///{db / 'central.db'}", "SELECT scanner_host, system FROM assessment")
    assert rows == [(NODE, "production")]  # the downward API's node name, not the pod's
    targets = sql(f"sqlite:///{db / 'central.db'}", "SELECT uri, kind FROM target ORDER BY uri")
    assert set(targets) >= {
        ("engine:unix:///var/run/docker.sock", "engine"),
        ("host:/host", "host"),
    }
