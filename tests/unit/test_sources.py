"""Evidence says what was read: every rule's declared evidence path has a source, and the
source line names the concrete endpoint, file (with its sha256) or request with the value."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from assessor.catalog import load_catalog
from assessor.evaluate.sources import VALUE_CHARS, describer, sources

RULES = Path(__file__).resolve().parent.parent / "rules"
CATALOG = load_catalog()


def _fixture(rule_id: str, name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((RULES / rule_id / name).read_text())
    return doc


def test_every_declared_evidence_path_has_a_source() -> None:
    missing = [
        f"{rule.id}: {path}"
        for rule in CATALOG.rules.values()
        for path in rule.evidence
        if describer(rule.target.value, path) is None
    ]
    assert not missing, "no source for:\n" + "\n".join(missing)


@pytest.mark.parametrize(
    "path",
    sorted(p for p in RULES.glob("*/*.json") if p.parent.name in CATALOG.rules),
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_every_fixture_names_a_source_for_each_path(path: Path) -> None:
    rule = CATALOG.rules[path.parent.name]
    lines = sources(rule.evidence, json.loads(path.read_text()))
    assert len(lines) == len(rule.evidence)
    for line, evidence_path in zip(lines, rule.evidence, strict=True):
        assert line.startswith("read: ")
        assert f", field {evidence_path} = " in line
        assert "no source known" not in line


def test_container_field_names_the_inspect_endpoint_and_value() -> None:
    doc = _fixture("container-privileged-disabled", "pass-captured-defaults.json")
    cid = doc["data"]["Id"][:12]
    (line,) = sources(["HostConfig.Privileged"], doc)
    assert line == (
        f"read: Engine API unix:///var/run/docker.sock GET /containers/{cid}/json, "
        "field HostConfig.Privileged = false"
    )
    doc["data"]["HostConfig"]["Privileged"] = True
    assert sources(["HostConfig.Privileged"], doc)[0].endswith("= true")


def test_processes_and_execs_name_their_endpoints() -> None:
    doc = _fixture("container-exec-not-root", "pass-captured-exec-as-container-user.json")
    cid = doc["data"]["Id"][:12]
    exec_id = doc["data"]["Assessor"]["Execs"][0]["ID"]
    execs, top = sources(["Assessor.Execs", "Assessor.Processes"], doc)
    assert f"GET /containers/{cid}/json (ExecIDs), then GET /exec/{exec_id}/json" in execs
    assert f"GET /containers/{cid}/top" in top


def test_daemon_setting_names_where_it_came_from() -> None:
    doc = _fixture("engine-icc-disabled", "pass-daemon-json-icc-false.json")
    daemon = doc["data"]["daemon"]
    daemon["read"] = {"config_file": "/etc/docker/daemon.json", "config_sha256": "ab" * 32}
    path = ["daemon.effective.icc"]
    daemon["origin"] = {"icc": "daemon.json"}
    assert sources(path, doc) == [
        f"read: /etc/docker/daemon.json (sha256 {'ab' * 32}), key 'icc', "
        "field daemon.effective.icc = false"
    ]
    daemon["origin"] = {"icc": "flag"}
    assert (
        f"/proc/{daemon['pid']}/cmdline (pid {daemon['pid']}), flag --icc" in sources(path, doc)[0]
    )
    daemon["origin"] = {"icc": "default"}
    assert "dockerd's built-in default: no --icc" in sources(path, doc)[0]
    daemon["origin"] = {"icc": "running"}
    assert "GET /info" in sources(path, doc)[0]


def test_host_file_names_the_path_and_its_hash_when_recorded() -> None:
    doc = _fixture("host-daemon-json-mode-644", "pass-0600.json")
    (line,) = sources(['files["/etc/docker/daemon.json"].mode'], doc)
    assert line.startswith("read: lstat of /etc/docker/daemon.json, field ")
    assert line.endswith('.mode = "0600"')
    doc["data"]["files"]["/etc/docker/daemon.json"]["sha256"] = "cd" * 32
    assert f"(sha256 {'cd' * 32})" in sources(['files["/etc/docker/daemon.json"]'], doc)[0]
    doc["data"]["root"] = "/mnt/offline"
    assert (
        "lstat of /mnt/offline/etc/docker/daemon.json"
        in sources(['files["/etc/docker/daemon.json"]'], doc)[0]
    )


def test_audit_rules_name_the_kernel_list_or_the_files_with_hashes() -> None:
    doc = _fixture("host-audit-docker-sock", "pass-loaded.json")
    audit = doc["data"]["audit"]
    audit.update(source="kernel", loaded={"read": "auditctl -l"})
    assert "the rules loaded in the kernel: auditctl -l" in sources(["audit.rules"], doc)[0]
    audit.update(
        source="files", files=[{"path": "/etc/audit/rules.d/d.rules", "sha256": "ef" * 32}]
    )
    line = sources(["audit.rules"], doc)[0]
    assert f"/etc/audit/rules.d/d.rules (sha256 {'ef' * 32})" in line
    assert "whether they are loaded cannot be seen" in line


def test_image_and_registry_sources() -> None:
    doc = _fixture("image-user-not-root", "pass-uid-1000.json")
    (line,) = sources(["config.User"], doc)
    assert f"the image config blob {doc['data']['id']} of {doc['data']['reference']}" in line
    secrets = sources(["secrets"], _fixture("image-no-secrets", "pass-none.json"))[0]
    assert "tar headers" in secrets and "diff_ids sha256:" not in secrets
    reg = _fixture("registry-pull-not-anonymous", "pass-401.json")
    pull = reg["data"]["anonymous"]["pull"]
    want = f"HTTP GET {reg['data']['url']}/v2/{pull['repository']}/manifests/{pull['tag']} without"
    assert want in sources(["anonymous.pull"], reg)[0]


def test_absent_and_long_values() -> None:
    doc = _fixture("container-privileged-disabled", "pass-captured-defaults.json")
    gone = copy.deepcopy(doc)
    del gone["data"]["HostConfig"]["Privileged"]
    assert sources(["HostConfig.Privileged"], gone)[0].endswith("= (absent)")
    long = sources(["HostConfig"], doc)[0]
    assert long.endswith("…") and len(long.partition(" = ")[2]) == VALUE_CHARS
    assert sources(["HostConfig.Privileged"], None) == []
