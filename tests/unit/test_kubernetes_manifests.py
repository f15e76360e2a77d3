"""deploy/kubernetes: every manifest is valid against the Kubernetes API schemas (kubernetes-
validate, strict: an unknown field is an error), on the oldest and the newest version we
claim; the validator itself refuses a manifest with a misspelt field or a wrong type (so
these tests can fail); and the security settings the README promises are the ones in the
files (nothing written on the node, no capability, the key and the bundles read-only where
they are only read)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT, missing

K8S = ROOT / "deploy" / "kubernetes"
# the Kubernetes versions the manifests are checked against (README: "tested against")
VERSIONS = ("1.30", "1.37")


def _validator() -> Any:
    try:
        import kubernetes_validate
    except ImportError:
        missing("kubernetes-validate (the deploy-test extra; scripts/test-setup.sh installs it)")
    return kubernetes_validate


def _manifests() -> dict[str, list[dict[str, Any]]]:
    return {
        p.name: [d for d in yaml.safe_load_all(p.read_text()) if d is not None]
        for p in sorted(K8S.glob("*.yaml"))
        if p.name != "kustomization.yaml"
    }


def _objects() -> list[dict[str, Any]]:
    return [d for docs in _manifests().values() for d in docs]


def _by_kind(kind: str) -> dict[str, Any]:
    [obj] = [d for d in _objects() if d["kind"] == kind]
    return obj


def _pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    if obj["kind"] == "CronJob":
        return dict(obj["spec"]["jobTemplate"]["spec"]["template"]["spec"])
    return dict(obj["spec"]["template"]["spec"])


def test_the_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == sorted(_manifests())
    assert {i["name"] for i in kustomization["images"]} == {
        c["image"] for o in _objects() if "spec" in o for c in _containers(o)
    }


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    if obj["kind"] not in ("DaemonSet", "CronJob", "Job", "Deployment"):
        return []
    spec = _pod_spec(obj)
    return [*spec.get("initContainers", []), *spec["containers"]]


@pytest.mark.parametrize("version", VERSIONS)
def test_every_manifest_is_valid_against_the_kubernetes_schemas(version: str) -> None:
    kv = _validator()
    objects = _objects()
    assert {o["kind"] for o in objects} == {
        "Namespace",
        "PersistentVolumeClaim",
        "DaemonSet",
        "CronJob",
    }
    for obj in objects:
        kv.validate(obj, version, strict=True)


def _spoiled(path: tuple[str, ...], key: str, value: Any) -> dict[str, Any]:
    obj = copy.deepcopy(_by_kind("DaemonSet"))
    node = obj
    for p in path:
        node = node[p]
    node[key] = value
    return obj


@pytest.mark.parametrize(
    ("spoil", "why"),
    [
        ((("spec", "template", "spec"), "hostPIDD", True), "Additional properties"),
        ((("spec", "template"), "spec", {"volumes": []}), "'containers' is a required property"),
        ((("spec", "updateStrategy"), "type", 3), "is not of type 'string'"),
    ],
)
def test_the_validator_refuses_a_spoiled_manifest(spoil: tuple[Any, ...], why: str) -> None:
    kv = _validator()
    obj = _spoiled(*spoil)
    with pytest.raises(kv.ValidationError, match=why):
        kv.validate(obj, VERSIONS[-1], strict=True)


def test_every_container_writes_nothing_and_keeps_no_capability() -> None:
    workloads = [o for o in _objects() if _containers(o)]
    assert len(workloads) == 2
    for obj in workloads:
        spec = _pod_spec(obj)
        assert spec["automountServiceAccountToken"] is False, obj["metadata"]["name"]
        assert not spec.get("hostPID") and not spec.get("hostIPC"), obj["metadata"]["name"]
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for c in _containers(obj):
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, c["name"]
            assert sc["allowPrivilegeEscalation"] is False, c["name"]
            assert sc["privileged"] is False, c["name"]
            assert sc["capabilities"] == {"drop": ["ALL"]}, c["name"]


def _volumes(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in _pod_spec(obj)["volumes"]}


def _mounts(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    [container] = _containers(obj)
    return {m["mountPath"]: m for m in container["volumeMounts"]}


def test_the_collector_reads_the_node_and_writes_only_its_bundle() -> None:
    ds = _by_kind("DaemonSet")
    volumes, mounts = _volumes(ds), _mounts(ds)
    host_paths = {n: v["hostPath"]["path"] for n, v in volumes.items() if "hostPath" in v}
    assert host_paths == {"host": "/", "docker-sock": "/var/run/docker.sock"}
    assert mounts["/host"]["readOnly"] is True
    assert mounts["/host"]["name"] == "host"
    assert volumes["keys"]["secret"]["defaultMode"] == 0o400
    assert mounts["/etc/assessor/keys"]["readOnly"] is True
    # everything the container may write is a volume of the pod's own, bounded
    writable = {p for p, m in mounts.items() if not m.get("readOnly")}
    assert writable == {
        "/var/run/docker.sock",
        "/bundles",
        "/var/cache/assessor",
        "/tmp",
        "/var/lib/assessor",
    }
    for p in writable - {"/var/run/docker.sock", "/bundles"}:
        assert volumes[mounts[p]["name"]]["emptyDir"]["sizeLimit"], p
    [script] = _containers(ds)[0]["args"]
    assert "assessor collect host:/host engine:unix:///var/run/docker.sock -o" in script


def test_the_ingest_job_reads_the_bundles_read_only_as_nobody() -> None:
    job = _by_kind("CronJob")
    spec, volumes, mounts = _pod_spec(job), _volumes(job), _mounts(job)
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] != 0
    assert mounts["/bundles"]["readOnly"] is True
    assert volumes["bundles"]["persistentVolumeClaim"]["readOnly"] is True
    assert not any("hostPath" in v or "secret" in v for v in volumes.values())
    assert job["spec"]["concurrencyPolicy"] == "Forbid"
    [script] = _containers(job)[0]["args"]
    assert "assessor ingest --trust /etc/assessor/trust/signing-cert.pem" in script


def test_the_namespace_is_the_only_privileged_one() -> None:
    ns = _by_kind("Namespace")
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    assert {o["metadata"].get("namespace", o["metadata"]["name"]) for o in _objects()} == {
        ns["metadata"]["name"]
    }
