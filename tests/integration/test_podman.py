"""A real Podman engine (``podman system service``) scanned through the same engine API.

Podman differs from dockerd: no daemon.json or dockerd flags (daemon rules do not apply), a
different default for some settings, and a ``top`` endpoint that runs ps inside the
container, so assessor must not call it: the test checks the scan starts no exec session.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import busybox_rootfs_tar, missing, run_cli

pytestmark = pytest.mark.docker


def _podman(*args: str, check: bool = True, input: bytes | None = None) -> str:
    proc = subprocess.run(
        ["podman", *args], capture_output=True, input=input, timeout=120, check=False
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)}: {proc.stderr.decode()}")
    return proc.stdout.decode().strip()


@pytest.fixture(scope="module")
def podman(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if shutil.which("podman") is None:
        missing("podman (run `make test` as root, which installs it)")
    if os.geteuid() != 0:
        missing("root, to run the Podman service")
    folder = tmp_path_factory.mktemp("podman")
    sock = folder / "podman.sock"
    service = subprocess.Popen(
        ["podman", "system", "service", "--time=0", f"unix://{sock}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    label = uuid.uuid4().hex
    image = f"localhost/assessor-test-busybox:{label[:12]}"
    tar = folder / "rootfs.tar"
    tar.write_bytes(busybox_rootfs_tar())
    try:
        for _ in range(100):
            if sock.exists():
                break
            time.sleep(0.1)
        assert sock.exists(), "podman system service did not create its socket"
        _podman("import", "--change", f"LABEL assessor.test={label}", str(tar), image)
        limits = ("--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024")
        names = {n: f"pm-{n}-{label[:8]}" for n in ("bad", "stopped", "good")}
        _podman(
            "run", "-d", "--name", names["bad"], "--label", f"assessor.test={label}",
            *limits, "--cap-add", "SYS_ADMIN", "-v", "/etc:/host-etc:ro", image, "sleep", "600",
        )  # fmt: skip
        _podman(
            "create", "--name", names["stopped"], "--label", f"assessor.test={label}",
            "--net=host", "--pid=host", image, "sleep", "600",
        )  # fmt: skip
        _podman(
            "run", "-d", "--name", names["good"], "--label", f"assessor.test={label}", *limits,
            "--user", "1000", "--read-only", "--memory", "64m", "--cpu-shares", "512",
            "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
            "--health-cmd", "true", image, "sleep", "600",
        )  # fmt: skip
        execs_before = _podman("inspect", "--format", "{{ len .ExecIDs }}", names["bad"])
        db = f"sqlite:///{folder / 'a.db'}"
        run = run_cli("scan", f"engine:unix://{sock}", "--format", "json", db=db)
        assert run.code == 0, run.err
        execs_after = _podman("inspect", "--format", "{{ len .ExecIDs }}", names["bad"])
        verdicts: dict[str, dict[str, tuple[str, str]]] = {}
        for r in run.json()["results"]:
            verdicts.setdefault(r["resource"], {})[r["rule"]] = (r["status"], r["message"])
        yield {
            "verdicts": verdicts,
            "names": names,
            "execs": (execs_before, execs_after),
            "db": db,
            "socket": str(sock),
        }
    finally:
        ids = _podman("ps", "-aq", "--filter", f"label=assessor.test={label}", check=False)
        if ids:
            _podman("rm", "-f", *ids.split(), check=False)
        _podman("rmi", "-f", image, check=False)
        os.killpg(service.pid, signal.SIGTERM)
        service.wait(timeout=30)


def _of(podman: dict[str, Any], key: str) -> dict[str, tuple[str, str]]:
    name = podman["names"][key]
    found = [v for res, v in podman["verdicts"].items() if res.startswith(name + " (")]
    assert len(found) == 1, f"{name} not judged: {sorted(podman['verdicts'])}"
    return found[0]


def test_every_podman_container_judged(podman: dict[str, Any]) -> None:
    bad = _of(podman, "bad")
    assert bad["container-capabilities-restricted"][0] == "fail"
    assert bad["container-sensitive-host-paths-not-mounted"][0] == "fail"
    assert bad["container-user-not-root"][0] == "fail"
    stopped = _of(podman, "stopped")
    assert stopped["container-host-network-not-shared"][0] == "fail"
    assert stopped["container-host-pid-not-shared"][0] == "fail"
    good = _of(podman, "good")
    for rule in (
        "container-capabilities-restricted",
        "container-user-not-root",
        "container-rootfs-read-only",
        "container-memory-limited",
        "container-cpu-shares-set",
        "container-no-new-privileges",
        "container-health-checked",
        "container-pids-limited",
        "container-host-network-not-shared",
    ):
        assert good[rule][0] == "pass", f"{rule}: {good[rule]}"


def test_dockerd_rules_do_not_apply_to_podman(podman: dict[str, Any]) -> None:
    engine = next(v for v in podman["verdicts"].values() if "engine-icc-disabled" in v)
    for rule in (
        "engine-icc-disabled",
        "engine-userland-proxy-disabled",
        "engine-live-restore-enabled",
        "engine-experimental-disabled",
        "engine-daemon-config-consistent",
    ):
        status, message = engine[rule]
        assert status == "not_applicable", f"{rule}: {status} {message}"
        assert "podman" in message


def test_scan_executes_nothing_in_podman_containers(podman: dict[str, Any]) -> None:
    before, after = podman["execs"]
    assert before == after, "the scan started an exec session in a container"
    status, message = _of(podman, "bad")["container-no-sshd"]
    assert status == "not_applicable", message


def test_podman_engine_evidence_is_stored(podman: dict[str, Any]) -> None:
    run = run_cli("results", "--format", "json", db=podman["db"])
    assert run.code == 0, run.err
    assert run.json()["assessment"]["status"] == "complete"
    assert Path(podman["db"].removeprefix("sqlite:///")).stat().st_size > 0


def test_podman_images_are_read_from_its_export(podman: dict[str, Any]) -> None:
    """Podman's export names layers <digest>.tar; every local image is judged, none in error."""
    images = {res: v for res, v in podman["verdicts"].items() if res.startswith("docker-daemon:")}
    assert images, sorted(podman["verdicts"])
    for res, verdicts in images.items():
        errors = {rule: v for rule, v in verdicts.items() if v[0] == "error"}
        assert not errors, (res, errors)
    ours = [v for res, v in images.items() if "assessor-test" in res]
    assert ours and ours[0]["image-no-ssh-server"][0] == "fail"  # the busybox stand-in sshd


