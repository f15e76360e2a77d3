"""Scan a real dockerd with labelled containers and check each one's verdicts."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import SOCKET, Docker, run_cli

pytestmark = pytest.mark.docker

ENGINE = f"engine:unix://{SOCKET}"


@pytest.fixture(scope="module")
def scanned(docker: Docker, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    docker.create("privileged", "--privileged")  # created, never started: stopped
    docker.create("hostpid", "--pid=host", start=True)
    docker.create("hostnet", "--net=host", "--ipc=host", "--uts=host", start=True)
    docker.create(
        "sockmount",
        "-v",
        f"{SOCKET}:/var/run/docker.sock",
        "-v",
        "/etc:/host-etc:ro",
        "--cap-add",
        "NET_ADMIN",
        "-p",
        "18080:80",
        "--security-opt",
        "seccomp=unconfined",
        start=True,
    )
    docker.create(
        "good",
        "--read-only",
        "--memory",
        "64m",
        "--pids-limit",
        "64",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        "-p",
        "127.0.0.1:18081:80",
        start=True,
    )
    db = f"sqlite:///{tmp_path_factory.mktemp('engine') / 'a.db'}"
    run = run_cli("scan", ENGINE, "--format", "json", db=db)
    assert run.code == 0, run.err
    doc = run.json()
    verdicts: dict[str, dict[str, str]] = {}
    for r in doc["results"]:
        verdicts.setdefault(r["resource"], {})[r["rule"]] = r["status"]
    return {"doc": doc, "verdicts": verdicts, "db": db, "label": docker.label[:8]}


def _of(scanned: dict[str, Any], name: str) -> dict[str, str]:
    full = f"{name}-{scanned['label']}"
    found = [v for res, v in scanned["verdicts"].items() if res.startswith(full + " (")]
    assert len(found) == 1, f"{full} not judged; resources: {sorted(scanned['verdicts'])}"
    return found[0]


def test_stopped_privileged_container_fails_cis_5_5(scanned: dict[str, Any]) -> None:
    v = _of(scanned, "privileged")
    assert v["container-privileged-disabled"] == "fail"
    result = next(
        r
        for r in scanned["doc"]["results"]
        if r["rule"] == "container-privileged-disabled" and r["resource"].startswith("privileged-")
    )
    assert "5.5" in result["references"]["cis-docker-1.8.0"]
    assert result["evidence"] and len(result["evidence"]) == 64


def test_host_pid_container_fails_cis_5_16(scanned: dict[str, Any]) -> None:
    v = _of(scanned, "hostpid")
    assert v["container-host-pid-not-shared"] == "fail"
    assert v["container-privileged-disabled"] == "pass"


def test_host_namespaces(scanned: dict[str, Any]) -> None:
    v = _of(scanned, "hostnet")
    assert v["container-host-network-not-shared"] == "fail"
    assert v["container-host-ipc-not-shared"] == "fail"
    assert v["container-host-uts-not-shared"] == "fail"
    assert v["container-host-pid-not-shared"] == "pass"


def test_mounts_caps_ports_seccomp(scanned: dict[str, Any]) -> None:
    v = _of(scanned, "sockmount")
    assert v["container-docker-socket-not-mounted"] == "fail"
    assert v["container-sensitive-host-paths-not-mounted"] == "fail"
    assert v["container-capabilities-restricted"] == "fail"
    assert v["container-ports-bound-to-interface"] == "fail"
    assert v["container-seccomp-not-unconfined"] == "fail"


def test_well_configured_container_passes(scanned: dict[str, Any]) -> None:
    v = _of(scanned, "good")
    for rule in (
        "container-privileged-disabled",
        "container-host-pid-not-shared",
        "container-host-network-not-shared",
        "container-host-ipc-not-shared",
        "container-host-uts-not-shared",
        "container-host-userns-not-shared",
        "container-capabilities-restricted",
        "container-docker-socket-not-mounted",
        "container-sensitive-host-paths-not-mounted",
        "container-memory-limited",
        "container-no-new-privileges",
        "container-rootfs-read-only",
        "container-seccomp-not-unconfined",
        "container-ports-bound-to-interface",
        "container-pids-limited",
    ):
        assert v[rule] == "pass", f"{rule}: {v[rule]}"


def test_every_container_judged_running_or_stopped(scanned: dict[str, Any], docker: Docker) -> None:
    # this module's five containers (other modules of the session label theirs the same way)
    names = ("privileged", "hostpid", "hostnet", "sockmount", "good")
    ids = [docker("inspect", "--format", "{{.Id}}", f"{n}-{docker.label[:8]}") for n in names]
    assert len(set(ids)) == 5
    resources = scanned["verdicts"]
    for cid in ids:
        assert any(res.endswith(f"({cid[:12]})") for res in resources), cid


def test_secrets_in_env_are_redacted(docker: Docker, db: str) -> None:
    docker.create("secret", "-e", "DB_PASSWORD=hunter2-very-secret", "-e", "PLAIN=visible")
    run = run_cli("scan", ENGINE, "--format", "json", db=db)
    assert run.code == 0, run.err
    import sqlite3
    import zlib

    con = sqlite3.connect(db.removeprefix("sqlite:///"))
    bodies = [zlib.decompress(b).decode() for (b,) in con.execute("SELECT body FROM evidence")]
    con.close()
    joined = "\n".join(bodies)
    assert "hunter2-very-secret" not in joined
    assert "DB_PASSWORD=<redacted: password, 19 chars>" in joined
    assert "PLAIN=visible" in joined


def test_results_command_reads_stored_assessment(scanned: dict[str, Any]) -> None:
    run = run_cli("results", "--status", "fail", "--format", "json", db=scanned["db"])
    assert run.code == 0, run.err
    doc = run.json()
    assert doc["assessment"]["status"] == "complete"
    assert doc["results"] and all(r["status"] == "fail" for r in doc["results"])
    csv_run = run_cli("results", "--format", "csv", db=scanned["db"])
    header = csv_run.out.splitlines()[0].split(",")
    assert header[:8] == [
        "assessment_id", "assessment_uuid", "system", "period",
        "target", "target_kind", "resource", "resource_kind",
    ]  # fmt: skip
    assert {"rule", "status", "references"} <= set(header)
