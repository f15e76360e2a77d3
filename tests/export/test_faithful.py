"""SARIF, JUnit, CSV and JSON of a real assessment with containers and images (issue 19).

One engine with two labelled containers of the test image, this host and the sample image,
scanned twice by the real CLI. Checked here:

- SARIF: every result has a physical location (what GitHub code scanning needs to show it:
  ``github_shown`` applies the ingestion rules of GitHub's "SARIF support for code scanning"
  page), files where the rule read one, the same fingerprints in both scans, counts per
  status and per framework equal to the stored results; Microsoft's SARIF multitool (its
  GitHub rules) finds nothing to object to when it is installed;
- JUnit: one case per rule and resource, (classname, name) unique, counts by status equal;
- CSV and JSON: assessment, system, period, target and resource on every row, and the same
  counts per framework as the stored results.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from lxml import etree

from assessor.catalog import load_catalog
from assessor.export.data import ExportData, load
from assessor.export.sarif import render_sarif
from assessor.store import open_store
from tests.conftest import ROOT, SOCKET, Docker, missing, run_cli

STATUSES = ("fail", "error", "waived", "manual", "pass", "not_applicable")
MULTITOOL_ENV = "SARIF_MULTITOOL"  # path of Sarif.Multitool (npm @microsoft/sarif-multitool)
MULTITOOL = ROOT / "build/tools/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool"


@dataclass
class Scans:
    db: str
    ids: list[str]
    containers: list[str]  # the names of the two labelled containers
    tmp: Path

    def data(self, n: int = -1) -> ExportData:
        store = open_store(self.db)
        try:
            return load(store, load_catalog(), self.ids[n], with_bodies=True)
        finally:
            store.close()

    def export(self, fmt: str, n: int = -1) -> Path:
        out = self.tmp / f"{n}.{fmt}"
        r = run_cli("export", self.ids[n], "--format", fmt, "-o", str(out), db=self.db)
        assert r.code == 0, r.err
        return out

    def stored(self, n: int = -1) -> list[dict[str, Any]]:
        r = run_cli("results", self.ids[n], "--format", "json", db=self.db)
        assert r.code == 0, r.err
        out: list[dict[str, Any]] = r.json()["results"]
        return out


@pytest.fixture(scope="module")
def scans(docker: Docker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scans]:
    """The scans, with the module's two containers removed after it (other modules count the
    session's labelled containers)."""
    names = [f"{name}-{docker.label[:8]}" for name in ("faithful-web", "faithful-db")]
    try:
        yield _scans(docker, tmp_path_factory)
    finally:
        docker("rm", "-f", *names, check=False)


def _scans(docker: Docker, tmp_path_factory: pytest.TempPathFactory) -> Scans:
    if not os.path.exists(SOCKET):
        missing("dockerd's socket")
    tmp = tmp_path_factory.mktemp("faithful")
    image = tmp / "sample-image"
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "sample_image.py"), str(image)],
        check=True,
        capture_output=True,
    )
    names = []
    for name in ("faithful-web", "faithful-db"):
        docker.create(name, start=True)
        names.append(f"{name}-{docker.label[:8]}")
    db = f"sqlite:///{tmp / 'assessor.db'}"
    targets = ["host:/", f"image:oci:{image}", f"engine:unix://{SOCKET}"]
    ids = []
    for _ in range(2):
        scan = run_cli("scan", *targets, "--system", "faithful", "--format", "json", db=db)
        assert scan.code in (0, 1), scan.err
        ids.append(str(scan.json()["assessment"]["id"]))
    fails = [r for r in Scans(db, ids, names, tmp).stored() if r["status"] == "fail"]
    image_fail = next(r for r in fails if r["rule"].startswith("image-"))
    expires = (datetime.now(UTC).date() + timedelta(days=200)).isoformat()
    w = run_cli(
        "waive", image_fail["rule"], "--reason", "accepted", "--approver", "CISO",
        "--expires", expires, "--system", "faithful", db=db,
    )  # fmt: skip
    assert w.code == 0, w.err
    return Scans(db, ids, names, tmp)


def model_counts(data: ExportData) -> dict[str, Counter[str]]:
    """The read model's counts (overall and per framework), zeros and unreferenced frameworks
    left out, in the shape of ``shown_counts``."""
    out = {"*": Counter({k: v for k, v in data.result_counts().items() if v})}
    for fw in data.frameworks:
        counts = Counter({k: v for k, v in data.result_counts(fw).items() if v})
        if counts:
            out[fw] = counts
    return out