def _dockerd_only_rules() -> list[str]:
    """Engine rules that apply to dockerd only: applies_if is ``product eq docker``, or an
    ``all`` with that leaf among its clauses (e.g. 2.17: a dockerd, and not a rootless one)."""
    from assessor.catalog import load_catalog
    from assessor.catalog.schema import AllOf, Leaf

    def docker_leaf(c: object) -> bool:
        return (
            isinstance(c, Leaf) and c.evidence == "product" and c.op == "eq" and c.value == "docker"
        )

    return sorted(
        rule.id
        for rule in load_catalog().rules.values()
        if rule.target.value == "engine"
        and (
            docker_leaf(rule.applies_if)
            or (isinstance(rule.applies_if, AllOf) and any(map(docker_leaf, rule.applies_if.all)))
        )
    )


def test_every_dockerd_daemon_rule_is_not_applicable(podman: dict[str, Any]) -> None:
    """Every daemon rule (CIS section 2) judges dockerd's settings: on Podman's API each one is
    not applicable, by the catalog's own list rather than a copy of it."""
    engine = next(v for v in podman["verdicts"].values() if "engine-icc-disabled" in v)
    rules = _dockerd_only_rules()
    assert len(rules) >= 15, rules
    wrong = {r: engine[r] for r in rules if engine[r][0] != "not_applicable"}
    assert not wrong, wrong


def test_podman_process_is_found_and_no_daemon_json_is_read(podman: dict[str, Any]) -> None:
    """The process serving the socket is Podman's (found through the socket it holds), so no
    dockerd flags or daemon.json are read into the evidence, not even the system's."""
    from tests.dockerd_variant import engine_evidence

    data = engine_evidence(podman["socket"])["data"]
    assert data["product"] == "podman"
    daemon = data["daemon"]
    assert daemon["found"] is False and daemon["source"] == "api"
    assert daemon["process"]["program"] == "podman"
    for key in ("config_file", "daemon_json", "flags", "argv"):
        assert key not in daemon, key
    assert "config_file" not in daemon["read"]