def shown_counts(results: list[dict[str, Any]]) -> dict[str, Counter[str]]:
    """Results by status, overall ("*") and per framework they reference."""
    out: dict[str, Counter[str]] = {"*": Counter()}
    for r in results:
        out["*"][r["status"]] += 1
        for fw in r["references"]:
            out.setdefault(fw, Counter())[r["status"]] += 1
    return out


# --- what GitHub code scanning shows: its documented ingestion rules -----------------------


class Rejected(Exception):
    """GitHub would reject the whole upload."""


def github_shown(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The results GitHub code scanning would show, by the rules of its page "SARIF support
    for code scanning": required properties (an empty string counts as absent), a result is
    shown only when its first location has a ``physicalLocation`` with an artifact URI, an
    absolute URI must be a ``file:`` one (the checkout root's scheme) or the upload is
    rejected, and the limits of its "Validating your SARIF file" table."""
    if doc.get("version") != "2.1.0" or not doc.get("$schema") or not doc.get("runs"):
        raise Rejected("sarifLog: $schema, version 2.1.0 and runs are required")
    if len(doc["runs"]) > 20:
        raise Rejected("more than 20 runs")
    shown = []
    for run in doc["runs"]:
        driver = run["tool"]["driver"]
        if not driver.get("name"):
            raise Rejected("tool.driver.name is required")
        rules = driver.get("rules") or []
        for rule in rules:
            for key in ("shortDescription", "fullDescription", "help"):
                if not (rule.get(key) or {}).get("text"):
                    raise Rejected(f"rule {rule.get('id')}: {key}.text is required")
            if len(rule["fullDescription"]["text"]) > 1024 < len(rule["shortDescription"]["text"]):
                raise Rejected(f"rule {rule['id']}: description over 1024 characters")
            if len((rule.get("properties") or {}).get("tags") or []) > 20:
                raise Rejected(f"rule {rule['id']}: more than 20 tags")
        if len(run.get("results") or []) > 25_000:
            raise Rejected("more than 25,000 results in a run")
        for result in run.get("results") or []:
            locations = result.get("locations") or []
            if len(locations) > 1000:
                raise Rejected("more than 1,000 locations in a result")
            for loc in locations:
                uri = ((loc.get("physicalLocation") or {}).get("artifactLocation") or {}).get("uri")
                if uri and urlsplit(uri).scheme not in ("", "file"):
                    raise Rejected(f"absolute URI of another scheme than file: {uri}")
            if not (result.get("message") or {}).get("text"):
                continue
            if not (result.get("partialFingerprints") or {}).get("primaryLocationLineHash"):
                continue  # the upload action would compute one from the file: not ours
            first = (locations[0].get("physicalLocation") or {}) if locations else {}
            if (first.get("artifactLocation") or {}).get("uri"):
                shown.append(result)
    return shown


def test_github_reader_shows_only_results_with_a_physical_location() -> None:
    """The reader is strict where GitHub is: a logical-only location shows nothing, another
    URI scheme rejects the file."""
    result = {
        "ruleId": "r",
        "message": {"text": "m"},
        "locations": [{"logicalLocations": [{"fullyQualifiedName": "engine:x/web"}]}],
        "partialFingerprints": {"primaryLocationLineHash": "0123456789abcdef:1"},
    }
    rule = {
        "id": "r",
        "shortDescription": {"text": "s"},
        "fullDescription": {"text": "f"},
        "help": {"text": "h"},
    }
    doc: dict[str, Any] = {
        "$schema": "x",
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "t", "rules": [rule]}}, "results": [result]}],
    }
    assert github_shown(doc) == []
    result["locations"][0]["physicalLocation"] = {"artifactLocation": {"uri": "container/web"}}
    assert github_shown(doc) == [result]
    result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] = "docker://web"
    with pytest.raises(Rejected):
        github_shown(doc)


def test_sarif_every_result_is_shown_with_a_location(scans: Scans) -> None:
    stored = scans.stored()
    for every in (False, True):
        doc = json.loads(render_sarif(scans.data(), every_result=every))
        run = doc["runs"][0]
        wanted = [r for r in stored if every or r["status"] in ("fail", "waived")]
        assert len(run["results"]) == len(wanted) > 0
        assert len(github_shown(doc)) == len(run["results"])
        bases = run["originalUriBaseIds"]
        logical = run["logicalLocations"]
        for r in run["results"]:
            (loc,) = r["locations"][:1]
            art = loc["physicalLocation"]["artifactLocation"]
            assert art["uriBaseId"] in bases and not urlsplit(art["uri"]).scheme
            assert ".." not in art["uri"].split("/")
            (ref,) = loc["logicalLocations"]
            entry = logical[ref["index"]]
            target, resource = r["properties"]["target"], r["properties"]["resource"]
            fqn = target if resource == "*" else f"{target}::{resource}"
            assert entry["fullyQualifiedName"] == ref["fullyQualifiedName"] == fqn
            assert entry["kind"] == (
                r["properties"]["target_kind"]
                if resource == "*"
                else r["properties"]["resource_kind"]
            )
    # the two containers' results are there, under the engine, as containers
    kinds = {
        (r["properties"]["resource"].split(" (")[0], r["properties"]["resource_kind"])
        for r in run["results"]
    }
    assert {(name, "container") for name in scans.containers} <= kinds


def test_sarif_files_come_from_the_evidence(scans: Scans) -> None:
    """Host rules about one file point at it under the host root; audit rules at the audit
    rules file; image file rules at the path inside the image."""
    doc = json.loads(render_sarif(scans.data(), every_result=True))
    run = doc["runs"][0]
    bases = run["originalUriBaseIds"]
    catalog = load_catalog()
    by_rule: dict[str, list[tuple[str, str]]] = {}
    for r in run["results"]:
        art = r["locations"][0]["physicalLocation"]["artifactLocation"]
        by_rule.setdefault(r["ruleId"], []).append((art["uriBaseId"], art["uri"]))
    host_root = next(k for k, v in bases.items() if k.startswith("HOSTROOT"))
    assert bases[host_root]["uri"] == "file:///"
    for rule_id, evidence in (
        ("host-docker-sock-mode-660", "/var/run/docker.sock"),
        ("host-etc-docker-mode-755", "/etc/docker"),
    ):
        assert f'files["{evidence}"].mode' in catalog.rules[rule_id].evidence
        assert by_rule[rule_id] == [(host_root, evidence.lstrip("/"))]
    unit = list(by_rule["host-docker-service-mode-644"])
    assert unit[0][0] == host_root and unit[0][1].endswith("systemd/system/docker.service")
    audit = {
        uri for rid, locs in by_rule.items() if rid.startswith("host-audit-") for _, uri in locs
    }
    # the audit rules file auditd loads (where a watch is, or is to be added), when there is one
    data = scans.data()
    host = next(r for r in data.results if r.rule.startswith("host-audit-") and r.evidence)
    body = data.evidence_document(host.evidence) or {}
    rules_files = [f["path"] for f in body["data"]["audit"]["files"]]
    if rules_files:
        assert audit and all(u.startswith("etc/audit/") for u in audit), audit
    else:
        assert audit == {"host/" + host.resource}
    # the sample image's world-writable directory and secret file, inside the image
    image_files = {
        (bases[b]["description"]["text"], uri)
        for rid in ("image-no-world-writable", "image-no-secrets")
        for b, uri in by_rule[rid]
        if b.startswith("IMAGE")
    }
    assert {uri for _, uri in image_files} >= {"app/uploads", "app/.env"}
    # a container result has a virtual path under its engine target
    container = next(r for r in run["results"] if r["properties"]["resource_kind"] == "container")
    art = container["locations"][0]["physicalLocation"]["artifactLocation"]
    assert art["uri"].startswith("container/")
    assert bases[art["uriBaseId"]]["uri"] == f"engine:unix://{SOCKET}/"


def test_sarif_every_rule_about_one_host_file_points_at_it(scans: Scans) -> None:
    """Read from the catalog, not a table: every host rule whose evidence names one file
    (``files["/x"]...``) has, on every result, that file under the host root."""
    from assessor.evaluate.paths import parse_path

    catalog = load_catalog()
    expected: dict[str, str] = {}
    for rule in catalog.rules.values():
        named = {
            str(parts[1])
            for parts in map(parse_path, rule.evidence)
            if parts[:1] == ("files",) and len(parts) > 1
        }
        if rule.target.value == "host" and len(named) == 1:
            expected[rule.id] = named.pop().lstrip("/")
    assert len(expected) >= 8
    doc = json.loads(render_sarif(scans.data(), every_result=True))
    run = doc["runs"][0]
    seen = set()
    for r in run["results"]:
        if r["ruleId"] in expected and r["properties"]["status"] != "error":
            art = r["locations"][0]["physicalLocation"]["artifactLocation"]
            assert art["uriBaseId"].startswith("HOSTROOT"), r["ruleId"]
            assert art["uri"] == expected[r["ruleId"]]
            seen.add(r["ruleId"])
    assert len(seen) >= 8


def test_sarif_counts_per_status_and_framework(scans: Scans) -> None:
    doc = json.loads(render_sarif(scans.data(), every_result=True))
    results = [
        {"status": r["properties"]["status"], "references": r["properties"]["references"]}
        for r in doc["runs"][0]["results"]
    ]
    assert shown_counts(results) == shown_counts(scans.stored()) == model_counts(scans.data())
    kinds = Counter((r["properties"]["status"], r["kind"]) for r in doc["runs"][0]["results"])
    expected_kind = {
        "fail": "fail", "waived": "fail", "error": "open", "manual": "review",
        "pass": "pass", "not_applicable": "notApplicable",
    }  # fmt: skip
    assert all(expected_kind[status] == kind for status, kind in kinds)
    waived = [r for r in doc["runs"][0]["results"] if r["properties"]["status"] == "waived"]
    assert waived and all(r["suppressions"][0]["status"] == "accepted" for r in waived)


def test_sarif_fingerprints_are_stable_across_scans(scans: Scans) -> None:
    runs = [json.loads(render_sarif(scans.data(n), every_result=True))["runs"][0] for n in (0, 1)]
    prints = [
        {
            (r["ruleId"], r["properties"]["target"], r["properties"]["resource"]): (
                r["partialFingerprints"]["assessorResult/v1"],
                r["partialFingerprints"]["primaryLocationLineHash"],
                r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            )
            for r in run["results"]
        }
        for run in runs
    ]
    common = prints[0].keys() & prints[1].keys()
    # other sessions' containers may come and go between the scans; the host, the image and
    # our two containers stay, and every one of their results is in both scans
    ours = {
        key
        for key in prints[1]
        if not key[1].startswith("engine:") or any(c in key[2] for c in scans.containers)
    }
    assert ours <= common and len(ours) > 100
    for container in scans.containers:
        assert sum(container in resource for _, _, resource in ours) > 10
    assert all(prints[0][k] == prints[1][k] for k in common)
    hashes = [v[1] for v in prints[1].values()]
    assert len(set(hashes)) == len(hashes)
    assert {r["guid"] for r in runs[0]["results"]}.isdisjoint(r["guid"] for r in runs[1]["results"])


def multitool() -> str:
    path = os.environ.get(MULTITOOL_ENV) or (str(MULTITOOL) if MULTITOOL.exists() else None)
    path = path or shutil.which("sarif")
    if not path:
        missing(
            "Microsoft's SARIF multitool (npm install --prefix build/tools "
            "@microsoft/sarif-multitool@5.7.0, or SARIF_MULTITOOL=path)"
        )
    assert path is not None
    return path


def validate(tool: str, sarif: Path, kind: str) -> Counter[tuple[str, str]]:
    """What the multitool's rules of ``kind`` (Gh: GitHub's ingestion rules; Sarif: the
    spec's) report on ``sarif``: (rule id, level) counted."""
    log = sarif.with_name(f"{sarif.stem}-{kind}.log.sarif")
    proc = subprocess.run(
        [tool, "validate", str(sarif), "--rule-kind", kind, "-o", str(log),
         "--log", "ForceOverwrite"],
        capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "DOTNET_SYSTEM_GLOBALIZATION_INVARIANT": "1"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = json.loads(log.read_text("utf-8-sig"))
    return Counter(
        (r["ruleId"], r.get("level", "warning")) for r in out["runs"][0].get("results", [])
    )


def assert_accepted(tool: str, sarif: Path) -> None:
    """Nothing from the GitHub rules; from the SARIF rules no error, and no warning but
    SARIF2017 (no region: a virtual path has no lines)."""
    assert validate(tool, sarif, "Gh") == Counter()
    found = validate(tool, sarif, "Sarif")
    assert {rule for rule, _ in found} <= {"SARIF2017"}, found
    assert all(level != "error" for _, level in found)


def test_sarif_multitool_github_rules_find_nothing(scans: Scans, tmp_path: Path) -> None:
    tool = multitool()
    sarif = tmp_path / "every.sarif"
    sarif.write_bytes(render_sarif(scans.data(), every_result=True))
    assert_accepted(tool, sarif)
    sarif.write_bytes(render_sarif(scans.data()))
    assert_accepted(tool, sarif)
    # and the tool does complain about a result without a location
    doc = json.loads(sarif.read_text())
    del doc["runs"][0]["results"][0]["locations"]
    sarif.write_text(json.dumps(doc))
    assert ("GH1015", "error") in validate(tool, sarif, "Gh")


def test_sarif_multitool_accepts_hostile_names(tmp_path: Path) -> None:
    """Resources and files named with quotes, controls, bidi marks and emoji: the URIs stay
    well formed (the resource is only ever a %-encoded segment of a relative reference)."""
    from tests.export.test_sarif import HOSTILE, _synthetic
    from tests.reportdata import make_assessment

    tool = multitool()
    db = f"sqlite:///{tmp_path / 'hostile.db'}"
    aid, _ = make_assessment(db, 2, label=HOSTILE, system=HOSTILE)
    store = open_store(db)
    try:
        data = load(store, load_catalog(), str(aid), with_bodies=True)
        for name, body in (
            ("hostile.sarif", render_sarif(data, every_result=True)),
            ("synthetic.sarif", render_sarif(_synthetic(load_catalog()), every_result=True)),
        ):
            (tmp_path / name).write_bytes(body)
            assert_accepted(tool, tmp_path / name)
    finally:
        store.close()


# --- JUnit -------------------------------------------------------------------------------


def test_junit_names_are_unique_and_readable(scans: Scans) -> None:
    root = etree.parse(str(scans.export("junit"))).getroot()
    cases = list(root.iter("testcase"))
    keys = [(c.get("classname"), c.get("name")) for c in cases]
    assert len(keys) == len(set(keys)) == len(scans.stored())
    names = [name or "" for _, name in keys]
    assert not any(name in ("*", "vm") or "\n" in name for name in names)
    assert any(name.endswith("[whole host]") for name in names)
    for container in scans.containers:
        assert any(f"[{container} (" in name for name in names), container
    # every case's name starts with its rule and its properties say what it judged
    for case in cases:
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        assert (case.get("name") or "").startswith(f"{props['rule']} [")
        assert case.get("classname") == case.getparent().get("name")


def test_junit_counts_by_status_and_framework(scans: Scans) -> None:
    root = etree.parse(str(scans.export("junit"))).getroot()
    results = []
    for case in root.iter("testcase"):
        props = {p.get("name") or "": p.get("value") or "" for p in case.iter("property")}
        child = next((c.tag for c in case if c.tag != "properties"), None)
        skipped = case.find("skipped")
        status = {"failure": "fail", "error": "error", None: "pass"}.get(child)
        if skipped is not None:
            message = skipped.get("message") or ""
            status = next(
                s for s, p in (("waived", "waived: "), ("manual", "manual: "),
                               ("not_applicable", "not applicable: ")) if message.startswith(p)
            )  # fmt: skip
        assert status == props["status"]
        refs = {
            k.removeprefix("reference:"): v.split(",")
            for k, v in props.items()
            if k.startswith("reference:")
        }
        results.append({"status": status, "references": refs})
    assert shown_counts(results) == shown_counts(scans.stored()) == model_counts(scans.data())


# --- CSV and JSON ------------------------------------------------------------------------


def test_csv_and_json_rows_name_the_assessment(scans: Scans) -> None:
    data = scans.data()
    a = data.assessment
    rows = list(csv.DictReader(io.StringIO(scans.export("csv").read_text())))
    doc = json.loads(scans.export("json").read_text())
    assert len(rows) == len(doc["results"]) == len(data.results) > 0
    for row, res in zip(rows, doc["results"], strict=True):
        for key in ("assessment_id", "assessment_uuid", "system", "period"):
            assert row[key] == str(
                a[key.removeprefix("assessment_")] if key.startswith("assessment") else a[key]
            )
            assert str(res[key]) == row[key]
        assert row["system"] == "faithful" and row["period"] == a["period"]
        for key in ("target", "target_kind", "resource", "resource_kind", "rule", "status"):
            assert row[key] == res[key] and row[key]
    targets = {t.uri: t.kind for t in data.targets}
    assert all(targets[r["target"]] == r["target_kind"] for r in rows)
    containers = [r for r in rows if r["resource_kind"] == "container"]
    assert containers and all(r["target_kind"] == "engine" for r in containers)
    # per-framework counts from the CSV's references column are the stored ones
    parsed = [
        {
            "status": r["status"],
            "references": {
                part.split(":", 1)[0]: part.split(":", 1)[1].split(",")
                for part in r["references"].split("; ") if part
            },
        }
        for r in rows
    ]  # fmt: skip
    assert shown_counts(parsed) == shown_counts(doc["results"]) == model_counts(data)
